#include "controller/group_metrics.hpp"

#include <cctype>

namespace elector::controller {

namespace {

// Failovers take milliseconds; a possibly-alive leader's takes a lease
// duration (seconds to a minute).
const std::vector<double> failover_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const std::vector<double> reconcile_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

}  // namespace

group_metrics::group_metrics(metrics::registry& r)
    : registry_(r),
      transitions_(r.counter("elector_leader_transitions_total",
                             "Leadership changes of a group, by reason (deleted, terminating, crashed, not_ready, "
                             "lease_expired, rollout, preferred, drift, initial, ...).",
                             {"namespace", "group", "reason"})),
      leader_(r.gauge("elector_group_leader", "1 for the pod that leads the group.", {"namespace", "group", "pod"})),
      term_(r.gauge("elector_group_term", "The group's fencing term (the Lease's leaseTransitions + 1).",
                    {"namespace", "group"})),
      candidates_(r.gauge("elector_group_candidates", "The group's candidate pods: eligible, and in total.",
                          {"namespace", "group", "state"})),
      has_leader_(r.gauge("elector_group_has_leader", "1 while an eligible pod leads the group and its Lease is renewed.",
                          {"namespace", "group"})),
      failover_(r.histogram("elector_failover_duration_seconds",
                            "From the reconcile that saw a fault to the new leader labelled, by reason.", {"reason"},
                            failover_buckets)),
      reconcile_(r.histogram("elector_reconcile_duration_seconds", "Time one reconcile of a group takes.", {},
                             reconcile_buckets)),
      reconcile_errors_(r.counter("elector_reconcile_errors_total",
                                  "Reconciles that failed and were retried with backoff.", {})) {}

std::string group_metrics::metric_reason(std::string_view t) {
    if (t == "Elected") return "initial";
    if (t == "LeaseEdited" || t == "TermRepaired") return "drift";
    if (t.starts_with("Leader")) t.remove_prefix(6);
    std::string out;
    for (char c : t) {
        if (std::isupper(static_cast<unsigned char>(c))) {
            if (!out.empty()) out += '_';
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out.empty() ? "unknown" : out;
}

void group_metrics::observe(const std::string& ns, const std::string& group, const std::string& previous,
                            const election::plan& p) {
    // The leader's series: only the current one.
    if (!previous.empty() && previous != p.leader) leader_.remove({ns, group, previous});
    if (!p.leader.empty()) leader_.with({ns, group, p.leader})->set(1);
    term_.with({ns, group})->set(static_cast<double>(p.status.term));
    candidates_.with({ns, group, "eligible"})->set(p.status.candidates_ready);
    candidates_.with({ns, group, "total"})->set(p.status.candidates_total);
    const auto* elected = p.status.find(election::conditions::leader_elected);
    has_leader_.with({ns, group})->set(elected != nullptr && elected->status == "True" ? 1 : 0);
}

void group_metrics::transition(const std::string& ns, const std::string& group, const election::transition& t,
                               double seconds) {
    const std::string reason = metric_reason(t.reason);
    transitions_.with({ns, group, reason})->inc();
    if (reason != "initial" && reason != "lease_changed") failover_.with({reason})->observe(seconds);
}

void group_metrics::reconciled(double seconds, bool ok) {
    reconcile_.with({})->observe(seconds);
    if (!ok) reconcile_errors_.with({})->inc();
}

void group_metrics::blocked(const std::string& ns, const std::string& group) {
    has_leader_.with({ns, group})->set(0);
}

void group_metrics::forget(const std::string& ns, const std::string& group) {
    registry_.remove_matching({{"namespace", ns}, {"group", group}});
}

}  // namespace elector::controller
