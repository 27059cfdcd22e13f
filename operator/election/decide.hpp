#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "election/group.hpp"
#include "kube/objects.hpp"

// The election, as a pure function: decide(snapshot) -> plan. The controller
// gathers the snapshot from its caches and carries the plan out in order
// (demote, lease, promote, status); nothing here does IO or reads a clock.
namespace elector::election {

// What a pod is, for the election.
enum class pod_state {
    eligible,        // may lead: Running, Ready, not terminating, node Ready, not opted out
    confirmed_gone,  // cannot be leading any more: hand over at once
    possibly_alive,  // not eligible, but may still be running leader work
};
std::string_view to_string(pod_state s);

struct pod_assessment {
    pod_state state = pod_state::possibly_alive;
    // Why it is not eligible, CamelCase, used as the transition reason when it
    // loses leadership: Deleted, NotCandidate, Terminating, Failed, Succeeded,
    // Crashed, OptedOut (confirmed gone); NotReady, NodeNotReady, NodeUnknown,
    // Pending (possibly alive). Empty when eligible.
    std::string reason;
    std::string detail;  // one human sentence, e.g. "container app restarted (1 -> 2)"
};

// One pod of the target Deployment, with what the caches know around it.
struct candidate {
    kube::pod pod;
    // The pod's node: Ready=True / Ready=False / unknown (no Ready condition,
    // Unknown, or no such Node in the cache).
    std::optional<bool> node_ready;
    // The pod's ReplicaSet is the Deployment's current revision.
    bool current_revision = false;
};

// Sum of the restart counts of the pod's regular containers.
std::int64_t restarts(const kube::pod& p);

// Classifies a pod. `restart_baseline`: the pod's restarts() when elector
// first saw it lead (nullopt: no baseline; only a container terminated, or
// waiting with the pod not Ready, counts as a crash then).
//   confirmed gone: deletionTimestamp on a Ready node; phase Failed/Succeeded;
//     a regular container crashed (restarts above the baseline, or state
//     terminated, or state waiting while the pod is not Ready); opted out
//     with elector.dev/candidate=false.
//   possibly alive: node NotReady or unknown (this wins over terminating),
//     phase Pending/Unknown, Ready not True.
pod_assessment assess(const candidate& c, std::optional<std::int64_t> restart_baseline);

// The order in which eligible pods become leader: current revision first,
// then Ready the longest (earliest Ready transition; unknown last), then name.
bool leads_before(const candidate& a, const candidate& b);

struct snapshot {
    std::string group_name;
    group_spec spec;             // validated
    group_status status;         // as last written (term, leader)
    std::int64_t generation = 0;
    std::vector<candidate> candidates;  // every pod of the target Deployment
    // The Lease named spec.lease_name, if it exists.
    std::optional<kube::lease> lease;
    // A pod named like the Lease's holder that is not a candidate (a pod of
    // another Deployment, or one orphaned by a relabel): demoted if labelled.
    std::optional<kube::pod> stray_holder;
    // How long the Lease record has been unchanged, on elector's monotonic
    // clock: since elector wrote it or saw it change, or since elector first
    // saw it (after a restart). Zero when there is no Lease.
    std::chrono::milliseconds lease_unchanged_for{0};
    // elector has neither written this Lease nor seen it change since it
    // started: an eligible holder is renewed at once (readers may have been
    // counting towards expiry while elector was away).
    bool first_sight = false;
    // How long elector has seen the holder not eligible (zero: it was
    // eligible until now). A possibly-alive holder is replaced only when both
    // this and lease_unchanged_for reach leaseDuration: never earlier than a
    // client-go reader would find the Lease expired, and never earlier than
    // leaseDuration after elector stopped renewing it.
    std::chrono::milliseconds holder_unhealthy_for{0};
    std::optional<std::int64_t> holder_restart_baseline;  // see assess()
    kube::time_point now;  // wall clock, for the times written
};

struct pod_patch {
    std::string name;
    std::string resource_version;  // precondition
    std::int64_t term = 0;         // promote: the term to stamp
};

struct transition {
    std::string from;    // "" when there was no holder
    std::string to;
    std::int64_t term = 0;
    std::string reason;  // Elected, LeaderDeleted, LeaderCrashed, LeaderNotReady, LeaseExpired, ...
    std::string message;
};

struct plan {
    // Step 1: pods other than the leader-to-be that carry the leader label or
    // the term annotation: remove both.
    std::vector<pod_patch> demote;
    // Step 2: the Lease to write (create when snapshot.lease is empty, else
    // update with the snapshot's resourceVersion as precondition).
    std::optional<kube::lease> lease;
    bool create_lease = false;
    bool renewal = false;  // the write only renews (same holder and term)
    // Step 3: label the leader and stamp its term.
    std::optional<pod_patch> promote;
    // Step 4: the status to write, and the leadership change it reports.
    group_status status;
    std::optional<transition> change;
    // When to look again even if nothing changes (next renewal, or the
    // possibly-alive holder's lease expiry). nullopt: only on change.
    std::optional<std::chrono::milliseconds> requeue_after;
    // The holder after this plan and its term; the state of the holder
    // before it (eligible when there was none).
    std::string leader;
    std::int64_t term = 0;
    pod_state holder_state = pod_state::eligible;
};

// The whole election for one group; see the README's "Semantics".
plan decide(const snapshot& s);

// The status for a group whose spec is invalid or whose target is missing:
// conditions say why; leader, term and lease name are kept.
group_status blocked_status(const group_status& current, std::int64_t generation, std::string_view reason,
                            std::string_view message, bool invalid_spec, kube::time_point now);

// Sets a condition as metav1.Condition rules want: lastTransitionTime moves
// only when status changes.
void set_condition(std::vector<condition>& conditions, condition c, kube::time_point now);

}  // namespace elector::election
