#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/error.hpp"
#include "kube/transport.hpp"

namespace elector::kube {

using json = nlohmann::json;

// A kind's REST coordinates.
struct resource {
    std::string group;    // "" for the core API
    std::string version;
    std::string plural;
    bool namespaced = true;

    // "/api/v1/namespaces/ns/pods/name/status" (parts left empty are left out).
    [[nodiscard]] std::string path(const std::string& ns = "", const std::string& name = "",
                                   const std::string& subresource = "") const;
};

// The kinds elector reads and writes.
namespace resources {
inline const resource pods{"", "v1", "pods", true};
inline const resource nodes{"", "v1", "nodes", false};
inline const resource events{"", "v1", "events", true};
inline const resource namespaces{"", "v1", "namespaces", false};
inline const resource deployments{"apps", "v1", "deployments", true};
inline const resource replicasets{"apps", "v1", "replicasets", true};
inline const resource leases{"coordination.k8s.io", "v1", "leases", true};
inline const resource electiongroups{"elector.dev", "v1alpha1", "electiongroups", true};
}  // namespace resources

struct call_options {
    priority prio = priority::normal;
    std::optional<std::chrono::milliseconds> timeout;
    // Send only if the client-side rate limit has a token free now; else
    // fail at once with throttled_locally() and send nothing (for writes a
    // caller retries later rather than wait for, such as status).
    bool defer_if_throttled = false;
};

struct list_options {
    std::string label_selector;
    std::string field_selector;
    std::int64_t limit = 0;        // 0: no paging
    std::string continue_token;
    std::string resource_version;  // "" = most recent (quorum read); "0" = any (from the watch cache)
};

struct list_result {
    std::vector<json> items;
    std::string resource_version;  // of the list: watch from here
    std::string continue_token;    // "" when this was the last page
};

struct watch_options {
    std::string resource_version;
    std::string label_selector;
    std::string field_selector;
    bool allow_bookmarks = true;
    std::optional<int> timeout_seconds;                    // the server ends the watch after this
    std::optional<std::chrono::milliseconds> idle_timeout;  // the client gives up after this much silence
    std::stop_token stop;
};

enum class watch_event_type { added, modified, deleted, bookmark };

struct watch_event {
    watch_event_type type;
    json object;
};

struct delete_options {
    std::optional<std::string> precondition_uid;
    std::optional<std::string> precondition_resource_version;
    std::optional<std::string> propagation_policy;  // Foreground, Background, Orphan
    std::optional<std::int64_t> grace_period_seconds;
};

enum class patch_type {
    merge,            // application/merge-patch+json (RFC 7386)
    json_patch,       // application/json-patch+json (RFC 6902)
    strategic_merge,  // application/strategic-merge-patch+json (built-in kinds only)
};

// What a client and the informers built on it report, for metrics. Any
// may be empty. Called on the requesting thread: keep them cheap.
struct client_observer {
    // After every request: the Kubernetes verb (get, list, watch, create,
    // update, patch, delete), the HTTP status (0: no answer arrived) and
    // how long it took (a watch: how long it streamed).
    std::function<void(std::string_view verb, int status, std::chrono::steady_clock::duration took)> request;
    // An informer's watch ended with an error and is started again.
    std::function<void(std::string_view resource)> watch_restarted;
    // An informer lists everything again (after 410 Gone, or when it cannot
    // resume its watch), not counting its first list.
    std::function<void(std::string_view resource)> relisted;
};

// The Kubernetes API verbs over any resource path, JSON in and out.
class client {
public:
    explicit client(std::shared_ptr<transport> t, client_observer observer = {})
        : transport_(std::move(t)), observer_(std::move(observer)) {}

    result<json> get(const resource& r, const std::string& ns, const std::string& name,
                     const call_options& o = {}) const;
    // One page; follow continue_token for the next.
    result<list_result> list(const resource& r, const std::string& ns, const list_options& options = {},
                             const call_options& o = {}) const;
    // Every page (limit = page size), as one consistent snapshot.
    result<list_result> list_all(const resource& r, const std::string& ns, list_options options = {},
                                 const call_options& o = {}) const;
    result<json> create(const resource& r, const std::string& ns, const json& object, const call_options& o = {}) const;
    // PUT: fails with Conflict when object.metadata.resourceVersion is stale.
    result<json> update(const resource& r, const json& object, const call_options& o = {}) const;
    result<json> update_status(const resource& r, const json& object, const call_options& o = {}) const;
    result<json> patch(const resource& r, const std::string& ns, const std::string& name, patch_type type,
                       const json& patch, const std::string& subresource = "", const call_options& o = {}) const;
    // The server's answer: the object (graceful or with finalizers) or a Status.
    result<json> remove(const resource& r, const std::string& ns, const std::string& name,
                        const delete_options& options = {}, const call_options& o = {}) const;

    // Streams events until the server closes the watch (success), on_event
    // returns false or options.stop is requested (success), or an error,
    // including an ERROR event (Gone after a compaction: relist).
    result<void> watch(const resource& r, const std::string& ns, const watch_options& options,
                       const std::function<bool(watch_event&&)>& on_event) const;

    // GET /version: {"major", "minor", "gitVersion", ...}.
    result<json> server_version(const call_options& o = {}) const;

    [[nodiscard]] transport& raw() const { return *transport_; }
    [[nodiscard]] const client_observer& observer() const { return observer_; }

private:
    result<json> call(std::string_view verb, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& content_type, const call_options& o) const;
    void observe(std::string_view verb, int status, std::chrono::steady_clock::time_point started) const;
    std::shared_ptr<transport> transport_;
    client_observer observer_;
};

// Decodes one line of a watch stream. ERROR events come back as their error.
result<watch_event> decode_watch_event(std::string_view line);

// Percent-encoding for a query parameter value.
std::string url_encode(std::string_view s);

}  // namespace elector::kube
