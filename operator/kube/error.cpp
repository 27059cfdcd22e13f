#include "kube/error.hpp"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace elector::kube {

namespace {

std::optional<error_kind> kind_from_reason(std::string_view reason) {
    static constexpr std::pair<std::string_view, error_kind> table[] = {
        {"NotFound", error_kind::not_found},
        {"AlreadyExists", error_kind::already_exists},
        {"Conflict", error_kind::conflict},
        {"Gone", error_kind::gone},
        {"Expired", error_kind::gone},
        {"Invalid", error_kind::invalid},
        {"BadRequest", error_kind::bad_request},
        {"Unauthorized", error_kind::unauthorized},
        {"Forbidden", error_kind::forbidden},
        {"MethodNotAllowed", error_kind::method_not_allowed},
        {"NotAcceptable", error_kind::unsupported},
        {"RequestEntityTooLarge", error_kind::unsupported},
        {"UnsupportedMediaType", error_kind::unsupported},
        {"TooManyRequests", error_kind::too_many_requests},
        {"Timeout", error_kind::timeout},
        {"ServerTimeout", error_kind::timeout},
        {"InternalError", error_kind::server_error},
        {"ServiceUnavailable", error_kind::server_error},
    };
    for (const auto& [name, kind] : table) {
        if (name == reason) return kind;
    }
    return std::nullopt;
}

error_kind kind_from_code(int code) {
    switch (code) {
        case 400: return error_kind::bad_request;
        case 401: return error_kind::unauthorized;
        case 403: return error_kind::forbidden;
        case 404: return error_kind::not_found;
        case 405: return error_kind::method_not_allowed;
        case 406:
        case 413:
        case 415: return error_kind::unsupported;
        case 409: return error_kind::conflict;
        case 410: return error_kind::gone;
        case 422: return error_kind::invalid;
        case 429: return error_kind::too_many_requests;
        case 504: return error_kind::timeout;
        default: return code >= 500 && code <= 599 ? error_kind::server_error : error_kind::other;
    }
}

std::optional<std::chrono::seconds> parse_seconds(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v < 0) return std::nullopt;
    return std::chrono::seconds(std::min(v, 3600LL));
}

std::string string_field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// Fills reason, message, causes and retry_after from a metav1.Status; false
// if `status` is not one.
bool apply_status(const nlohmann::json& status, api_error& e) {
    if (!status.is_object() || string_field(status, "kind") != "Status") return false;
    e.reason = string_field(status, "reason");
    e.message = string_field(status, "message");
    if (auto code = status.find("code"); code != status.end() && code->is_number_integer() && e.http_status == 0) {
        e.http_status = code->get<int>();
    }
    if (auto details = status.find("details"); details != status.end() && details->is_object()) {
        if (auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
            for (const auto& c : *causes) {
                if (!c.is_object()) continue;
                e.causes.push_back({string_field(c, "reason"), string_field(c, "message"), string_field(c, "field")});
            }
        }
        if (auto ra = details->find("retryAfterSeconds"); ra != details->end() && ra->is_number_integer()) {
            e.retry_after = std::chrono::seconds(std::clamp(ra->get<long long>(), 0LL, 3600LL));
        }
    }
    return true;
}

}  // namespace

std::string_view to_string(error_kind kind) {
    switch (kind) {
        case error_kind::not_found: return "NotFound";
        case error_kind::already_exists: return "AlreadyExists";
        case error_kind::conflict: return "Conflict";
        case error_kind::gone: return "Gone";
        case error_kind::invalid: return "Invalid";
        case error_kind::bad_request: return "BadRequest";
        case error_kind::unauthorized: return "Unauthorized";
        case error_kind::forbidden: return "Forbidden";
        case error_kind::method_not_allowed: return "MethodNotAllowed";
        case error_kind::unsupported: return "Unsupported";
        case error_kind::too_many_requests: return "TooManyRequests";
        case error_kind::timeout: return "Timeout";
        case error_kind::server_error: return "ServerError";
        case error_kind::connection: return "ConnectionError";
        case error_kind::tls: return "TLSError";
        case error_kind::decode: return "DecodeError";
        case error_kind::other: return "Error";
    }
    return "Error";
}

bool api_error::retryable() const {
    switch (kind) {
        case error_kind::too_many_requests:
        case error_kind::timeout:
        case error_kind::server_error:
        case error_kind::connection: return true;
        default: return false;
    }
}

std::string api_error::to_string() const {
    std::string out(kube::to_string(kind));
    if (http_status != 0) out += fmt::format(" ({})", http_status);
    out += ": ";
    out += message.empty() ? "no message" : message;
    for (const auto& c : causes) {
        if (!c.field.empty() && message.find(c.field) != std::string::npos) continue;  // already in the message
        out += fmt::format("; {}{}", c.field.empty() ? "" : "field " + c.field + ": ", c.message);
    }
    if (retry_after) out += fmt::format(" (retry after {}s)", retry_after->count());
    return out;
}

api_error error_from_response(int http_status, std::string_view body, std::string_view retry_after_header) {
    api_error e;
    e.http_status = http_status;
    auto status = nlohmann::json::parse(body, nullptr, false);
    if (!apply_status(status, e)) {
        // Not a Status (a proxy's HTML page, plain text): keep a bounded excerpt.
        constexpr std::size_t max_excerpt = 300;
        e.message = body.empty() ? fmt::format("HTTP {} with an empty body", http_status)
                                 : std::string(body.substr(0, max_excerpt));
    }
    auto by_reason = kind_from_reason(e.reason);
    e.kind = by_reason ? *by_reason : kind_from_code(http_status);
    if (auto header = parse_seconds(retry_after_header)) e.retry_after = header;
    return e;
}

api_error error_from_status_json(std::string_view status_json) {
    api_error e;
    auto status = nlohmann::json::parse(status_json, nullptr, false);
    if (!apply_status(status, e)) {
        return make_error(error_kind::decode, fmt::format("not a metav1.Status: {}", status_json.substr(0, 200)));
    }
    auto by_reason = kind_from_reason(e.reason);
    e.kind = by_reason ? *by_reason : kind_from_code(e.http_status);
    return e;
}

api_error make_error(error_kind kind, std::string message) {
    api_error e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
}

}  // namespace elector::kube
