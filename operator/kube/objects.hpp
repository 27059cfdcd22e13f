#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/time.hpp"

// Compact, typed views of the Kubernetes objects elector reads and writes.
//
// Every from_json accepts any JSON without throwing: a field of the wrong type
// counts as absent and gets its default. Only the identity fields
// (metadata.name, metadata.uid, metadata.resourceVersion and, for namespaced
// kinds, metadata.namespace) are required; without them from_json returns an
// error such as "pod: metadata.uid missing or not a string".
namespace elector::kube {

using json = nlohmann::json;

// A label or annotation map, sorted by key.
using labels = std::vector<std::pair<std::string, std::string>>;

// The value of `key`, or nullptr; `l` must be sorted by key.
const std::string* find_label(const labels& l, std::string_view key);
// Sorts by key for find_label; of duplicate keys the last one stays.
void sort_labels(labels& l);

struct owner_reference {
    std::string api_version;
    std::string kind;
    std::string name;
    std::string uid;
    bool controller = false;

    bool operator==(const owner_reference&) const = default;
};

struct object_meta {
    std::string name;
    std::string namespace_;
    std::string uid;
    std::string resource_version;
    std::int64_t generation = 0;
    std::optional<time_point> creation_timestamp;
    std::optional<time_point> deletion_timestamp;
    kube::labels labels;
    kube::labels annotations;
    std::vector<owner_reference> owner_references;
    std::vector<std::string> finalizers;

    // The owner with controller=true, or nullptr.
    [[nodiscard]] const owner_reference* controller_owner() const;

    // `metadata` is the object's metadata; `kind` prefixes error messages.
    static std::expected<object_meta, std::string> from_json(const json& metadata, std::string_view kind,
                                                             bool namespaced);

    bool operator==(const object_meta&) const = default;
};

enum class container_state { waiting, running, terminated, unknown };

struct container_status {
    std::string name;
    bool ready = false;
    std::int32_t restart_count = 0;
    container_state state = container_state::unknown;
    std::string state_reason;  // state.waiting.reason or state.terminated.reason
    bool last_terminated = false;  // lastState.terminated is present
    std::optional<time_point> last_terminated_at;  // lastState.terminated.finishedAt

    bool operator==(const container_status&) const = default;
};

struct pod {
    object_meta meta;
    std::string node_name;
    std::string phase;
    std::optional<bool> ready;  // condition Ready: True/False; nullopt when absent or Unknown
    std::optional<time_point> ready_since;  // its lastTransitionTime, when True
    std::string pod_ip;
    std::optional<time_point> start_time;
    // status.containerStatuses of the containers in spec.containers (no init or
    // ephemeral containers; an entry for a name the spec does not declare is left out)
    std::vector<container_status> containers;

    [[nodiscard]] const owner_reference* controller_owner() const { return meta.controller_owner(); }

    static std::expected<pod, std::string> from_json(const json& object);

    bool operator==(const pod&) const = default;
};

struct deployment {
    object_meta meta;
    std::int32_t replicas = 1;
    kube::labels selector_match_labels;
    bool has_match_expressions = false;  // a non-empty selector.matchExpressions: matchLabels alone says too little
    std::vector<std::string> selector_expression_keys;  // the keys selector.matchExpressions uses
    kube::labels template_labels;
    std::int32_t min_ready_seconds = 0;
    std::string strategy_type = "RollingUpdate";
    std::int64_t revision = 0;  // annotation deployment.kubernetes.io/revision; 0 if absent or not a number
    std::int64_t observed_generation = 0;
    bool paused = false;

    static std::expected<deployment, std::string> from_json(const json& object);

    bool operator==(const deployment&) const = default;
};

struct replica_set {
    object_meta meta;
    std::int64_t revision = 0;  // annotation deployment.kubernetes.io/revision
    std::int32_t replicas = 1;
    kube::labels template_labels;

    [[nodiscard]] const owner_reference* controller_owner() const { return meta.controller_owner(); }

    static std::expected<replica_set, std::string> from_json(const json& object);

    bool operator==(const replica_set&) const = default;
};

struct taint {
    std::string key;
    std::string effect;

    bool operator==(const taint&) const = default;
};

struct node {
    object_meta meta;  // cluster-scoped: no namespace
    std::optional<bool> ready;  // condition Ready: True/False; nullopt when absent or Unknown
    bool unschedulable = false;
    std::vector<taint> taints;

    static std::expected<node, std::string> from_json(const json& object);

    bool operator==(const node&) const = default;
};

// A coordination.k8s.io/v1 Lease, as client-go's leader election keeps it.
struct lease {
    object_meta meta;
    std::string holder_identity;  // empty: released
    std::int32_t lease_duration_seconds = 0;
    std::optional<time_point> acquire_time;
    std::optional<time_point> renew_time;
    std::int32_t lease_transitions = 0;

    static std::expected<lease, std::string> from_json(const json& object);
    // The object to create or update: name, namespace, resourceVersion (when
    // set), labels, annotations and ownerReferences (when any) and the spec,
    // times as MicroTime.
    [[nodiscard]] json to_json() const;

    bool operator==(const lease&) const = default;
};

// A core/v1 ObjectReference.
struct object_reference {
    std::string api_version;
    std::string kind;
    std::string name;
    std::string namespace_;
    std::string uid;
    std::string resource_version;
};

struct event_spec {
    std::string namespace_;  // empty: the involved object's, else "default"
    object_reference involved;
    std::string type = "Normal";  // or "Warning"
    std::string reason;
    std::string message;
    std::string reporting_controller = "elector";
    std::string reporting_instance;
    time_point now;
    std::int32_t count = 1;
};

inline constexpr std::size_t max_event_message_bytes = 1024;

// A core/v1 Event to create, as client-go's record package writes one
// (firstTimestamp/lastTimestamp, no eventTime); the server names it from
// generateName. The message is cut to max_event_message_bytes at a UTF-8
// boundary, invalid UTF-8 replaced by U+FFFD.
json make_event(const event_spec& spec);

}  // namespace elector::kube
