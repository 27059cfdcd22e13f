#pragma once

#include <string>
#include <string_view>

#include "election/decide.hpp"
#include "metrics/registry.hpp"

namespace elector::controller {

// The metrics of the groups a leading elector runs. Only the leading replica
// has series (standbys export none, so sums across replicas are not
// doubled); a group's series go when the group does.
class group_metrics {
public:
    explicit group_metrics(metrics::registry& r);

    // After a reconcile carried out `p` for the group: the leader, term,
    // candidates and whether a leader is elected and renewed. `previous`:
    // the leader before (its series goes when another pod leads).
    void observe(const std::string& ns, const std::string& group, const std::string& previous,
                 const election::plan& p);
    // A leadership change, with how long it took from the reconcile that
    // saw the fault to the new leader's label (seconds).
    void transition(const std::string& ns, const std::string& group, const election::transition& t, double seconds);
    void reconciled(double seconds, bool ok);
    // The group cannot run (invalid, no target, a conflict): no leader.
    void blocked(const std::string& ns, const std::string& group);
    // The group is gone (deleted, or out of scope): every series of it.
    void forget(const std::string& ns, const std::string& group);

    // elector_leader_transitions_total's reason label for a transition reason:
    // LeaderDeleted -> deleted, LeaderNotReady -> not_ready, Rollout -> rollout,
    // LeaseEdited/TermRepaired -> drift, Elected -> initial, ...
    static std::string metric_reason(std::string_view transition_reason);

private:
    metrics::registry& registry_;
    metrics::counter_family& transitions_;
    metrics::gauge_family& leader_;
    metrics::gauge_family& term_;
    metrics::gauge_family& candidates_;
    metrics::gauge_family& has_leader_;
    metrics::histogram_family& failover_;
    metrics::histogram_family& reconcile_;
    metrics::counter_family& reconcile_errors_;
};

}  // namespace elector::controller
