#include "webhook/admission.hpp"

#include <utility>

#include <fmt/format.h>

namespace elector::webhook {

namespace {

// How much of a value an error message quotes.
constexpr std::size_t max_quoted_bytes = 128;

std::string dump_safely(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A value as an error message shows it: compact JSON, cut short.
std::string describe(const json& j) { return truncate_utf8(dump_safely(j), max_quoted_bytes); }

std::string_view type_name(const json& j) { return j.type_name(); }

// Deepest nesting of arrays and objects in `body`, scanning no further than
// one level past `limit`. Brackets inside strings do not count.
std::size_t nesting_depth(std::string_view body, std::size_t limit) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (const char c : body) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        switch (c) {
            case '"': in_string = true; break;
            case '{':
            case '[':
                if (++depth > deepest) deepest = depth;
                if (deepest > limit) return deepest;
                break;
            case '}':
            case ']':
                if (depth > 0) --depth;
                break;
            default: break;
        }
    }
    return deepest;
}

const json* member(const json& object, const char* key) {
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

// An optional string member of `object` (at `path` in messages): "" when
// absent or null, an error when of another type.
std::expected<std::string, std::string> optional_string(const json& object, const char* key, std::string_view path) {
    const json* j = member(object, key);
    if (j == nullptr) return std::string{};
    if (!j->is_string()) return std::unexpected(fmt::format("{}: want a string, got {} {}", path, type_name(*j), describe(*j)));
    return j->get<std::string>();
}

std::expected<admission_request, std::string> decode(const json& review) {
    if (!review.is_object()) {
        return std::unexpected(fmt::format("not an AdmissionReview: the body is a JSON {}, not an object",
                                           type_name(review)));
    }
    const json* api_version = member(review, "apiVersion");
    if (api_version == nullptr || !api_version->is_string()) {
        return std::unexpected(fmt::format("not an AdmissionReview: apiVersion missing or not a string, want {}",
                                           review_api_version));
    }
    if (api_version->get_ref<const std::string&>() != review_api_version) {
        return std::unexpected(fmt::format(
            "AdmissionReview apiVersion {} is not supported: want {} (admissionReviewVersions: [v1])",
            describe(*api_version), review_api_version));
    }
    const json* kind = member(review, "kind");
    if (kind == nullptr || !kind->is_string() || kind->get_ref<const std::string&>() != review_kind) {
        return std::unexpected(fmt::format("not an AdmissionReview: kind is {}, want {}",
                                           kind == nullptr ? std::string("missing") : describe(*kind), review_kind));
    }
    const json* request = member(review, "request");
    if (request == nullptr) return std::unexpected(std::string("AdmissionReview without a request"));
    if (!request->is_object()) {
        return std::unexpected(fmt::format("AdmissionReview request is a JSON {}, not an object", type_name(*request)));
    }
    const json& q = *request;

    admission_request r;
    auto uid = optional_string(q, "uid", "request.uid");
    if (!uid) return std::unexpected(std::move(uid.error()));
    if (uid->empty()) return std::unexpected(std::string("AdmissionReview request without a uid"));
    r.uid = std::move(*uid);

    if (const json* k = member(q, "kind")) {
        if (!k->is_object()) {
            return std::unexpected(fmt::format("request.kind: want an object, got {} {}", type_name(*k), describe(*k)));
        }
        auto group = optional_string(*k, "group", "request.kind.group");
        if (!group) return std::unexpected(std::move(group.error()));
        auto version = optional_string(*k, "version", "request.kind.version");
        if (!version) return std::unexpected(std::move(version.error()));
        auto kind_name = optional_string(*k, "kind", "request.kind.kind");
        if (!kind_name) return std::unexpected(std::move(kind_name.error()));
        r.group = std::move(*group);
        r.version = std::move(*version);
        r.kind = std::move(*kind_name);
    }
    auto operation = optional_string(q, "operation", "request.operation");
    if (!operation) return std::unexpected(std::move(operation.error()));
    r.operation = std::move(*operation);
    auto ns = optional_string(q, "namespace", "request.namespace");
    if (!ns) return std::unexpected(std::move(ns.error()));
    r.ns = std::move(*ns);
    auto name = optional_string(q, "name", "request.name");
    if (!name) return std::unexpected(std::move(name.error()));
    r.name = std::move(*name);
    if (const json* o = member(q, "object")) r.object = *o;
    if (const json* o = member(q, "oldObject")) r.old_object = *o;
    if (const json* d = member(q, "dryRun")) {
        if (!d->is_boolean()) {
            return std::unexpected(fmt::format("request.dryRun: want true or false, got {}", describe(*d)));
        }
        r.dry_run = d->get<bool>();
    }
    return r;
}

}  // namespace

std::string truncate_utf8(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    std::size_t cut = max_bytes;
    // Back up over continuation bytes (10xxxxxx) to the start of a character.
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) --cut;
    std::string out(s.substr(0, cut));
    out += "...";
    return out;
}

std::string json_pointer_escape(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (const char c : token) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U) |
                       (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
                       static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
        out += alphabet[(n >> 18U) & 63U];
        out += alphabet[(n >> 12U) & 63U];
        out += alphabet[(n >> 6U) & 63U];
        out += alphabet[n & 63U];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        unsigned n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U;
        if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
        out += alphabet[(n >> 18U) & 63U];
        out += alphabet[(n >> 12U) & 63U];
        out += rest == 2 ? alphabet[(n >> 6U) & 63U] : '=';
        out += '=';
    }
    return out;
}

std::expected<admission_request, std::string> decode_review(std::string_view body) {
    if (nesting_depth(body, max_review_depth) > max_review_depth) {
        return std::unexpected(fmt::format("request body nests deeper than {} levels", max_review_depth));
    }
    // The parser reports why and where; with exceptions off it would not.
    try {
        const json review = json::parse(body.begin(), body.end());
        return decode(review);
    } catch (const json::exception& e) {
        return std::unexpected(fmt::format("request body is not JSON: {}", truncate_utf8(e.what(), 256)));
    }
}

std::string encode_review(const admission_response& r) {
    json response = json::object();
    response["uid"] = r.uid;
    response["allowed"] = r.allowed;
    if (!r.allowed) {
        response["status"] = {{"code", r.code}, {"reason", r.reason}, {"message", r.message}};
    } else if (r.patch.is_array() && !r.patch.empty()) {
        response["patchType"] = "JSONPatch";
        response["patch"] = base64_encode(dump_safely(r.patch));
    }
    if (!r.warnings.empty()) response["warnings"] = r.warnings;
    const json review{{"apiVersion", review_api_version}, {"kind", review_kind}, {"response", std::move(response)}};
    return dump_safely(review);
}

}  // namespace elector::webhook
