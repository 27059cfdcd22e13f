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

// The pod carries the group's leader label.
bool labelled(const kube::pod& p, const group_spec& spec);
// The pod carries the leader label or a term annotation: a demote removes both.
bool marked(const kube::pod& p, const group_spec& spec);

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
    // The target Deployment's minReadySeconds: a pod of the current revision
    // takes over from an old-revision leader (Rollout) only once it has been
    // Ready this long (pod.ready_since + min_ready_seconds <= now).
    std::int32_t min_ready_seconds = 0;
    // Time since elector last handed over because of spec.preferredLeader
    // (nullopt: not since it started). Another preference-driven handover
    // waits until this reaches leaseDuration.
    std::optional<std::chrono::milliseconds> since_preferred_handover;
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
    // Elected; Leader<assessment reason> (LeaderDeleted, LeaderCrashed,
    // LeaderTerminating, LeaderNotReady under Immediate, ...); LeaseExpired;
    // Rollout; Preferred; LeaseEdited (the Lease was edited to name another
    // eligible candidate: labels follow it); TermRepaired; LeaseChanged.
    std::string reason;
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
    // Whether that look may hand leadership over (a lease expiry, a rollout
    // or switchover due): it goes ahead of plain renewals, which are not.
    bool requeue_may_hand_over = false;
    // The holder after this plan and its term; the state of the holder
    // before it (eligible when there was none).
    std::string leader;
    std::int64_t term = 0;
    pod_state holder_state = pod_state::eligible;
    // Drift this plan repairs, one sentence each (for a DriftRepaired Event):
    // the leader label on a pod that does not hold the Lease, a missing label
    // or term on the holder, a Lease deleted or naming a non-candidate while
    // the leader is still eligible. Empty for the ordinary steps of a handover.
    std::vector<std::string> repairs;
    // A preference-driven handover (reason Preferred) is in this plan.
    bool preferred_handover = false;
};

// The whole election for one group; see the README's "Semantics". In order:
//  - No holder (no Lease, or holderIdentity empty), or a holder that is not a
//    candidate and not status.leader (the Lease was edited), while the
//    group's leader (status.leader if eligible, else the first eligible pod
//    that carries the label) is eligible: that leader keeps leading. If it is
//    known to hold status.term (it is status.leader, or its term annotation
//    says so) and the Lease's term does not exceed status.term, in the same
//    term: the Lease is rewritten for it with leaseTransitions =
//    status.term - 1 (a repair, not a transition); else in a new term
//    (TermRepaired; Elected for a labelled pod not on record, not when
//    paused). With no such leader: Elected (successor; paused: nobody).
//  - A holder that is status.leader but no longer a candidate (deleted, or
//    no longer of the target): as a confirmed-gone holder (LeaderDeleted /
//    LeaderNotCandidate).
//  - An eligible holder stays. If the Lease names it with a term the group
//    has already used: when status.leader is another pod, someone edited the
//    Lease: LeaseEdited (a switchover to the named pod, new term); else
//    TermRepaired (same pod, new term). Then, unless paused:
//      Rollout: the holder is not of the current revision and a pod of the
//        current revision has been Ready for min_ready_seconds: hand over to
//        it (spec.preferredLeader first, if it qualifies). Not yet Ready long
//        enough: requeue when it will be.
//      Preferred: spec.preferredLeader names an eligible candidate that is
//        not the holder, and is of the current revision unless the holder is
//        not either: hand over to it, at most once per leaseDuration
//        (since_preferred_handover), and during a rollout only once it has
//        been Ready for min_ready_seconds; too soon: requeue when allowed.
//  - A confirmed-gone holder: hand over at once; a possibly-alive one: at
//    once under Immediate, else when the lease has expired. The successor is
//    spec.preferredLeader if eligible, else the first by leads_before.
//    Paused: no handover; the Lease is not renewed; the holder keeps its
//    label.
// Conditions: Ready and LeaderElected (True/Elected while an eligible pod
// leads; else False with WaitingForLeaseExpiry, NoCandidates,
// NoEligibleCandidate, or Paused when paused keeps a non-eligible holder or
// no leader); InvalidSpec False/SpecValid; Paused True/Paused or
// False/NotPaused.
plan decide(const snapshot& s);

// The status for a group whose spec is invalid or whose target is missing:
// conditions say why; leader, term and lease name are kept.
group_status blocked_status(const group_status& current, std::int64_t generation, std::string_view reason,
                            std::string_view message, bool invalid_spec, kube::time_point now);

// Sets a condition as metav1.Condition rules want: lastTransitionTime moves
// only when status changes.
void set_condition(std::vector<condition>& conditions, condition c, kube::time_point now);

}  // namespace elector::election
