#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "election/decide.hpp"
#include "kube/work_queue.hpp"
#include "metrics/registry.hpp"

namespace elector::controller {

// The election controller's metrics: per group, and of its work queue. Only
// the leading replica has group series (standbys export none, so sums
// across replicas are not doubled); a group's series go when the group does.
class group_metrics {
public:
    // The work queue's depth, adds and retries are read from `queue` at
    // scrape time: it must outlive this object.
    group_metrics(metrics::registry& r, kube::work_queue& queue);

    // After a reconcile carried out `p` for the group: the leader, term,
    // candidates and whether a leader is elected and renewed. `previous`:
    // the leader before (its series goes when another pod leads).
    void observe(const std::string& ns, const std::string& group, const std::string& previous,
                 const election::plan& p);
    // A leadership change, with how long it took from the reconcile that
    // saw the fault to the new leader's label (seconds).
    void transition(const std::string& ns, const std::string& group, const election::transition& t, double seconds);
    void reconciled(double seconds, bool ok);
    // A key waited this long in the work queue before a worker took it.
    void dequeued(std::chrono::steady_clock::duration waited);
    // The group cannot run (invalid, no target, a conflict): no leader.
    void blocked(const std::string& ns, const std::string& group);
    // The group is gone (deleted, or out of scope): every series of it.
    void forget(const std::string& ns, const std::string& group);

    // elector_leader_transitions_total's reason label for a transition
    // reason, one of metric_reasons (else "other"): Elected -> initial,
    // LeaderDeleted -> deleted, LeaderNotCandidate/LeaderOptedOut ->
    // not_candidate, LeaderCrashed/Failed/Succeeded -> crashed,
    // LeaderNotReady/Pending -> not_ready, LeaderNodeNotReady/NodeUnknown ->
    // node_not_ready, LeaseEdited/TermRepaired -> drift, ...
    static std::string_view metric_reason(std::string_view transition_reason);
    // Every reason label. A group's transition series are created at 0 for
    // each when the group is first seen, so that increase() and rate() count
    // a reason's first transition too.
    static std::span<const std::string_view> metric_reasons();

private:
    // Seconds a group has had no leader: the finished intervals, and the
    // start of the current one.
    struct leaderless {
        double past = 0;
        std::optional<std::chrono::steady_clock::time_point> since;
    };
    void set_leaderless(const std::string& ns, const std::string& group, bool without_leader);

    metrics::registry& registry_;
    metrics::counter_family& transitions_;
    metrics::gauge_family& leader_;
    metrics::gauge_family& term_;
    metrics::gauge_family& candidates_;
    metrics::gauge_family& has_leader_;
    metrics::histogram_family& failover_;
    metrics::histogram_family& reconcile_;
    metrics::counter_family& reconcile_errors_;
    metrics::histogram_family& queue_wait_;
    std::mutex mutex_;
    std::map<std::string, leaderless> leaderless_;  // by "namespace/group"
    metrics::collector_registration collector_;  // last: removed first
};

}  // namespace elector::controller
