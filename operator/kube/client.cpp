#include "kube/client.hpp"

#include <fmt/format.h>

namespace elector::kube {

namespace {

// A request body. Strings that are not valid UTF-8 (from a pod's label, say)
// are sent with U+FFFD rather than throwing: the API server answers with a
// clear error if it minds.
std::string body_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string object_name(const json& object) {
    return object.contains("metadata") ? object["metadata"].value("name", "") : "";
}
std::string object_namespace(const json& object) {
    return object.contains("metadata") ? object["metadata"].value("namespace", "") : "";
}

void add_param(std::string& query, std::string_view key, std::string_view value) {
    if (value.empty()) return;
    query += query.empty() ? '?' : '&';
    query += key;
    query += '=';
    query += url_encode(value);
}

result<json> parse_body(const std::string& body, const std::string& what) {
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
        return std::unexpected(make_error(error_kind::decode,
                                          fmt::format("{}: the answer is not JSON: {}", what, body.substr(0, 200))));
    }
    return j;
}

}  // namespace

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string resource::path(const std::string& ns, const std::string& name, const std::string& subresource) const {
    // Appends rather than `"/" + x`: no temporaries on every request's path
    // (and none of g++ 12's false -Wrestrict reports on string concatenation).
    std::string p;
    p.reserve(96);
    p.append(group.empty() ? "/api/" : "/apis/");
    if (!group.empty()) p.append(group).append("/");
    p.append(version);
    if (namespaced && !ns.empty()) p.append("/namespaces/").append(url_encode(ns));
    p.append("/").append(plural);
    if (!name.empty()) p.append("/").append(url_encode(name));
    if (!subresource.empty()) p.append("/").append(subresource);
    return p;
}

void client::observe(std::string_view verb, int status, std::chrono::steady_clock::time_point started) const {
    if (observer_.request) observer_.request(verb, status, std::chrono::steady_clock::now() - started);
}

result<json> client::call(std::string_view verb, const std::string& method, const std::string& path,
                          const std::string& body, const std::string& content_type, const call_options& o) const {
    const auto started = std::chrono::steady_clock::now();
    auto r = transport_->send({method, path, body, content_type, o.prio, o.timeout, o.defer_if_throttled});
    if (!r && throttled_locally(r.error())) return std::unexpected(std::move(r.error()));  // nothing was sent
    observe(verb, r ? r->status : r.error().http_status, started);
    if (!r) return std::unexpected(std::move(r.error()));
    return parse_body(r->body, method + " " + path);
}

result<json> client::get(const resource& r, const std::string& ns, const std::string& name,
                         const call_options& o) const {
    return call("get", "GET", r.path(ns, name), "", "", o);
}

result<json> client::server_version(const call_options& o) const { return call("get", "GET", "/version", "", "", o); }

result<list_result> client::list(const resource& r, const std::string& ns, const list_options& options,
                                 const call_options& o) const {
    std::string query;
    add_param(query, "labelSelector", options.label_selector);
    add_param(query, "fieldSelector", options.field_selector);
    if (options.limit > 0) add_param(query, "limit", std::to_string(options.limit));
    add_param(query, "continue", options.continue_token);
    add_param(query, "resourceVersion", options.resource_version);
    auto body = call("list", "GET", r.path(ns) + query, "", "", o);
    if (!body) return std::unexpected(std::move(body.error()));
    if (!body->is_object() || !body->contains("items") || !(*body)["items"].is_array()) {
        return std::unexpected(make_error(error_kind::decode, "list " + r.path(ns) + ": no items in the answer"));
    }
    list_result out;
    const auto& meta = body->value("metadata", json::object());
    out.resource_version = meta.value("resourceVersion", "");
    out.continue_token = meta.value("continue", "");
    out.items.reserve((*body)["items"].size());
    for (auto& item : (*body)["items"]) out.items.push_back(std::move(item));
    return out;
}

result<list_result> client::list_all(const resource& r, const std::string& ns, list_options options,
                                     const call_options& o) const {
    list_result all;
    while (true) {
        auto page = list(r, ns, options, o);
        if (!page) return std::unexpected(std::move(page.error()));
        if (all.resource_version.empty()) all.resource_version = page->resource_version;
        all.items.insert(all.items.end(), std::make_move_iterator(page->items.begin()),
                         std::make_move_iterator(page->items.end()));
        if (page->continue_token.empty()) return all;
        options.continue_token = page->continue_token;
        options.resource_version.clear();  // the continue token carries the snapshot
    }
}

result<json> client::create(const resource& r, const std::string& ns, const json& object,
                            const call_options& o) const {
    return call("create", "POST", r.path(ns), body_text(object), "application/json", o);
}

result<json> client::update(const resource& r, const json& object, const call_options& o) const {
    return call("update", "PUT", r.path(object_namespace(object), object_name(object)), body_text(object), "application/json", o);
}

result<json> client::update_status(const resource& r, const json& object, const call_options& o) const {
    return call("update", "PUT", r.path(object_namespace(object), object_name(object), "status"), body_text(object),
                "application/json", o);
}

result<json> client::patch(const resource& r, const std::string& ns, const std::string& name, patch_type type,
                           const json& patch, const std::string& subresource, const call_options& o) const {
    const char* content_type = type == patch_type::merge        ? "application/merge-patch+json"
                               : type == patch_type::json_patch ? "application/json-patch+json"
                                                                : "application/strategic-merge-patch+json";
    return call("patch", "PATCH", r.path(ns, name, subresource), body_text(patch), content_type, o);
}

result<json> client::remove(const resource& r, const std::string& ns, const std::string& name,
                            const delete_options& options, const call_options& o) const {
    json body{{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
    if (options.precondition_resource_version) {
        body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
    }
    if (options.propagation_policy) body["propagationPolicy"] = *options.propagation_policy;
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    return call("delete", "DELETE", r.path(ns, name), body_text(body), "application/json", o);
}

result<watch_event> decode_watch_event(std::string_view line) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return std::unexpected(make_error(error_kind::decode,
                                          fmt::format("watch: not a JSON event: {}", line.substr(0, 200))));
    }
    auto type = j.find("type");
    auto object = j.find("object");
    if (type == j.end() || !type->is_string() || object == j.end() || !object->is_object()) {
        return std::unexpected(make_error(error_kind::decode,
                                          fmt::format("watch: event without type or object: {}", line.substr(0, 200))));
    }
    const std::string& t = type->get_ref<const std::string&>();
    watch_event_type kind;
    if (t == "ADDED") {
        kind = watch_event_type::added;
    } else if (t == "MODIFIED") {
        kind = watch_event_type::modified;
    } else if (t == "DELETED") {
        kind = watch_event_type::deleted;
    } else if (t == "BOOKMARK") {
        kind = watch_event_type::bookmark;
    } else if (t == "ERROR") {
        return std::unexpected(error_from_status_json(object->dump()));
    } else {
        return std::unexpected(make_error(error_kind::decode, "watch: unknown event type " + t));
    }
    return watch_event{kind, std::move(*object)};
}

result<void> client::watch(const resource& r, const std::string& ns, const watch_options& options,
                           const std::function<bool(watch_event&&)>& on_event) const {
    std::string query = "?watch=1";
    add_param(query, "resourceVersion", options.resource_version);
    add_param(query, "labelSelector", options.label_selector);
    add_param(query, "fieldSelector", options.field_selector);
    if (options.allow_bookmarks) add_param(query, "allowWatchBookmarks", "true");
    if (options.timeout_seconds) add_param(query, "timeoutSeconds", std::to_string(*options.timeout_seconds));
    std::optional<api_error> failure;
    const auto started = std::chrono::steady_clock::now();
    auto streamed = transport_->stream(
        {"GET", r.path(ns) + query, "", "", priority::normal, std::nullopt},
        [&](std::string_view line) {
            auto event = decode_watch_event(line);
            if (!event) {
                failure = std::move(event.error());
                return false;
            }
            return on_event(std::move(*event));
        },
        {options.stop, options.idle_timeout});
    // An ERROR event or an undecodable line came in a 200 answer.
    observe("watch", streamed ? 200 : streamed.error().http_status, started);
    if (failure) return std::unexpected(std::move(*failure));
    return streamed;
}

}  // namespace elector::kube
