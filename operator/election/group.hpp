#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/objects.hpp"

// The ElectionGroup custom resource (elector.dev/v1alpha1), as elector reads
// it: a compact typed view, its defaults and the checks the CRD schema cannot
// make. Pure: no IO.
namespace elector::election {

using json = nlohmann::json;
using std::chrono::milliseconds;

inline constexpr std::string_view api_group = "elector.dev";
inline constexpr std::string_view api_version = "elector.dev/v1alpha1";
inline constexpr std::string_view kind = "ElectionGroup";

// Annotations and labels elector reads or writes.
inline constexpr std::string_view term_annotation = "elector.dev/term";        // on the leader pod
inline constexpr std::string_view candidate_annotation = "elector.dev/candidate";  // "false": opted out
inline constexpr std::string_view group_label = "elector.dev/group";          // on the Lease: the group's name
inline constexpr std::string_view managed_by_label = "app.kubernetes.io/managed-by";
inline constexpr std::string_view managed_by_value = "elector";
// On every ElectionGroup elector runs: removes the label and term from the
// group's pods and deletes its Lease before the group goes.
inline constexpr std::string_view finalizer = "elector.dev/finalizer";

enum class not_ready_policy { wait_for_lease_expiry, immediate };
std::string_view to_string(not_ready_policy p);

struct target_ref {
    std::string api_version = "apps/v1";
    std::string kind = "Deployment";
    std::string name;
};

struct group_spec {
    election::target_ref target;
    milliseconds lease_duration{15000};
    milliseconds renew_deadline{10000};
    milliseconds retry_period{2000};
    std::string leader_label_key = "role";
    std::string leader_label_value = "leader";
    std::string lease_name;  // defaulted to the group's name by from_json
    not_ready_policy policy = not_ready_policy::wait_for_lease_expiry;
    // Switchover: hand over to this pod whenever it is eligible and not the
    // leader (at most once per leaseDuration). Empty: no preference.
    std::string preferred_leader;
    // Maintenance: elector starts no handover (failover, rollout, preference);
    // an eligible holder is renewed, drift is repaired, the finalizer works.
    bool paused = false;
};

// A metav1.Condition.
struct condition {
    std::string type;
    std::string status;  // "True", "False", "Unknown"
    std::int64_t observed_generation = 0;
    std::optional<kube::time_point> last_transition_time;
    std::string reason;
    std::string message;

    bool operator==(const condition&) const = default;
};

struct group_status {
    std::string leader;
    std::int64_t term = 0;
    std::string lease_name;
    std::int32_t candidates_ready = 0;
    std::int32_t candidates_total = 0;
    std::optional<kube::time_point> last_transition_time;
    std::string last_transition_reason;
    std::int64_t observed_generation = 0;
    std::vector<condition> conditions;

    [[nodiscard]] const condition* find(std::string_view type) const;
    // The status subresource's JSON ("status": {...} content). Conditions in
    // the order given; empty strings and absent times are left out, except a
    // condition's lastTransitionTime, which metav1.Condition requires (the
    // epoch when unknown).
    [[nodiscard]] json to_json() const;
    bool operator==(const group_status&) const = default;
};

struct election_group {
    kube::object_meta meta;
    group_spec spec;
    group_status status;
    // Problems with spec fields as written (a duration that does not parse,
    // an unknown policy), one line each, naming the field; the field keeps
    // its default. validate() adds the cross-field rules.
    std::vector<std::string> spec_errors;
    // Spec fields of the wrong type, which read as absent (spec or targetRef
    // not an object, a name that is a number: a CRD without its schema lets
    // them in), one line each as the admission webhook words them:
    // "spec.targetRef: must be an object, not a string".
    std::vector<std::string> spec_type_errors;

    // Tolerant like kube::pod::from_json: only the identity fields are required.
    static std::expected<election_group, std::string> from_json(const json& object);
};

// The largest term a Lease can record: leaseTransitions is an int32 and the
// term is leaseTransitions + 1. A status.term beyond it (or negative) was not
// written by elector and reads as absent.
inline constexpr std::int64_t max_term = std::int64_t{std::numeric_limits<std::int32_t>::max()} + 1;

// Condition types and reasons.
namespace conditions {
inline constexpr std::string_view ready = "Ready";
inline constexpr std::string_view leader_elected = "LeaderElected";
inline constexpr std::string_view invalid_spec = "InvalidSpec";
inline constexpr std::string_view paused = "Paused";
}  // namespace conditions

// The rules the CRD schema cannot check on Kubernetes 1.20 (and bounds it
// does check, so that a group written when the CRD was older is still
// judged): every problem, one line each naming the field. Empty: valid.
//   leaseDuration: whole seconds, 1s..1h (Lease.spec.leaseDurationSeconds is
//   an integer); retryPeriod >= 100ms; leaseDuration > renewDeadline >
//   1.2 x retryPeriod (client-go's rule); targetRef apps/v1 Deployment with a
//   name; leaderLabel key and value valid label syntax; leaseName a DNS
//   subdomain.
std::vector<std::string> validate(const group_spec& spec);

// Problems with the leader label against the target Deployment: its key must
// not be used by the selector (matchLabels or matchExpressions) nor the pod
// template's labels, since relabelling would orphan pods.
std::vector<std::string> validate_against(const group_spec& spec, const kube::deployment& target);

// Kubernetes syntax checks (apimachinery validation).
bool is_qualified_name(std::string_view s);     // label key: [prefix/]name
bool is_label_value(std::string_view s);        // may be empty
bool is_dns_subdomain(std::string_view s);      // object names such as a Lease's

}  // namespace elector::election
