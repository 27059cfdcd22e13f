#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace elector::kube {

// What went wrong, as client-go's apimachinery/pkg/api/errors tells it:
// from the metav1.Status reason when the server sent one, else from the
// HTTP code, else from the transport.
enum class error_kind {
    not_found,           // 404, NotFound
    already_exists,      // 409, AlreadyExists
    conflict,            // 409, Conflict: stale resourceVersion or failed precondition
    gone,                // 410, Gone/Expired: resourceVersion too old; relist
    invalid,             // 422, Invalid: see causes for the fields
    bad_request,         // 400
    unauthorized,        // 401
    forbidden,           // 403
    method_not_allowed,  // 405
    unsupported,         // 406, 413, 415: the request itself cannot be served
    too_many_requests,   // 429: retry after retry_after
    timeout,             // 504, Timeout/ServerTimeout, or the client's own deadline
    server_error,        // other 5xx, InternalError, ServiceUnavailable
    connection,          // no HTTP answer: refused, reset, DNS, closed mid-response
    tls,                 // TLS handshake or certificate verification failed
    decode,              // the server answered something that is not what the API promises
    other,               // any other status
};

std::string_view to_string(error_kind kind);

struct status_cause {
    std::string reason;   // e.g. FieldValueInvalid
    std::string message;
    std::string field;    // e.g. spec.leaseDurationSeconds
};

struct api_error {
    error_kind kind = error_kind::other;
    int http_status = 0;  // 0 when no HTTP response arrived
    std::string reason;   // metav1.Status reason, if any
    std::string message;
    std::vector<status_cause> causes;
    std::optional<std::chrono::seconds> retry_after;

    // Worth retrying the same request after a backoff: throttling, timeouts,
    // server errors and broken connections. Conflicts are not (re-read first).
    [[nodiscard]] bool retryable() const;
    // One line: "Conflict (409): <message>; field spec.x: <cause message>".
    [[nodiscard]] std::string to_string() const;
};

template <class T>
using result = std::expected<T, api_error>;

// The error for a non-2xx response: parses a metav1.Status body when there is
// one (any body is accepted; a non-Status body becomes the message) and the
// Retry-After header (seconds) or the Status' details.retryAfterSeconds.
api_error error_from_response(int http_status, std::string_view body, std::string_view retry_after_header = {});
// The error of a metav1.Status object, as sent in a watch ERROR event.
api_error error_from_status_json(std::string_view status_json);

api_error make_error(error_kind kind, std::string message);

// A request with call_options::defer_if_throttled that was not sent because
// the client-side rate limit had no token free (no HTTP status).
inline bool throttled_locally(const api_error& e) {
    return e.kind == error_kind::too_many_requests && e.http_status == 0;
}

}  // namespace elector::kube
