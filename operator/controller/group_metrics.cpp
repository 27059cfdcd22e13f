#include "controller/group_metrics.hpp"

namespace elector::controller {

namespace {

// Failovers take milliseconds; a possibly-alive leader's takes a lease
// duration (seconds to a minute).
const std::vector<double> failover_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const std::vector<double> reconcile_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const std::vector<double> queue_buckets{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};

constexpr std::string_view reasons[] = {"initial",     "deleted",        "not_candidate", "terminating",
                                        "crashed",     "not_ready",      "node_not_ready", "lease_expired",
                                        "rollout",     "preferred",      "drift",          "lease_changed"};

// An initial election and a Lease that moved outside this elector are not
// failovers it timed.
bool is_failover(std::string_view reason) { return reason != "initial" && reason != "lease_changed"; }

std::string group_key(const std::string& ns, const std::string& group) { return ns + "/" + group; }

}  // namespace

group_metrics::group_metrics(metrics::registry& r, kube::work_queue& queue)
    : registry_(r),
      transitions_(r.counter("elector_leader_transitions_total",
                             "Leadership changes of a group, by reason (initial, deleted, not_candidate, terminating, "
                             "crashed, not_ready, node_not_ready, lease_expired, rollout, preferred, drift, "
                             "lease_changed).",
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
                                  "Reconciles that failed and were retried with backoff.", {})),
      queue_wait_(r.histogram("elector_workqueue_queue_duration_seconds",
                              "How long a group waited in the work queue before a worker took it.", {}, queue_buckets)) {
    // Every failover reason's series from the start, at 0: otherwise the
    // first failover of a reason is the series' first sample, which rate()
    // and increase() cannot see.
    for (std::string_view reason : reasons) {
        if (is_failover(reason)) failover_.with({reason});
    }
    collector_ = r.scoped_collector([this, &queue](std::vector<metrics::collected_family>& out) {
        const auto q = queue.read_stats();
        out.push_back({.name = "elector_workqueue_depth",
                       .help = "Groups ready in the work queue, waiting for a worker.",
                       .samples = {{{}, static_cast<double>(q.ready)}}});
        out.push_back({.name = "elector_workqueue_adds_total",
                       .help = "Groups added to the work queue (an add while queued counts once).",
                       .type = metrics::metric_type::counter,
                       .samples = {{{}, static_cast<double>(q.adds_total)}}});
        out.push_back({.name = "elector_workqueue_retries_total",
                       .help = "Groups put back in the work queue with backoff after a failed reconcile.",
                       .type = metrics::metric_type::counter,
                       .samples = {{{}, static_cast<double>(q.retries_total)}}});
        metrics::collected_family seconds{.name = "elector_group_leaderless_seconds_total",
                                          .help = "Seconds the group has had no eligible, renewed leader.",
                                          .type = metrics::metric_type::counter,
                                          .label_names = {"namespace", "group"}};
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        seconds.samples.reserve(leaderless_.size());
        for (const auto& [key, l] : leaderless_) {
            const double open = l.since ? std::chrono::duration<double>(now - *l.since).count() : 0.0;
            const auto slash = key.find('/');
            seconds.samples.push_back({{key.substr(0, slash), key.substr(slash + 1)}, l.past + open});
        }
        if (!seconds.samples.empty()) out.push_back(std::move(seconds));
    });
}

std::span<const std::string_view> group_metrics::metric_reasons() { return reasons; }

std::string_view group_metrics::metric_reason(std::string_view t) {
    if (t == "Elected") return "initial";
    if (t == "LeaseEdited" || t == "TermRepaired") return "drift";
    if (t == "LeaseExpired") return "lease_expired";
    if (t == "LeaseChanged") return "lease_changed";
    if (t == "Rollout") return "rollout";
    if (t == "Preferred") return "preferred";
    if (!t.starts_with("Leader")) return "other";
    t.remove_prefix(6);
    if (t == "Deleted") return "deleted";
    if (t == "NotCandidate" || t == "OptedOut") return "not_candidate";
    if (t == "Terminating") return "terminating";
    if (t == "Crashed" || t == "Failed" || t == "Succeeded") return "crashed";
    if (t == "NotReady" || t == "Pending") return "not_ready";
    if (t == "NodeNotReady" || t == "NodeUnknown") return "node_not_ready";
    return "other";
}

void group_metrics::set_leaderless(const std::string& ns, const std::string& group, bool without_leader) {
    const auto now = std::chrono::steady_clock::now();
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        auto [it, inserted] = leaderless_.try_emplace(group_key(ns, group));
        first = inserted;
        auto& l = it->second;
        if (without_leader && !l.since) l.since = now;
        if (!without_leader && l.since) {
            l.past += std::chrono::duration<double>(now - *l.since).count();
            l.since.reset();
        }
    }
    if (first) {
        for (std::string_view reason : reasons) transitions_.with({ns, group, reason});
    }
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
    const bool has_leader = elected != nullptr && elected->status == "True";
    has_leader_.with({ns, group})->set(has_leader ? 1 : 0);
    set_leaderless(ns, group, !has_leader);
}

void group_metrics::transition(const std::string& ns, const std::string& group, const election::transition& t,
                               double seconds) {
    const std::string_view reason = metric_reason(t.reason);
    transitions_.with({ns, group, reason})->inc();
    if (is_failover(reason)) failover_.with({reason})->observe(seconds);
}

void group_metrics::reconciled(double seconds, bool ok) {
    reconcile_.with({})->observe(seconds);
    if (!ok) reconcile_errors_.with({})->inc();
}

void group_metrics::dequeued(std::chrono::steady_clock::duration waited) {
    queue_wait_.with({})->observe(std::chrono::duration<double>(waited).count());
}

void group_metrics::blocked(const std::string& ns, const std::string& group) {
    has_leader_.with({ns, group})->set(0);
    set_leaderless(ns, group, true);
}

void group_metrics::forget(const std::string& ns, const std::string& group) {
    {
        std::lock_guard lock(mutex_);
        leaderless_.erase(group_key(ns, group));
    }
    registry_.remove_matching({{"namespace", ns}, {"group", group}});
}

}  // namespace elector::controller
