#pragma once

// The AdmissionReview v1 codec (admission.k8s.io/v1): what the API server
// POSTs to a webhook and what it expects back. Pure: no IO, never throws.

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace elector::webhook {

using json = nlohmann::json;

inline constexpr std::string_view review_api_version = "admission.k8s.io/v1";
inline constexpr std::string_view review_kind = "AdmissionReview";

// Bodies nesting deeper than this are refused before they are parsed: an
// ElectionGroup review nests about ten levels, and a deep document would
// make recursive code (dump, destruction) use a lot of stack.
inline constexpr std::size_t max_review_depth = 128;

// Why a request was refused (admission_response::rejection), for metrics.
namespace rejections {
inline constexpr std::string_view invalid_spec = "invalid_spec";
inline constexpr std::string_view immutable_field = "immutable_field";
inline constexpr std::string_view duplicate_target = "duplicate_target";
inline constexpr std::string_view label_conflict = "label_conflict";
inline constexpr std::string_view wrong_kind = "wrong_kind";
inline constexpr std::string_view malformed = "malformed";
}  // namespace rejections

// One AdmissionReview v1 request (admission.k8s.io/v1).
struct admission_request {
    std::string uid;
    std::string group, version, kind;  // request.kind
    std::string operation;             // CREATE, UPDATE, DELETE, CONNECT
    std::string ns, name;              // request.namespace / request.name ("" on CREATE with generateName)
    json object;                       // request.object (null if absent)
    json old_object;                   // request.oldObject (null if absent)
    bool dry_run = false;
};

// The body of a POST from the API server. An error (not JSON, not an
// AdmissionReview v1 — apiVersion admission.k8s.io/v1, kind AdmissionReview —,
// no request or uid, a request field of the wrong type) is a message for an
// HTTP 400 answer. request.object and request.oldObject are taken as they
// come (any JSON): validate() and mutate() judge them.
std::expected<admission_request, std::string> decode_review(std::string_view body);

struct admission_response {
    std::string uid;
    bool allowed = true;
    int code = 200;  // status.code when refused: 400 malformed/wrong kind, 403 invalid (shown by kubectl with the message)
    std::string reason;   // status.reason: "Invalid", "BadRequest", "Forbidden" ...
    std::string message;  // status.message: every problem, "; "-joined, each "spec.field: ..."
    json patch;           // RFC 6902 operations (array) or null: then no patch/patchType
    std::vector<std::string> warnings;
    std::string rejection;  // for metrics when refused: invalid_spec, immutable_field, duplicate_target,
                            // label_conflict, wrong_kind, malformed; "" when allowed
};

// AdmissionReview v1 JSON: {"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":..,
// "allowed":..,"status":{"code":..,"reason":..,"message":..} (only when refused),"patchType":"JSONPatch",
// "patch":"<base64 of the JSON patch>" (only with a non-empty patch on an allowed answer),"warnings":[..] (only if
// any)}}. Invalid UTF-8 in any string is replaced by U+FFFD rather than throwing.
std::string encode_review(const admission_response& r);

// Helpers, public for the tests and the server.
// A JSON pointer reference token (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string json_pointer_escape(std::string_view token);
// Standard base64 (RFC 4648 §4) with padding, as the "patch" field wants.
std::string base64_encode(std::string_view bytes);
// `s` cut to at most `max_bytes` bytes at a UTF-8 character boundary, with
// "..." appended when cut (the result is then at most max_bytes + 3 bytes).
std::string truncate_utf8(std::string_view s, std::size_t max_bytes);

}  // namespace elector::webhook
