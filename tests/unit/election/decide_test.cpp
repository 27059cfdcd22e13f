#include "election/decide.hpp"

#include "decide_support.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace elector::election {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

using namespace test_support;

// ---------------------------------------------------------------- restarts(), to_string

TEST(election_decide_assess, restarts_sums_regular_containers) {
    kube::pod p = make_pod("a");
    EXPECT_EQ(restarts(p), 0);
    p.containers = {running_container("app", 3), running_container("proxy", 4), running_container("log", 0)};
    EXPECT_EQ(restarts(p), 7);
    p.containers.clear();
    EXPECT_EQ(restarts(p), 0);
}

TEST(election_decide_assess, state_names_are_distinct) {
    std::set<std::string> names;
    for (pod_state st : {pod_state::eligible, pod_state::confirmed_gone, pod_state::possibly_alive}) {
        EXPECT_FALSE(to_string(st).empty());
        names.emplace(to_string(st));
    }
    EXPECT_EQ(names.size(), 3u);
}

// ---------------------------------------------------------------- assess()

struct assess_case {
    const char* name;
    std::function<void(candidate&)> change;
    std::optional<std::int64_t> baseline;
    pod_state state;
    const char* reason;  // nullptr: not checked
};

TEST(election_decide_assess, every_row_of_the_tables) {
    using enum pod_state;
    const assess_case cases[] = {
        // Eligible.
        {"running and ready", [](candidate&) {}, std::nullopt, eligible, ""},
        {"running and ready, baseline", [](candidate&) {}, 0, eligible, ""},
        {"explicitly a candidate",
         [](candidate& c) { set_annotation(c.pod, std::string(candidate_annotation), "true"); }, std::nullopt,
         eligible, ""},
        {"old revision", [](candidate& c) { c.current_revision = false; }, std::nullopt, eligible, ""},
        {"ready since unknown", [](candidate& c) { c.pod.ready_since.reset(); }, std::nullopt, eligible, ""},
        {"restarts, no baseline", [](candidate& c) { c.pod.containers[0].restart_count = 3; }, std::nullopt,
         eligible, ""},
        {"restarts equal to the baseline", [](candidate& c) { c.pod.containers[0].restart_count = 3; }, 3, eligible,
         ""},
        {"restarts over two containers equal to the baseline",
         [](candidate& c) {
             c.pod.containers = {running_container("app", 2), running_container("proxy", 1)};
         },
         3, eligible, ""},
        {"last state terminated but running again, no baseline",
         [](candidate& c) {
             c.pod.containers[0].restart_count = 1;
             c.pod.containers[0].last_terminated = true;
             c.pod.containers[0].last_terminated_at = now - 1h;
         },
         std::nullopt, eligible, ""},
        // Confirmed gone.
        {"terminating on a Ready node", [](candidate& c) { c.pod.meta.deletion_timestamp = now; }, std::nullopt,
         confirmed_gone, "Terminating"},
        {"terminating and not ready on a Ready node",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.pod.meta.deletion_timestamp = now;
         },
         std::nullopt, confirmed_gone, "Terminating"},
        {"phase Failed",
         [](candidate& c) {
             c.pod.phase = "Failed";
             c.pod.ready = false;
             c.pod.containers[0].state = kube::container_state::terminated;
         },
         std::nullopt, confirmed_gone, "Failed"},
        {"phase Succeeded",
         [](candidate& c) {
             c.pod.phase = "Succeeded";
             c.pod.ready = false;
             c.pod.containers[0].state = kube::container_state::terminated;
             c.pod.containers[0].state_reason = "Completed";
         },
         std::nullopt, confirmed_gone, "Succeeded"},
        {"phase Failed, still marked ready", [](candidate& c) { c.pod.phase = "Failed"; }, std::nullopt,
         confirmed_gone, "Failed"},
        {"restarted above the baseline, ready again", [](candidate& c) { c.pod.containers[0].restart_count = 1; }, 0,
         confirmed_gone, "Crashed"},
        {"restarted above a nonzero baseline", [](candidate& c) { c.pod.containers[0].restart_count = 5; }, 4,
         confirmed_gone, "Crashed"},
        {"sidecar restarted above the baseline",
         [](candidate& c) { c.pod.containers = {running_container("app", 2), running_container("proxy", 1)}; }, 2,
         confirmed_gone, "Crashed"},
        {"crash loop back-off, no baseline", [](candidate& c) { c.pod = crashed(std::move(c.pod)); }, std::nullopt,
         confirmed_gone, "Crashed"},
        {"crash loop back-off, baseline already counts it",
         [](candidate& c) { c.pod = crashed(std::move(c.pod)); }, 1, confirmed_gone, "Crashed"},
        {"container terminated, pod not yet not-ready",
         [](candidate& c) {
             c.pod.containers[0].state = kube::container_state::terminated;
             c.pod.containers[0].state_reason = "Error";
         },
         std::nullopt, confirmed_gone, "Crashed"},
        {"container OOMKilled, pod not ready",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.pod.containers[0].state = kube::container_state::terminated;
             c.pod.containers[0].state_reason = "OOMKilled";
         },
         std::nullopt, confirmed_gone, "Crashed"},
        {"sidecar waiting, pod not ready",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.pod.containers[0].ready = true;
             kube::container_status side{.name = "proxy", .ready = false, .restart_count = 2,
                                         .state = kube::container_state::waiting,
                                         .state_reason = "CrashLoopBackOff", .last_terminated = true};
             c.pod.containers.push_back(side);
         },
         std::nullopt, confirmed_gone, "Crashed"},
        {"opted out", [](candidate& c) { set_annotation(c.pod, std::string(candidate_annotation), "false"); },
         std::nullopt, confirmed_gone, "OptedOut"},
        {"opted out, baseline", [](candidate& c) { set_annotation(c.pod, std::string(candidate_annotation), "false"); },
         0, confirmed_gone, "OptedOut"},
        // Possibly alive.
        {"not ready, containers running", [](candidate& c) { c.pod = not_ready(std::move(c.pod)); }, std::nullopt,
         possibly_alive, "NotReady"},
        {"not ready, containers running, baseline equal",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.pod.containers[0].restart_count = 2;
         },
         2, possibly_alive, "NotReady"},
        {"not ready, restarts but no baseline",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.pod.containers[0].restart_count = 2;
         },
         std::nullopt, possibly_alive, "NotReady"},
        {"ready condition unknown", [](candidate& c) { c.pod.ready.reset(); c.pod.ready_since.reset(); },
         std::nullopt, possibly_alive, nullptr},
        {"node NotReady", [](candidate& c) { c.node_ready = false; }, std::nullopt, possibly_alive, "NodeNotReady"},
        {"node unknown", [](candidate& c) { c.node_ready = std::nullopt; }, std::nullopt, possibly_alive,
         "NodeUnknown"},
        {"terminating on a NotReady node",
         [](candidate& c) {
             c.node_ready = false;
             c.pod.meta.deletion_timestamp = now;
         },
         std::nullopt, possibly_alive, "NodeNotReady"},
        {"terminating on an unknown node",
         [](candidate& c) {
             c.node_ready = std::nullopt;
             c.pod.meta.deletion_timestamp = now;
         },
         std::nullopt, possibly_alive, "NodeUnknown"},
        {"not ready on a NotReady node",
         [](candidate& c) {
             c.pod = not_ready(std::move(c.pod));
             c.node_ready = false;
         },
         std::nullopt, possibly_alive, "NodeNotReady"},
        {"pending, not started",
         [](candidate& c) {
             c.pod.phase = "Pending";
             c.pod.ready = false;
             c.pod.ready_since.reset();
             c.pod.containers.clear();
         },
         std::nullopt, possibly_alive, "Pending"},
        {"phase Unknown", [](candidate& c) { c.pod.phase = "Unknown"; c.pod.ready.reset(); }, std::nullopt,
         possibly_alive, nullptr},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        candidate x = cand(make_pod("web-1"));
        c.change(x);
        const pod_assessment a = assess(x, c.baseline);
        EXPECT_EQ(to_string(a.state), to_string(c.state));
        if (c.reason != nullptr) {
            EXPECT_EQ(a.reason, c.reason);
        }
        if (a.state == pod_state::eligible) {
            EXPECT_TRUE(a.reason.empty()) << a.reason;
        } else {
            EXPECT_FALSE(a.reason.empty());
            EXPECT_FALSE(a.detail.empty());
            EXPECT_EQ(a.detail.find('\n'), std::string::npos) << a.detail;
        }
    }
}

// The same, from the JSON a kubelet writes.
json kubelet_pod(const char* name) {
    return {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", "shop"},
          {"uid", std::string("uid-") + name},
          {"resourceVersion", "1000"},
          {"labels", {{"app", "web"}, {"pod-template-hash", "7d4b9c6f5"}}}}},
        {"spec", {{"nodeName", "node-1"}, {"containers", {{{"name", "app"}}}}}},
        {"status",
         {{"phase", "Running"},
          {"conditions",
           {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2026-11-21T09:00:00Z"}},
            {{"type", "ContainersReady"}, {"status", "True"}, {"lastTransitionTime", "2026-11-21T09:00:00Z"}}}},
          {"podIP", "198.18.0.7"},
          {"containerStatuses",
           {{{"name", "app"},
             {"ready", true},
             {"restartCount", 0},
             {"state", {{"running", {{"startedAt", "2026-11-21T08:59:58Z"}}}}},
             {"lastState", json::object()}}}}}},
    };
}

candidate from_json(const json& j, std::optional<bool> node_ready = true) {
    auto p = kube::pod::from_json(j);
    if (!p) throw std::runtime_error(p.error());
    return cand(*p, node_ready);
}

TEST(election_decide_assess, kubelet_json_pods) {
    json healthy = kubelet_pod("web-1");
    ASSERT_EQ(from_json(healthy).pod.containers.size(), 1u);
    ASSERT_EQ(from_json(healthy).pod.ready, true);
    EXPECT_EQ(assess(from_json(healthy), std::nullopt).state, pod_state::eligible);
    EXPECT_EQ(assess(from_json(healthy), 0).state, pod_state::eligible);

    // A kubelet-style crash: lastState.terminated, restartCount+1,
    // CrashLoopBackOff, Ready=False.
    json crash = healthy;
    crash["status"]["conditions"][0]["status"] = "False";
    crash["status"]["conditions"][0]["lastTransitionTime"] = "2026-11-21T09:59:59Z";
    crash["status"]["containerStatuses"][0]["ready"] = false;
    crash["status"]["containerStatuses"][0]["restartCount"] = 1;
    crash["status"]["containerStatuses"][0]["state"] = {{"waiting", {{"reason", "CrashLoopBackOff"}}}};
    crash["status"]["containerStatuses"][0]["lastState"] = {
        {"terminated", {{"exitCode", 137}, {"reason", "Error"}, {"finishedAt", "2026-11-21T09:59:59Z"}}}};
    for (std::optional<std::int64_t> baseline : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{0}}) {
        const pod_assessment a = assess(from_json(crash), baseline);
        EXPECT_EQ(a.state, pod_state::confirmed_gone);
        EXPECT_EQ(a.reason, "Crashed");
    }

    // After the back-off it runs and is Ready again: only the baseline tells.
    json recovered = healthy;
    recovered["status"]["containerStatuses"][0]["restartCount"] = 1;
    recovered["status"]["containerStatuses"][0]["lastState"] = crash["status"]["containerStatuses"][0]["lastState"];
    EXPECT_EQ(assess(from_json(recovered), 0).state, pod_state::confirmed_gone);
    EXPECT_EQ(assess(from_json(recovered), 0).reason, "Crashed");
    EXPECT_EQ(assess(from_json(recovered), 1).state, pod_state::eligible);
    EXPECT_EQ(assess(from_json(recovered), std::nullopt).state, pod_state::eligible);

    // kubectl delete: deletionTimestamp, still Ready during the grace period.
    json deleting = healthy;
    deleting["metadata"]["deletionTimestamp"] = "2026-11-21T09:59:59Z";
    deleting["metadata"]["deletionGracePeriodSeconds"] = 30;
    EXPECT_EQ(assess(from_json(deleting), std::nullopt).state, pod_state::confirmed_gone);
    EXPECT_EQ(assess(from_json(deleting), std::nullopt).reason, "Terminating");
    EXPECT_EQ(assess(from_json(deleting, false), std::nullopt).state, pod_state::possibly_alive);
    EXPECT_EQ(assess(from_json(deleting, std::nullopt), std::nullopt).state, pod_state::possibly_alive);

    // The node controller marks pods of an unreachable node Ready=False.
    json unreachable = healthy;
    unreachable["status"]["conditions"][0]["status"] = "False";
    unreachable["status"]["containerStatuses"][0]["ready"] = false;
    EXPECT_EQ(assess(from_json(unreachable, std::nullopt), std::nullopt).state, pod_state::possibly_alive);
    EXPECT_EQ(assess(from_json(unreachable, false), 0).state, pod_state::possibly_alive);

    json opted_out = healthy;
    opted_out["metadata"]["annotations"] = {{"elector.dev/candidate", "false"}};
    EXPECT_EQ(assess(from_json(opted_out), std::nullopt).state, pod_state::confirmed_gone);
    EXPECT_EQ(assess(from_json(opted_out), std::nullopt).reason, "OptedOut");
}

// ---------------------------------------------------------------- leads_before()

TEST(election_decide_order, current_revision_first) {
    candidate old_rev = cand(make_pod("a", 7200s), true, false);
    candidate cur = cand(make_pod("z", 10s), true, true);
    EXPECT_TRUE(leads_before(cur, old_rev));
    EXPECT_FALSE(leads_before(old_rev, cur));
}

TEST(election_decide_order, ready_the_longest_then_name) {
    candidate early = cand(make_pod("z", 3600s));
    candidate late = cand(make_pod("a", 60s));
    EXPECT_TRUE(leads_before(early, late));
    EXPECT_FALSE(leads_before(late, early));

    candidate unknown = cand(make_pod("a"));
    unknown.pod.ready_since.reset();
    EXPECT_TRUE(leads_before(late, unknown));
    EXPECT_FALSE(leads_before(unknown, late));

    candidate same_a = cand(make_pod("a", 60s));
    candidate same_b = cand(make_pod("b", 60s));
    EXPECT_TRUE(leads_before(same_a, same_b));
    EXPECT_FALSE(leads_before(same_b, same_a));
    EXPECT_FALSE(leads_before(same_a, same_a));

    candidate unknown_b = cand(make_pod("b"));
    unknown_b.pod.ready_since.reset();
    EXPECT_TRUE(leads_before(unknown, unknown_b));
    EXPECT_FALSE(leads_before(unknown_b, unknown));
}

TEST(election_decide_order, sorts_a_mixed_set) {
    std::vector<candidate> v;
    v.push_back(cand(make_pod("old-long", 9000s), true, false));
    v.push_back(cand(make_pod("cur-unknown"), true, true));
    v.back().pod.ready_since.reset();
    v.push_back(cand(make_pod("cur-short", 30s), true, true));
    v.push_back(cand(make_pod("cur-long", 5000s), true, true));
    v.push_back(cand(make_pod("old-unknown"), true, false));
    v.back().pod.ready_since.reset();
    v.push_back(cand(make_pod("cur-b", 300s), true, true));
    v.push_back(cand(make_pod("cur-a", 300s), true, true));
    v.push_back(cand(make_pod("old-short", 10s), true, false));
    std::mt19937 rng(7);
    const std::vector<std::string> expected = {"cur-long",  "cur-a",    "cur-b",     "cur-short",
                                               "cur-unknown", "old-long", "old-short", "old-unknown"};
    for (int i = 0; i < 20; ++i) {
        std::shuffle(v.begin(), v.end(), rng);
        std::sort(v.begin(), v.end(), leads_before);
        std::vector<std::string> names;
        for (const auto& c : v) names.push_back(c.pod.meta.name);
        EXPECT_EQ(names, expected);
    }
}

// ---------------------------------------------------------------- initial election

TEST(election_decide_initial, no_lease_elects_the_first_in_order) {
    snapshot s = make_snapshot({cand(make_pod("web-c", 60s)), cand(make_pod("web-a", 3600s), true, false),
                                cand(make_pod("web-b", 600s))});
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "", "web-b", 1);
    EXPECT_EQ(p.holder_state, pod_state::eligible);  // there was none
    EXPECT_TRUE(p.create_lease);
    EXPECT_EQ(p.lease->lease_transitions, 0);  // as client-go's create
    EXPECT_TRUE(p.demote.empty());
    EXPECT_EQ(p.change->reason, "Elected");
    EXPECT_EQ(p.status.candidates_ready, 3);
    EXPECT_EQ(p.status.candidates_total, 3);
}

TEST(election_decide_initial, lease_duration_seconds_follow_the_spec) {
    snapshot s = make_snapshot({cand(make_pod("web-a"))});
    s.spec.lease_duration = 20s;
    s.spec.renew_deadline = 15s;
    s.spec.retry_period = 3s;
    const plan p = decide(s);
    expect_handover(p, s, "", "web-a", 1);
    EXPECT_EQ(p.lease->lease_duration_seconds, 20);
    EXPECT_EQ(p.requeue_after, 3s);
    EXPECT_FALSE(p.requeue_may_hand_over);  // the next renewal
}

TEST(election_decide_initial, without_a_lease_a_labelled_pod_leads_on_and_other_labels_go) {
    // Labels left from an earlier run, no Lease (deleted): the first labelled
    // eligible pod in order (web-a, Ready longer than web-c) keeps leading in
    // a new term rather than handing over to web-b; web-c loses its label first.
    snapshot s = make_snapshot({cand(leader(make_pod("web-a", 60s), 3)), cand(make_pod("web-b", 600s)),
                                cand(leader(make_pod("web-c", 30s), 9))});
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "", "web-a", 1);
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"web-c"}));
    for (const auto& d : p.demote) {
        EXPECT_EQ(d.resource_version, "rv-" + d.name);
    }
}

TEST(election_decide_initial, no_candidates_at_all) {
    snapshot s = make_snapshot({});
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.lease.has_value());
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "");
    EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    EXPECT_EQ(cond_status(p.status, conditions::invalid_spec), "False");
    ASSERT_NE(p.status.find(conditions::leader_elected), nullptr);
    EXPECT_FALSE(p.status.find(conditions::leader_elected)->reason.empty());
    EXPECT_EQ(p.status.candidates_ready, 0);
    EXPECT_EQ(p.status.candidates_total, 0);
    EXPECT_EQ(p.status.observed_generation, 4);
}

TEST(election_decide_initial, no_eligible_candidate_yet_then_one_becomes_ready) {
    snapshot s = make_snapshot({cand(not_ready(make_pod("web-a"))), cand(make_pod("web-b"), false)});
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.lease.has_value());
    expect_no_transition(p);
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
    EXPECT_EQ(p.status.candidates_ready, 0);
    EXPECT_EQ(p.status.candidates_total, 2);

    find_cand(s, "web-b").node_ready = true;
    const plan q = decide(s);
    expect_handover(q, s, "", "web-b", 1);
    EXPECT_EQ(q.status.candidates_ready, 1);
    EXPECT_EQ(q.status.candidates_total, 2);
}

// ---------------------------------------------------------------- renewal

struct cadence_case {
    bool first_sight;
    milliseconds unchanged_for;
    bool renew;
    milliseconds requeue;
};

TEST(election_decide_renewal, cadence_and_requeue) {
    const cadence_case cases[] = {
        // Just started: renew at once, whatever the age.
        {true, 0ms, true, 2000ms},
        {true, 1ms, true, 2000ms},
        {true, 500ms, true, 2000ms},
        {true, 9000ms, true, 2000ms},
        {true, 20000ms, true, 2000ms},
        // Written or seen changing by elector: every retryPeriod.
        {false, 0ms, false, 2000ms},
        {false, 1ms, false, 1999ms},
        {false, 500ms, false, 1500ms},
        {false, 1999ms, false, 1ms},
        {false, 2000ms, true, 2000ms},
        {false, 2001ms, true, 2000ms},
        {false, 9000ms, true, 2000ms},
        {false, 60000ms, true, 2000ms},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::to_string(c.unchanged_for.count()) + "ms" + (c.first_sight ? ", first sight" : ""));
        snapshot s = steady();
        s.lease_unchanged_for = c.unchanged_for;
        s.first_sight = c.first_sight;
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        expect_no_transition(p);
        EXPECT_EQ(p.leader, "a");
        EXPECT_EQ(p.term, 5);
        EXPECT_EQ(p.holder_state, pod_state::eligible);
        EXPECT_EQ(p.requeue_after, c.requeue);
        if (c.renew) {
            ASSERT_TRUE(p.lease.has_value());
            EXPECT_TRUE(p.renewal);
            EXPECT_FALSE(p.create_lease);
            EXPECT_EQ(p.lease->holder_identity, "a");
            EXPECT_EQ(p.lease->lease_transitions, 4);
            EXPECT_EQ(p.lease->acquire_time, s.lease->acquire_time);
            EXPECT_EQ(p.lease->renew_time, now);
            EXPECT_EQ(p.lease->lease_duration_seconds, 15);
            EXPECT_EQ(p.lease->meta.name, "db");
            EXPECT_EQ(p.lease->meta.resource_version, "lease-rv-7");
        } else {
            EXPECT_FALSE(p.lease.has_value());
        }
        EXPECT_EQ(p.status.leader, "a");
        EXPECT_EQ(p.status.term, 5);
        EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
        EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "True");
        EXPECT_EQ(cond_status(p.status, conditions::invalid_spec), "False");
        EXPECT_EQ(p.status.candidates_ready, 3);
        EXPECT_EQ(p.status.candidates_total, 3);
        // Nothing moved: the transition record and condition times stay.
        EXPECT_EQ(p.status.last_transition_time, now - 1h);
        EXPECT_EQ(p.status.last_transition_reason, "Elected");
        ASSERT_NE(p.status.find(conditions::ready), nullptr);
        EXPECT_EQ(p.status.find(conditions::ready)->last_transition_time, now - 1h);
        EXPECT_EQ(p.status.find(conditions::leader_elected)->last_transition_time, now - 1h);
    }
}

TEST(election_decide_renewal, other_retry_period) {
    snapshot s = steady(300ms);
    s.spec.retry_period = 1s;
    s.spec.renew_deadline = 5s;
    const plan p = decide(s);
    EXPECT_FALSE(p.lease.has_value()) << describe(p);
    EXPECT_EQ(p.requeue_after, 700ms);
}

TEST(election_decide_renewal, restart_of_elector_changes_nothing) {
    // elector just started: it has never seen the Lease change.
    snapshot s = steady();
    seen(s, std::nullopt);
    s.holder_restart_baseline = std::nullopt;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_no_transition(p);
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_TRUE(p.renewal);
    EXPECT_EQ(p.lease->holder_identity, "a");
    EXPECT_EQ(p.lease->lease_transitions, 4);
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
    EXPECT_EQ(p.status.term, 5);
    EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
}

TEST(election_decide_renewal, restart_with_a_lost_status_moves_nothing) {
    // The status was never written (or lost); the Lease and the labels agree.
    // Reporting the Lease's leader in the status is fine; moving it is not.
    snapshot s = steady();
    s.status = group_status{};
    seen(s, std::nullopt);
    s.holder_restart_baseline = std::nullopt;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_TRUE(p.demote.empty());
    EXPECT_FALSE(p.promote.has_value());
    if (p.change) {
        EXPECT_EQ(p.change->to, "a");
        EXPECT_EQ(p.change->term, 5);
    }
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
    EXPECT_EQ(p.status.leader, "a");
    EXPECT_EQ(p.status.term, 5);
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_TRUE(p.renewal);
}

TEST(election_decide_renewal, holder_with_old_restarts_but_no_baseline_stays) {
    snapshot s = steady();
    find_cand(s, "a").pod.containers[0].restart_count = 6;
    s.holder_restart_baseline = std::nullopt;
    const plan p = decide(s);
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "a");
}

TEST(election_decide_renewal, holder_on_an_old_revision_stays_while_no_pod_is_of_the_current_one) {
    snapshot s = steady();
    for (auto& c : s.candidates) c.current_revision = false;
    const plan p = decide(s);
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "a");
}

// ---------------------------------------------------------------- label repair on the holder

TEST(election_decide_repair, wrong_or_missing_label_or_term_on_the_holder_is_promoted_again) {
    std::vector<pod_change> cases = holder_marks_lost();
    cases.insert(cases.end(), {
        {"future term", [](kube::pod& p) { p = leader(make_pod("a", 3600s), 6); }},
        {"garbage term", [](kube::pod& p) { p = leader(make_pod("a", 3600s), 5); p.meta.annotations = {{"elector.dev/term", "five"}}; }},
        {"wrong label value",
         [](kube::pod& p) {
             p = make_pod("a", 3600s);
             set_label(p, "role", "follower");
             set_annotation(p, "elector.dev/term", "5");
         }},
    });
    for (const auto& c : cases) {
        for (std::optional<milliseconds> unchanged : {std::optional<milliseconds>{500ms}, std::optional<milliseconds>{}}) {
            SCOPED_TRACE(std::string(c.name) + (unchanged ? " (renewal not due)" : " (renewal due)"));
            snapshot s = steady();
            seen(s, unchanged);
            c.change(find_cand(s, "a").pod);
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            expect_holder_promoted_again(p);
            if (p.lease) {
                EXPECT_TRUE(p.renewal);
                EXPECT_EQ(p.lease->holder_identity, "a");
                EXPECT_EQ(p.lease->lease_transitions, 4);
                EXPECT_EQ(p.lease->acquire_time, s.lease->acquire_time);
            }
            EXPECT_EQ(p.lease.has_value(), !unchanged.has_value());
        }
    }
}

TEST(election_decide_repair, custom_leader_label) {
    snapshot s = steady();
    s.spec.leader_label_key = "elector.dev/role";
    s.spec.leader_label_value = "primary";
    // "a" carries role=leader, not the configured label.
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    ASSERT_TRUE(p.promote.has_value());
    EXPECT_EQ(p.promote->name, "a");
    EXPECT_FALSE(p.change.has_value());

    kube::pod& a = find_cand(s, "a").pod;
    a.meta.labels = {{"app", "web"}, {"elector.dev/role", "primary"}, {"pod-template-hash", "7d4b9c6f5"}};
    const plan q = decide(s);
    expect_no_transition(q);
}

TEST(election_decide_repair, duplicate_labels_on_two_followers_are_removed) {
    snapshot s = steady();
    find_cand(s, "b").pod = leader(make_pod("b", 1800s), 4);
    find_cand(s, "c").pod = leader(make_pod("c", 900s), 5);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"b", "c"}));
    for (const auto& d : p.demote) {
        EXPECT_EQ(d.resource_version, "rv-" + d.name);
    }
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
}

TEST(election_decide_repair, duplicates_and_a_holder_without_label) {
    snapshot s = steady();
    find_cand(s, "a").pod = make_pod("a", 3600s);
    find_cand(s, "b").pod = leader(make_pod("b", 1800s), 4);
    find_cand(s, "c").pod = leader(make_pod("c", 900s), 5);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"b", "c"}));
    ASSERT_TRUE(p.promote.has_value());
    EXPECT_EQ(p.promote->name, "a");
    EXPECT_EQ(p.promote->term, 5);
    EXPECT_FALSE(p.change.has_value());
}

TEST(election_decide_repair, a_term_annotation_alone_on_a_follower_is_removed) {
    snapshot s = steady();
    set_annotation(find_cand(s, "b").pod, "elector.dev/term", "3");
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"b"}));
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
}

TEST(election_decide_repair, labelled_pod_not_ready_and_not_holder_is_demoted) {
    snapshot s = steady();
    find_cand(s, "c").pod = leader(not_ready(make_pod("c")), 2);
    const plan p = decide(s);
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"c"})) << describe(p);
    EXPECT_EQ(p.leader, "a");
}

// ---------------------------------------------------------------- confirmed gone: handover at once

struct gone_case {
    const char* name;
    std::function<void(snapshot&)> change;
    bool old_holder_demoted;  // the old holder is still a labelled pod
    const char* reason;       // transition reason, nullptr: not checked
};

TEST(election_decide_handover, confirmed_gone_holder_hands_over_at_once) {
    const gone_case cases[] = {
        {"deleted",
         [](snapshot& s) {
             s.candidates.erase(s.candidates.begin());
         },
         false, "LeaderDeleted"},
        {"crash loop",
         [](snapshot& s) { find_cand(s, "a").pod = crashed(find_cand(s, "a").pod); }, true, "LeaderCrashed"},
        {"restarted above the baseline, Ready again",
         [](snapshot& s) { find_cand(s, "a").pod.containers[0].restart_count = 1; }, true, "LeaderCrashed"},
        {"crash loop without baseline",
         [](snapshot& s) {
             s.holder_restart_baseline = std::nullopt;
             find_cand(s, "a").pod = crashed(find_cand(s, "a").pod);
         },
         true, "LeaderCrashed"},
        {"container terminated",
         [](snapshot& s) {
             auto& c = find_cand(s, "a").pod.containers[0];
             c.state = kube::container_state::terminated;
             c.state_reason = "OOMKilled";
         },
         true, "LeaderCrashed"},
        {"terminating on a Ready node", [](snapshot& s) { find_cand(s, "a").pod = terminating(find_cand(s, "a").pod); },
         true, nullptr},
        {"phase Failed",
         [](snapshot& s) {
             auto& p = find_cand(s, "a").pod;
             p.phase = "Failed";
             p.ready = false;
         },
         true, nullptr},
        {"phase Succeeded",
         [](snapshot& s) {
             auto& p = find_cand(s, "a").pod;
             p.phase = "Succeeded";
             p.ready = false;
         },
         true, nullptr},
        {"opted out",
         [](snapshot& s) { set_annotation(find_cand(s, "a").pod, std::string(candidate_annotation), "false"); }, true,
         nullptr},
    };
    for (const auto& c : cases) {
        for (not_ready_policy policy : {not_ready_policy::wait_for_lease_expiry, not_ready_policy::immediate}) {
            SCOPED_TRACE(std::string(c.name) + " / " + std::string(to_string(policy)));
            snapshot s = steady(500ms);  // the lease is fresh: no waiting anyway
            s.spec.policy = policy;
            c.change(s);
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            expect_handover(p, s, "a", "b", 6);
            EXPECT_EQ(p.holder_state, pod_state::confirmed_gone);
            if (c.old_holder_demoted) {
                ASSERT_EQ(p.demote.size(), 1u);
                EXPECT_EQ(p.demote[0].name, "a");
                EXPECT_EQ(p.demote[0].resource_version, "rv-a");
            } else {
                EXPECT_TRUE(p.demote.empty());
            }
            if (c.reason != nullptr && p.change) {
                EXPECT_EQ(p.change->reason, c.reason);
            }
        }
    }
}

TEST(election_decide_handover, deleted_holder_with_an_unlabelled_old_holder_elsewhere) {
    // The old holder "a" is gone; "b" was left labelled by an older term and is next.
    snapshot s = steady();
    s.candidates.erase(s.candidates.begin());
    find_cand(s, "b").pod = leader(make_pod("b", 1800s), 2);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "a", "b", 6);
    EXPECT_TRUE(p.demote.empty());
}

TEST(election_decide_handover, next_leader_prefers_current_revision_and_ignores_old_restarts) {
    snapshot s = steady();
    find_cand(s, "b").current_revision = false;  // Ready longer, but old revision
    find_cand(s, "c").pod.containers[0].restart_count = 3;  // restarted long ago: no baseline for followers
    find_cand(s, "a").pod = crashed(find_cand(s, "a").pod);
    const plan p = decide(s);
    expect_handover(p, s, "a", "c", 6);
}

TEST(election_decide_handover, next_leader_skips_followers_that_are_not_eligible) {
    snapshot s = steady();
    find_cand(s, "b").node_ready = false;
    find_cand(s, "a").pod = terminating(find_cand(s, "a").pod);
    const plan p = decide(s);
    expect_handover(p, s, "a", "c", 6);
    EXPECT_EQ(p.status.candidates_ready, 1);
    EXPECT_EQ(p.status.candidates_total, 3);
}

TEST(election_decide_handover, a_new_lease_after_handover_then_steady) {
    // The plan's Lease, fed back, is a steady state with no further change.
    snapshot s = steady();
    s.candidates.erase(s.candidates.begin());
    const plan p = decide(s);
    ASSERT_TRUE(p.lease.has_value());
    ASSERT_TRUE(p.promote.has_value());
    snapshot next = s;
    next.lease = *p.lease;
    next.lease->meta.resource_version = "lease-rv-8";
    next.status = p.status;
    next.lease_unchanged_for = 0ms;
    next.holder_restart_baseline = restarts(find_cand(next, "b").pod);
    find_cand(next, "b").pod = leader(make_pod("b", 1800s), p.promote->term);
    const plan q = decide(next);
    SCOPED_TRACE(describe(q));
    expect_no_transition(q);
    EXPECT_FALSE(q.lease.has_value());
    EXPECT_EQ(q.leader, "b");
    EXPECT_EQ(q.term, 6);
    EXPECT_EQ(q.requeue_after, 2s);
    EXPECT_EQ(q.status.last_transition_time, now);
    EXPECT_EQ(q.status.last_transition_reason, p.change->reason);
}

// ---------------------------------------------------------------- possibly alive: wait or not

struct alive_case {
    const char* name;
    std::function<void(candidate&)> change;
};

const alive_case possibly_alive_holders[] = {
    {"not ready", [](candidate& c) { c.pod = not_ready(std::move(c.pod)); }},
    {"node NotReady", [](candidate& c) { c.node_ready = false; }},
    {"node unknown", [](candidate& c) { c.node_ready = std::nullopt; }},
    {"terminating on a NotReady node",
     [](candidate& c) {
         c.node_ready = false;
         c.pod = terminating(std::move(c.pod));
     }},
};

TEST(election_decide_not_ready, wait_for_lease_expiry_before_expiry) {
    for (const auto& holder : possibly_alive_holders) {
        for (milliseconds unchanged : {0ms, 1ms, 2000ms, 5000ms, 14000ms, 14999ms}) {
            SCOPED_TRACE(std::string(holder.name) + " after " + std::to_string(unchanged.count()) + "ms");
            snapshot s = steady(unchanged);
            s.holder_unhealthy_for = unchanged;  // unfit since the last renewal
            holder.change(find_cand(s, "a"));
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            EXPECT_FALSE(p.lease.has_value());  // not renewed, not taken
            expect_no_transition(p);
            EXPECT_EQ(p.leader, "a");
            EXPECT_EQ(p.term, 5);
            EXPECT_EQ(p.requeue_after, 15000ms - unchanged);
            EXPECT_TRUE(p.requeue_may_hand_over);  // the expiry may hand over: ahead of renewals
            EXPECT_EQ(p.holder_state, pod_state::possibly_alive);
            EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
            EXPECT_EQ(p.status.leader, "a");
            EXPECT_EQ(p.status.term, 5);
        }
    }
}

TEST(election_decide_not_ready, wait_for_lease_expiry_just_after_elector_started) {
    // Expiry counts from elector's first sight of the record.
    for (const auto& holder : possibly_alive_holders) {
        for (milliseconds unchanged : {0ms, 5000ms, 14999ms}) {
            SCOPED_TRACE(std::string(holder.name) + ", first seen " + std::to_string(unchanged.count()) + "ms ago");
            snapshot s = steady();
            s.first_sight = true;
            s.lease_unchanged_for = unchanged;
            s.holder_unhealthy_for = unchanged;
            holder.change(find_cand(s, "a"));
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            EXPECT_FALSE(p.lease.has_value());  // a possibly-alive holder is not renewed, even at first sight
            expect_no_transition(p);
            EXPECT_EQ(p.leader, "a");
            EXPECT_EQ(p.requeue_after, 15000ms - unchanged);
        }
        for (milliseconds unchanged : {15001ms, 40000ms}) {
            SCOPED_TRACE(std::string(holder.name) + ", first seen " + std::to_string(unchanged.count()) + "ms ago");
            snapshot s = steady();
            s.first_sight = true;
            s.lease_unchanged_for = unchanged;
            s.holder_unhealthy_for = unchanged;
            holder.change(find_cand(s, "a"));
            const plan p = decide(s);
            expect_handover(p, s, "a", "b", 6);
        }
    }
}

TEST(election_decide_not_ready, wait_for_lease_expiry_after_expiry) {
    for (const auto& holder : possibly_alive_holders) {
        for (milliseconds unchanged : {15001ms, 16000ms, 60000ms}) {
            SCOPED_TRACE(std::string(holder.name) + " after " + std::to_string(unchanged.count()) + "ms");
            snapshot s = steady(unchanged);
            s.holder_unhealthy_for = unchanged;  // unfit since the last renewal
            holder.change(find_cand(s, "a"));
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            expect_handover(p, s, "a", "b", 6);
            EXPECT_EQ(p.holder_state, pod_state::possibly_alive);
            ASSERT_EQ(p.demote.size(), 1u);
            EXPECT_EQ(p.demote[0].name, "a");
            EXPECT_EQ(p.demote[0].resource_version, "rv-a");
        }
    }
}

TEST(election_decide_not_ready, wait_for_lease_expiry_follows_the_spec_duration) {
    snapshot s = steady(25000ms);
    s.holder_unhealthy_for = 25000ms;
    s.spec.lease_duration = 30s;
    find_cand(s, "a").pod = not_ready(find_cand(s, "a").pod);
    const plan p = decide(s);
    EXPECT_FALSE(p.promote.has_value()) << describe(p);
    EXPECT_EQ(p.requeue_after, 5000ms);
    s.lease_unchanged_for = 30001ms;
    s.holder_unhealthy_for = 30001ms;
    expect_handover(decide(s), s, "a", "b", 6);
}

TEST(election_decide_not_ready, wait_counts_from_when_elector_stopped_renewing_too) {
    // The Lease was last renewed 14 s ago (elector stopped renewing a healthy
    // holder? no: the holder just turned unfit and elector first sees it now).
    // Expiry is leaseDuration after both the last change and the first sight
    // of the unfit holder, so a NotReady leader always gets a full lease.
    for (const auto& holder : possibly_alive_holders) {
        SCOPED_TRACE(holder.name);
        snapshot s = steady(14000ms);
        s.holder_unhealthy_for = 0ms;
        holder.change(find_cand(s, "a"));
        plan p = decide(s);
        EXPECT_FALSE(p.lease.has_value()) << describe(p);
        EXPECT_EQ(p.requeue_after, 15000ms);
        s.lease_unchanged_for = 29000ms;
        s.holder_unhealthy_for = 15000ms;
        expect_handover(decide(s), s, "a", "b", 6);
        s.lease_unchanged_for = 40000ms;
        s.holder_unhealthy_for = 14999ms;
        p = decide(s);
        EXPECT_FALSE(p.promote.has_value()) << describe(p);
        EXPECT_EQ(p.requeue_after, 1ms);
    }
}

TEST(election_decide_not_ready, immediate_policy_hands_over_at_once) {
    for (const auto& holder : possibly_alive_holders) {
        for (std::optional<milliseconds> unchanged :
             {std::optional<milliseconds>{0ms}, std::optional<milliseconds>{5000ms}, std::optional<milliseconds>{}}) {
            SCOPED_TRACE(std::string(holder.name));
            snapshot s = steady();
            seen(s, unchanged);
            s.spec.policy = not_ready_policy::immediate;
            holder.change(find_cand(s, "a"));
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            expect_handover(p, s, "a", "b", 6);
            ASSERT_EQ(p.demote.size(), 1u);
            EXPECT_EQ(p.demote[0].name, "a");
        }
    }
}

TEST(election_decide_not_ready, holder_ready_again_before_expiry_keeps_leading) {
    snapshot s = steady(9000ms);
    const plan p = decide(s);
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "a");
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_TRUE(p.renewal);
}

// ---------------------------------------------------------------- no eligible candidate

TEST(election_decide_none_eligible, crashed_holder_keeps_label_and_lease) {
    snapshot s = steady();
    find_cand(s, "a").pod = crashed(find_cand(s, "a").pod);
    find_cand(s, "b").pod = not_ready(find_cand(s, "b").pod);
    find_cand(s, "c").node_ready = false;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.lease.has_value());
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_TRUE(p.demote.empty());
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    ASSERT_NE(p.status.find(conditions::leader_elected), nullptr);
    EXPECT_FALSE(p.status.find(conditions::leader_elected)->reason.empty());
    EXPECT_EQ(p.status.find(conditions::leader_elected)->last_transition_time, now);  // True -> False
    EXPECT_EQ(p.status.find(conditions::ready)->last_transition_time, now);
    EXPECT_EQ(p.status.candidates_ready, 0);
    EXPECT_EQ(p.status.candidates_total, 3);
    EXPECT_EQ(p.status.term, 5);

    // As soon as one pod is eligible, it leads.
    find_cand(s, "c").node_ready = true;
    const plan q = decide(s);
    SCOPED_TRACE(describe(q));
    expect_handover(q, s, "a", "c", 6);
    EXPECT_EQ(demoted(q), (std::vector<std::string>{"a"}));
}

TEST(election_decide_none_eligible, deleted_holder_and_nobody_ready) {
    snapshot s = steady();
    s.candidates.erase(s.candidates.begin());
    find_cand(s, "b").pod = not_ready(find_cand(s, "b").pod);
    find_cand(s, "c").pod = not_ready(find_cand(s, "c").pod);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.lease.has_value());
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    EXPECT_EQ(p.status.candidates_total, 2);
}

// ---------------------------------------------------------------- recovery after a partial handover

TEST(election_decide_recovery, lease_moved_but_old_leader_still_labelled) {
    // Crashed between step 2 and 3: the Lease says b (term 6), a keeps term 5's label.
    snapshot s = steady();
    s.lease = make_lease("b", 5);
    s.holder_restart_baseline = std::nullopt;
    for (std::optional<milliseconds> unchanged : {std::optional<milliseconds>{}, std::optional<milliseconds>{100ms}}) {
        seen(s, unchanged);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
        ASSERT_TRUE(p.promote.has_value());
        EXPECT_EQ(p.promote->name, "b");
        EXPECT_EQ(p.promote->term, 6);
        EXPECT_EQ(p.promote->resource_version, "rv-b");
        EXPECT_EQ(p.leader, "b");
        EXPECT_EQ(p.term, 6);
        if (p.lease) {
            EXPECT_TRUE(p.renewal);
            EXPECT_EQ(p.lease->holder_identity, "b");
            EXPECT_EQ(p.lease->lease_transitions, 5);
        }
        EXPECT_EQ(p.status.leader, "b");
        EXPECT_EQ(p.status.term, 6);
    }
}

TEST(election_decide_recovery, lease_names_a_gone_pod_and_nobody_is_labelled) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))}, make_lease("a", 4));
    led_by(s, "a", 5);
    seen(s, std::nullopt);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "a", "b", 6);
    EXPECT_TRUE(p.demote.empty());
}

TEST(election_decide_recovery, demoted_but_lease_not_yet_written) {
    // Crashed between step 1 and 2: a (confirmed gone) was demoted, the Lease still says a.
    snapshot s = steady();
    find_cand(s, "a").pod = crashed(make_pod("a", 3600s));
    const plan p = decide(s);
    expect_handover(p, s, "a", "b", 6);
    EXPECT_TRUE(p.demote.empty()) << describe(p);
}

TEST(election_decide_recovery, promote_failed_and_is_retried) {
    // Steps 1 and 2 done, b not labelled yet; a's status still says a/5.
    snapshot s = steady();
    find_cand(s, "a").pod = crashed(make_pod("a", 3600s));
    s.lease = make_lease("b", 5);
    s.lease_unchanged_for = 200ms;
    s.holder_restart_baseline = std::nullopt;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_TRUE(p.demote.empty());
    ASSERT_TRUE(p.promote.has_value());
    EXPECT_EQ(p.promote->name, "b");
    EXPECT_EQ(p.promote->term, 6);
    EXPECT_FALSE(p.lease.has_value());
    EXPECT_EQ(p.leader, "b");
}

// ---------------------------------------------------------------- terms

TEST(election_decide_term, continues_after_the_lease_was_deleted) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))});
    led_by(s, "a", 7);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "*", "b", 8);
    EXPECT_TRUE(p.change->from == "" || p.change->from == "a") << p.change->from;
    EXPECT_TRUE(p.create_lease);
    EXPECT_EQ(p.lease->lease_transitions, 7);
}

TEST(election_decide_term, lease_deleted_while_the_leader_is_fine) {
    // Somebody deleted the Lease; the labelled leader a (term 7) is eligible:
    // the Lease is recreated for it in the same term, without a transition.
    snapshot s = make_snapshot({cand(leader(make_pod("a", 3600s), 7)), cand(make_pod("b", 1800s))});
    led_by(s, "a", 7);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_TRUE(p.create_lease);
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 7);
    EXPECT_EQ(p.lease->holder_identity, "a");
    EXPECT_EQ(p.lease->lease_transitions, 6);
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_TRUE(p.demote.empty());
    EXPECT_FALSE(p.repairs.empty());
}

TEST(election_decide_term, status_ahead_of_the_lease_is_reported_at_most_once) {
    // Someone else recreated the Lease (transitions 4: term 5) while the
    // status says term 7. Whatever term elector settles on, deciding again on
    // what it wrote must not report another transition.
    for (const bool holder_ready : {true, false}) {
        SCOPED_TRACE(holder_ready ? "holder eligible" : "holder NotReady, nobody else eligible");
        snapshot s = steady(500ms);
        s.status.term = 7;
        if (!holder_ready) {
            for (auto& c : s.candidates) c.pod = not_ready(c.pod);
        }
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        snapshot next = s;
        next.status = p.status;
        if (p.lease) {
            next.lease = *p.lease;
            next.lease_unchanged_for = 0ms;
        }
        if (p.promote) {
            kube::pod& pod = find_cand(next, p.promote->name).pod;
            std::erase_if(pod.meta.annotations, [](const auto& kv) { return kv.first == term_annotation; });
            pod = leader(pod, p.promote->term);
        }
        const plan q = decide(next);
        SCOPED_TRACE("then: " + describe(q));
        EXPECT_FALSE(q.change.has_value());
        EXPECT_FALSE(q.promote.has_value());
        EXPECT_TRUE(q.demote.empty());
        // status.term is the group's high-water mark: never below the leader's.
        EXPECT_GE(q.status.term, q.term);
    }
}

struct term_case {
    std::optional<std::int32_t> lease_transitions;  // nullopt: no Lease
    std::int64_t status_term;
    std::int64_t new_term;
};

TEST(election_decide_term, new_term_is_max_of_lease_and_status_plus_one) {
    const term_case cases[] = {
        {std::nullopt, 0, 1}, {std::nullopt, 1, 2}, {std::nullopt, 7, 8}, {0, 0, 2},  {0, 1, 2},
        {4, 5, 6},            {4, 0, 6},            {9, 5, 11},           {2, 7, 8},  {2, 3, 4},
        {100, 100, 102},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("lease transitions " + (c.lease_transitions ? std::to_string(*c.lease_transitions) : "none") +
                     ", status term " + std::to_string(c.status_term));
        std::optional<kube::lease> l;
        if (c.lease_transitions) l = make_lease("gone", *c.lease_transitions);
        snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))}, l);
        s.status.term = c.status_term;
        s.status.leader = c.status_term > 0 ? "gone" : "";
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        // Without a Lease, "from" may be "" or the status' leader: not checked.
        expect_handover(p, s, c.lease_transitions ? "gone" : "*", "b", c.new_term);
    }
}

TEST(election_decide_term, released_lease_is_taken_with_the_next_term) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s))}, make_lease("", 4));
    s.status.term = 5;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "", "b", 6);
    EXPECT_FALSE(p.create_lease);
    EXPECT_EQ(p.lease->meta.resource_version, "lease-rv-7");
}

// ---------------------------------------------------------------- stray holder

TEST(election_decide_stray, labelled_stray_holder_is_demoted_and_leadership_moves) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))}, make_lease("a", 4));
    led_by(s, "a", 5);
    s.lease_unchanged_for = 300ms;
    kube::pod stray = leader(make_pod("a", 3600s), 5);
    stray.meta.resource_version = "rv-stray";
    stray.meta.labels = {{"app", "other"}, {"role", "leader"}};  // relabelled out of the selector
    s.stray_holder = stray;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "a", "b", 6);
    ASSERT_EQ(p.demote.size(), 1u);
    EXPECT_EQ(p.demote[0].name, "a");
    EXPECT_EQ(p.demote[0].resource_version, "rv-stray");
}

TEST(election_decide_stray, unlabelled_stray_holder_is_left_alone) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))}, make_lease("a", 4));
    led_by(s, "a", 5);
    s.lease_unchanged_for = 300ms;
    kube::pod stray = make_pod("a", 3600s);
    stray.meta.labels = {{"app", "other"}};
    s.stray_holder = stray;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_handover(p, s, "a", "b", 6);
    EXPECT_TRUE(p.demote.empty());
}

TEST(election_decide_stray, labelled_stray_holder_with_nobody_eligible) {
    // Whether the stray keeps its label while nobody can take over is left
    // open by the contract; nothing may be promoted, and nothing is Ready.
    snapshot s = make_snapshot({cand(not_ready(make_pod("b", 1800s)))}, make_lease("a", 4));
    led_by(s, "a", 5);
    s.stray_holder = leader(make_pod("a", 3600s), 5);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.lease.has_value());
    EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    for (const auto& d : p.demote) EXPECT_EQ(d.name, "a");
}

// ---------------------------------------------------------------- conditions

TEST(election_decide_conditions, set_condition_follows_metav1_rules) {
    std::vector<condition> cs;
    set_condition(cs, {"Ready", "True", 3, std::nullopt, "Renewed", "ok"}, now - 1h);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0], (condition{"Ready", "True", 3, now - 1h, "Renewed", "ok"}));

    // Same status: only reason, message and generation move.
    set_condition(cs, {"Ready", "True", 4, std::nullopt, "Elected", "new leader"}, now);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0], (condition{"Ready", "True", 4, now - 1h, "Elected", "new leader"}));

    // Status changes: the transition time moves.
    set_condition(cs, {"Ready", "False", 4, std::nullopt, "NoEligibleCandidate", "0/3"}, now);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0], (condition{"Ready", "False", 4, now, "NoEligibleCandidate", "0/3"}));

    // Another type is added, the first is untouched.
    set_condition(cs, {"LeaderElected", "False", 4, std::nullopt, "NoEligibleCandidate", "0/3"}, now + 1s);
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].type, "Ready");
    EXPECT_EQ(cs[0].last_transition_time, now);
    EXPECT_EQ(cs[1].type, "LeaderElected");
    EXPECT_EQ(cs[1].last_transition_time, now + 1s);

    set_condition(cs, {"Ready", "True", 5, std::nullopt, "Renewed", "ok"}, now + 2s);
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].last_transition_time, now + 2s);
    EXPECT_EQ(cs[0].observed_generation, 5);
    EXPECT_EQ(cs[1].last_transition_time, now + 1s);
}

TEST(election_decide_conditions, observed_generation_is_the_snapshot_generation) {
    snapshot s = steady();
    s.generation = 9;
    const plan p = decide(s);
    EXPECT_EQ(p.status.observed_generation, 9);
    for (const auto& c : p.status.conditions) {
        EXPECT_EQ(c.observed_generation, 9) << c.type;
    }
    // Ready did not change status: its time stays although generation moved.
    ASSERT_NE(p.status.find(conditions::ready), nullptr);
    EXPECT_EQ(p.status.find(conditions::ready)->last_transition_time, now - 1h);
}

TEST(election_decide_conditions, first_status_gets_all_three_conditions) {
    snapshot s = make_snapshot({cand(make_pod("b"))});
    const plan p = decide(s);
    for (std::string_view type : {conditions::ready, conditions::leader_elected, conditions::invalid_spec}) {
        const condition* c = p.status.find(type);
        ASSERT_NE(c, nullptr) << type;
        EXPECT_EQ(c->last_transition_time, now) << type;
        EXPECT_FALSE(c->reason.empty()) << type;
        EXPECT_EQ(c->observed_generation, 4) << type;
    }
}

TEST(election_decide_conditions, invalid_spec_condition_clears_when_decide_runs) {
    snapshot s = steady();
    s.status.conditions[2] = {"InvalidSpec", "True", 3, now - 10min, "InvalidSpec", "spec.retryPeriod: too short"};
    s.status.conditions[0] = {"Ready", "False", 3, now - 10min, "InvalidSpec", "spec is invalid"};
    const plan p = decide(s);
    EXPECT_EQ(cond_status(p.status, conditions::invalid_spec), "False");
    EXPECT_EQ(p.status.find(conditions::invalid_spec)->last_transition_time, now);
    EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
    EXPECT_EQ(p.status.find(conditions::ready)->last_transition_time, now);
}

TEST(election_decide_conditions, blocked_status_for_an_invalid_spec) {
    const group_status current = steady().status;
    const group_status b = blocked_status(current, 6, "InvalidSpec", "spec.retryPeriod: must be at least 100ms",
                                          true, now);
    EXPECT_EQ(b.leader, "a");
    EXPECT_EQ(b.term, 5);
    EXPECT_EQ(b.lease_name, "db");
    EXPECT_EQ(b.observed_generation, 6);
    EXPECT_EQ(cond_status(b, conditions::ready), "False");
    EXPECT_EQ(cond_status(b, conditions::leader_elected), "False");
    EXPECT_EQ(cond_status(b, conditions::invalid_spec), "True");
    EXPECT_EQ(b.find(conditions::ready)->reason, "InvalidSpec");
    EXPECT_EQ(b.find(conditions::ready)->last_transition_time, now);
    EXPECT_EQ(b.find(conditions::invalid_spec)->last_transition_time, now);
    EXPECT_EQ(b.find(conditions::invalid_spec)->message, "spec.retryPeriod: must be at least 100ms");
    for (const auto& c : b.conditions) {
        EXPECT_EQ(c.observed_generation, 6) << c.type;
    }

    // Again, later: nothing transitions.
    const group_status again = blocked_status(b, 6, "InvalidSpec", "spec.retryPeriod: must be at least 100ms", true,
                                              now + 1min);
    EXPECT_EQ(again.find(conditions::ready)->last_transition_time, now);
    EXPECT_EQ(again.find(conditions::invalid_spec)->last_transition_time, now);
}

TEST(election_decide_conditions, blocked_status_for_a_missing_target) {
    group_status current = steady().status;
    const group_status b = blocked_status(current, 4, "TargetNotFound", "deployment shop/web not found", false, now);
    EXPECT_EQ(b.leader, "a");
    EXPECT_EQ(b.term, 5);
    EXPECT_EQ(b.lease_name, "db");
    EXPECT_EQ(cond_status(b, conditions::ready), "False");
    EXPECT_EQ(cond_status(b, conditions::leader_elected), "False");
    EXPECT_NE(cond_status(b, conditions::invalid_spec), "True");
    EXPECT_EQ(b.find(conditions::ready)->reason, "TargetNotFound");
    EXPECT_EQ(b.find(conditions::ready)->message, "deployment shop/web not found");
    // InvalidSpec was already False: its time stays.
    if (b.find(conditions::invalid_spec) != nullptr) {
        EXPECT_EQ(b.find(conditions::invalid_spec)->last_transition_time, now - 2h);
    }
}

TEST(election_decide_conditions, blocked_status_from_nothing) {
    const group_status b = blocked_status(group_status{}, 1, "InvalidSpec", "spec.targetRef.name: required", true, now);
    EXPECT_EQ(b.leader, "");
    EXPECT_EQ(b.term, 0);
    EXPECT_EQ(cond_status(b, conditions::ready), "False");
    EXPECT_EQ(cond_status(b, conditions::leader_elected), "False");
    EXPECT_EQ(cond_status(b, conditions::invalid_spec), "True");
}

// ---------------------------------------------------------------- properties over random snapshots

struct random_world {
    snapshot s;
    std::string trace;
};

random_world random_snapshot(std::mt19937& rng, bool status_ahead = false) {
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    random_world w;
    snapshot& s = w.s;
    s = make_snapshot({});
    s.spec.policy = chance(0.5) ? not_ready_policy::immediate : not_ready_policy::wait_for_lease_expiry;
    if (chance(0.3)) {
        s.spec.leader_label_key = "elector.dev/leader";
        s.spec.leader_label_value = chance(0.5) ? "" : "yes";
    }
    const int n = pick(0, 5);
    for (int i = 0; i < n; ++i) {
        kube::pod p = make_pod("p" + std::to_string(i), std::chrono::seconds(pick(1, 5000)));
        p.meta.resource_version = "rv-" + std::to_string(pick(1, 100000));
        const int phase = pick(0, 9);
        p.phase = phase < 6 ? "Running" : phase == 6 ? "Pending" : phase == 7 ? "Failed" : phase == 8 ? "Succeeded" : "Unknown";
        const int ready = pick(0, 5);
        p.ready = ready < 4 ? std::optional<bool>(true) : ready == 4 ? std::optional<bool>(false) : std::nullopt;
        if (p.ready != true || chance(0.1)) p.ready_since.reset();
        if (chance(0.15)) p.meta.deletion_timestamp = now - std::chrono::seconds(pick(0, 30));
        if (chance(0.1)) set_annotation(p, std::string(candidate_annotation), chance(0.7) ? "false" : "true");
        p.containers.clear();
        for (int k = pick(chance(0.1) ? 0 : 1, 2); k > 0; --k) {
            kube::container_status c = running_container("c" + std::to_string(k), pick(0, 3));
            const int st = pick(0, 7);
            if (st == 6) {
                c.state = kube::container_state::waiting;
                c.state_reason = "CrashLoopBackOff";
                c.ready = false;
            } else if (st == 7) {
                c.state = kube::container_state::terminated;
                c.state_reason = "Error";
                c.ready = false;
            }
            p.containers.push_back(c);
        }
        if (chance(0.3)) set_label(p, s.spec.leader_label_key, s.spec.leader_label_value);
        if (chance(0.05)) set_label(p, s.spec.leader_label_key, "other");
        if (chance(0.3)) set_annotation(p, std::string(term_annotation), std::to_string(pick(1, 12)));
        const int node = pick(0, 5);
        const bool current = chance(0.7);
        // Built in place: GCC 12 at -O2 warns (falsely) that a std::optional<bool> copied here may be uninitialized.
        candidate c{.pod = std::move(p), .node_ready = {}, .current_revision = current};
        if (node < 4) c.node_ready.emplace(true);
        if (node == 4) c.node_ready.emplace(false);
        s.candidates.push_back(std::move(c));
    }
    std::shuffle(s.candidates.begin(), s.candidates.end(), rng);

    if (chance(0.8)) {
        const int h = pick(0, 8);
        const std::string holder = h == 0 ? "" : h <= 5 ? "p" + std::to_string(h - 1) : h <= 7 ? "p7" : "elsewhere";
        kube::lease l = make_lease(holder, pick(0, 10));
        l.meta.resource_version = "lease-rv-" + std::to_string(pick(1, 1000));
        s.lease = l;
        bool is_candidate = false;
        for (const auto& c : s.candidates) is_candidate = is_candidate || c.pod.meta.name == holder;
        if (!holder.empty() && !is_candidate && chance(0.5)) {
            kube::pod stray = make_pod(holder);
            stray.meta.resource_version = "rv-stray-" + std::to_string(pick(1, 1000));
            stray.meta.labels = {{"app", "other"}};
            if (chance(0.6)) set_label(stray, s.spec.leader_label_key, s.spec.leader_label_value);
            if (chance(0.5)) set_annotation(stray, std::string(term_annotation), std::to_string(l.lease_transitions + 1));
            s.stray_holder = stray;
        }
    }
    // A consistent world: the status never runs ahead of the Lease (it may
    // lag: a crash between the Lease write and the status write); without a
    // Lease (deleted), any status. `status_ahead` breaks the rule on purpose.
    const std::int64_t lease_term = s.lease ? s.lease->lease_transitions + 1 : 0;
    if (!s.lease) {
        s.status.term = pick(0, 12);
        s.status.leader = s.status.term > 0 ? "p" + std::to_string(pick(0, 7)) : "";
    } else if (status_ahead) {
        s.status.term = lease_term + pick(1, 5);
        s.status.leader = chance(0.5) ? s.lease->holder_identity : "p" + std::to_string(pick(0, 7));
    } else if (chance(0.7)) {
        s.status.term = lease_term;
        s.status.leader = s.lease->holder_identity;
    } else if (chance(0.5)) {
        s.status.term = std::max<std::int64_t>(0, lease_term - pick(1, 3));
        s.status.leader = s.status.term > 0 ? "p" + std::to_string(pick(0, 7)) : "";
    }  // else: no status yet
    if (!s.status.leader.empty() || s.status.term > 0) s.status.lease_name = "db";
    randomize_timing(s, rng);

    w.trace = "policy=" + std::string(to_string(s.spec.policy)) + " label=" + s.spec.leader_label_key + "=" +
              s.spec.leader_label_value + " status.term=" + std::to_string(s.status.term);
    if (s.lease) {
        w.trace += " lease{holder=" + s.lease->holder_identity +
                   " transitions=" + std::to_string(s.lease->lease_transitions) + "}";
    }
    w.trace += " unchanged=" + std::to_string(s.lease_unchanged_for.count()) + "ms" +
               (s.first_sight ? " first-sight" : "");
    if (s.holder_restart_baseline) w.trace += " baseline=" + std::to_string(*s.holder_restart_baseline);
    for (const auto& c : s.candidates) {
        const auto a = assess(c, std::nullopt);
        w.trace += " | " + c.pod.meta.name + " " + std::string(to_string(a.state)) + "/" + a.reason +
                   (is_labelled(c.pod, s.spec) ? " labelled" : "") + (has_term(c.pod) ? " term" : "") +
                   (c.current_revision ? " cur" : " old");
    }
    if (s.stray_holder) {
        w.trace += " | stray " + s.stray_holder->meta.name + (is_labelled(*s.stray_holder, s.spec) ? " labelled" : "");
    }
    return w;
}

// What the snapshot says, judged as the contract does.
struct judgement {
    std::string holder;                    // the Lease's holder ("" without one)
    const candidate* holder_c = nullptr;   // the holder, when a candidate
    std::optional<pod_state> holder_state;  // when a candidate
    std::int64_t lease_term = 0;           // lease.leaseTransitions + 1, 0 without a Lease
    std::vector<const candidate*> eligible;
    std::map<std::string, const candidate*> by_name;
    bool status_in_sync = false;  // the status already says holder and term
};

judgement judge(const snapshot& s) {
    judgement j;
    j.holder = s.lease ? s.lease->holder_identity : "";
    j.lease_term = s.lease ? s.lease->lease_transitions + 1 : 0;
    for (const auto& c : s.candidates) {
        j.by_name[c.pod.meta.name] = &c;
        if (!j.holder.empty() && c.pod.meta.name == j.holder) j.holder_c = &c;
    }
    for (const auto& c : s.candidates) {
        const auto a = assess(c, &c == j.holder_c ? s.holder_restart_baseline : std::nullopt);
        if (a.state == pod_state::eligible) j.eligible.push_back(&c);
    }
    if (j.holder_c != nullptr) j.holder_state = assess(*j.holder_c, s.holder_restart_baseline).state;
    j.status_in_sync = s.lease && s.status.leader == j.holder && s.status.term == j.lease_term;
    return j;
}

std::set<std::string> demote_set(const plan& p) {
    std::set<std::string> out;
    for (const auto& d : p.demote) out.insert(d.name);
    return out;
}

TEST(election_decide_property, promote_never_leaves_another_pod_labelled) {
    std::mt19937 rng(20261121);
    violations v;
    int promotes = 0;
    for (int i = 0; i < 5000; ++i) {
        const random_world w = random_snapshot(rng, i % 5 == 4);
        const snapshot& s = w.s;
        plan p;
        ASSERT_NO_THROW(p = decide(s)) << w.trace;
        const auto example = [&] { return "case " + std::to_string(i) + ": " + w.trace + "\n  plan: " + describe(p); };
        if (!p.promote) continue;
        ++promotes;
        const auto demoted_names = demote_set(p);
        for (const auto& c : s.candidates) {
            if (c.pod.meta.name != p.promote->name && is_labelled(c.pod, s.spec)) {
                v.check(demoted_names.contains(c.pod.meta.name), "promote while another candidate stays labelled",
                        example);
            }
        }
        if (s.stray_holder && s.stray_holder->meta.name != p.promote->name && is_labelled(*s.stray_holder, s.spec)) {
            v.check(demoted_names.contains(s.stray_holder->meta.name), "promote while the stray holder stays labelled",
                    example);
        }
        v.check(!demoted_names.contains(p.promote->name), "promoted pod also demoted", example);
    }
    v.report();
    EXPECT_GT(promotes, 500);  // the generator does reach handovers
}

TEST(election_decide_property, plans_follow_the_contract) {
    std::mt19937 rng(1337);
    violations v;
    int handovers = 0, stable = 0, waiting = 0, none = 0;
    for (int i = 0; i < 10000; ++i) {
        const random_world w = random_snapshot(rng);
        const snapshot& s = w.s;
        const plan p = decide(s);
        const auto example = [&] { return "case " + std::to_string(i) + ": " + w.trace + "\n  plan: " + describe(p); };
        const auto check = [&](bool ok, const std::string& rule) { v.check(ok, rule, example); };
        const judgement j = judge(s);

        // Demote: each pod once, pods of the snapshot with their resourceVersion, never the leader.
        std::set<std::string> seen;
        for (const auto& d : p.demote) {
            check(seen.insert(d.name).second, "demote: each pod at most once");
            check(d.name != p.leader, "demote: never the plan's leader");
            if (j.by_name.contains(d.name)) {
                check(d.resource_version == j.by_name.at(d.name)->pod.meta.resource_version,
                      "demote: the pod's resourceVersion as precondition");
            } else {
                check(s.stray_holder && s.stray_holder->meta.name == d.name &&
                          s.stray_holder->meta.resource_version == d.resource_version,
                      "demote: only pods of the snapshot (candidates, stray holder)");
            }
        }
        if (p.promote) {
            check(j.by_name.contains(p.promote->name), "promote: a candidate");
            check(p.promote->name == p.leader && p.promote->term == p.term, "promote: the plan's leader and term");
            if (j.by_name.contains(p.promote->name)) {
                check(p.promote->resource_version == j.by_name.at(p.promote->name)->pod.meta.resource_version,
                      "promote: the pod's resourceVersion as precondition");
            }
        }
        if (p.lease) {
            check(p.lease->holder_identity == p.leader, "lease: holder is the plan's leader");
            check(p.lease->lease_transitions == p.term - 1, "lease: leaseTransitions = term - 1");
            check(p.lease->meta.name == s.spec.lease_name, "lease: named spec.leaseName");
            check(p.lease->renew_time == s.now, "lease: renewTime = now");
            check(p.lease->lease_duration_seconds == 15, "lease: leaseDurationSeconds from the spec");
            check(p.create_lease == !s.lease.has_value(), "lease: created iff there is none");
            if (s.lease) {
                check(p.lease->meta.resource_version == s.lease->meta.resource_version,
                      "lease: the snapshot's resourceVersion as precondition");
            }
            if (p.renewal) {
                check(s.lease && p.lease->holder_identity == s.lease->holder_identity &&
                          p.lease->lease_transitions == s.lease->lease_transitions &&
                          p.lease->acquire_time == s.lease->acquire_time,
                      "renewal: same holder, transitions and acquireTime");
            } else {
                check(p.lease->acquire_time == s.now, "new acquisition: acquireTime = now");
            }
        }
        if (p.requeue_after) check(*p.requeue_after >= 0ms, "requeue_after not negative");
        check(p.status.leader == p.leader && p.status.term == p.term, "status: the plan's leader and term");
        check(p.status.observed_generation == s.generation, "status: observedGeneration");
        check(p.status.candidates_total == static_cast<std::int32_t>(s.candidates.size()), "status: candidates.total");
        check(cond_status(p.status, conditions::invalid_spec) == "False", "status: InvalidSpec False");
        const bool leader_eligible = std::any_of(j.eligible.begin(), j.eligible.end(),
                                                 [&](const candidate* c) { return c->pod.meta.name == p.leader; });
        check((cond_status(p.status, conditions::ready) == "True") == leader_eligible,
              "status: Ready True iff the leader is eligible");
        if (leader_eligible) {
            check(cond_status(p.status, conditions::leader_elected) == "True",
                  "status: LeaderElected True with an eligible leader");
        }
        const pod_state expected_holder_state =
            j.holder.empty() ? pod_state::eligible : j.holder_state.value_or(pod_state::confirmed_gone);
        check(p.holder_state == expected_holder_state, "plan.holder_state");
        if (!p.leader.empty()) check(p.term >= j.lease_term, "the leader's term is never behind the Lease");
        if (p.change) {
            check(p.change->to == p.leader && p.change->term == p.term, "change: to the plan's leader and term");
        }

        // A promote that only repairs the holder's label or term.
        const bool repair_only = !p.promote || (p.promote->name == j.holder && p.promote->term == j.lease_term);
        if (j.holder_state == pod_state::eligible && !j.holder_c->current_revision &&
            std::any_of(j.eligible.begin(), j.eligible.end(), [](const candidate* c) { return c->current_revision; })) {
            // Rollout (minReadySeconds 0): to an eligible pod of the current revision.
            const bool to_current = std::any_of(j.eligible.begin(), j.eligible.end(), [&](const candidate* c) {
                return c->current_revision && c->pod.meta.name == p.leader;
            });
            if (p.change && p.change->reason == "Rollout") {
                check(to_current, "eligible holder of an old revision: Rollout to an eligible current pod");
            } else {
                check(p.leader == j.holder && p.change && (p.change->reason == "TermRepaired" || p.change->reason == "LeaseEdited"),
                      "eligible holder of an old revision: Rollout unless the Lease term is repaired first");
            }
            continue;
        }
        if (j.holder_state == pod_state::eligible) {
            ++stable;
            check(repair_only, "eligible holder: a promote only repairs the holder");
            check(p.leader == j.holder, "eligible holder: keeps leading");
            check(p.term == j.lease_term, "eligible holder: its term is the Lease's");
            if (j.status_in_sync) check(!p.change, "eligible holder, status in sync: no transition reported");
            if (p.lease) check(p.renewal, "eligible holder: the Lease write is only a renewal");
            const bool due = s.first_sight || s.lease_unchanged_for >= s.spec.retry_period;
            check(p.lease.has_value() == due, "eligible holder: renewed iff first sight or retryPeriod passed");
            check(p.requeue_after.has_value() && *p.requeue_after <= s.spec.retry_period,
                  "eligible holder: requeue within retryPeriod");
            if (!due && p.requeue_after) {
                check(*p.requeue_after == s.spec.retry_period - s.lease_unchanged_for,
                      "eligible holder: requeue at the next renewal");
            }
            continue;
        }
        if (j.eligible.empty()) {
            ++none;
            check(repair_only, "no eligible pod: no promote (but the holder's repair)");
            check(!p.lease, "no eligible pod: no Lease write");
            check(cond_status(p.status, conditions::leader_elected) == "False", "no eligible pod: LeaderElected False");
            if (j.status_in_sync) check(!p.change, "no eligible pod, status in sync: no transition reported");
            continue;
        }
        const milliseconds unrenewed = std::min(s.lease_unchanged_for, s.holder_unhealthy_for);
        const bool expired = s.spec.policy == not_ready_policy::immediate || unrenewed > s.spec.lease_duration;
        if (j.holder_state == pod_state::possibly_alive && !expired) {
            ++waiting;
            check(p.leader == j.holder, "possibly-alive holder before expiry: keeps the lead");
            check(!p.lease, "possibly-alive holder before expiry: no Lease write");
            check(repair_only, "possibly-alive holder before expiry: a promote only repairs the holder");
            if (j.status_in_sync) check(!p.change, "possibly-alive holder before expiry: no transition reported");
            check(p.requeue_after == s.spec.lease_duration - unrenewed,
                  "possibly-alive holder before expiry: requeue at the expiry");
            continue;
        }
        ++handovers;
        const candidate* best = *std::min_element(j.eligible.begin(), j.eligible.end(),
                                                  [](const candidate* a, const candidate* b) { return leads_before(*a, *b); });
        const std::int64_t new_term = std::max(j.lease_term, s.status.term) + 1;
        // Without a holder, keeping the status' leader (if eligible) is as good as the first in order.
        const bool status_leader_eligible =
            j.holder.empty() && std::any_of(j.eligible.begin(), j.eligible.end(),
                                    [&](const candidate* c) { return c->pod.meta.name == s.status.leader; });
        const char* rule = j.holder_state == pod_state::possibly_alive ? "possibly-alive holder after expiry: hand over"
                           : j.holder_state == pod_state::confirmed_gone ? "confirmed-gone holder: hand over"
                           : j.holder.empty()                         ? "no holder: elect"
                                                                      : "holder not a candidate: hand over";
        // With no holder, or a holder that is neither a candidate nor the
        // status's leader (an edited Lease), the group's leader leads on if
        // eligible: the status's leader, else (none on record) the first
        // eligible labelled pod in order. With a term on record that the
        // Lease does not exceed, in the same term (a repair).
        const candidate* incumbent = nullptr;
        if (j.holder.empty() || (j.holder_c == nullptr && j.holder != s.status.leader)) {
            auto in_order = j.eligible;
            std::sort(in_order.begin(), in_order.end(),
                      [](const candidate* a, const candidate* b) { return leads_before(*a, *b); });
            for (const candidate* c : in_order) {
                if (c->pod.meta.name == s.status.leader) incumbent = c;
            }
            for (const candidate* c : in_order) {
                const std::string* label = kube::find_label(c->pod.meta.labels, s.spec.leader_label_key);
                if (incumbent == nullptr && label != nullptr && *label == s.spec.leader_label_value) incumbent = c;
            }
        }
        (void)status_leader_eligible;
        const std::string* incumbent_term =
            incumbent != nullptr ? kube::find_label(incumbent->pod.meta.annotations, term_annotation) : nullptr;
        const bool holds_term = incumbent != nullptr && (incumbent->pod.meta.name == s.status.leader ||
                                                         (incumbent_term != nullptr &&
                                                          *incumbent_term == std::to_string(s.status.term)));
        if (holds_term && s.status.term > 0 && j.lease_term <= s.status.term) {
            check(p.leader == incumbent->pod.meta.name && p.term == s.status.term,
                  std::string(rule) + ": the eligible incumbent leads on in its term");
            check(p.lease && !p.renewal && p.lease->lease_transitions == s.status.term - 1 && !p.repairs.empty(),
                  std::string(rule) + ": the Lease is repaired for the incumbent");
            continue;
        }
        const std::string expected = incumbent != nullptr ? incumbent->pod.meta.name : best->pod.meta.name;
        check(p.leader == expected,
              std::string(rule) + " to the first eligible pod in order (the eligible incumbent first)");
        check(p.term == new_term, std::string(rule) + " in term max(lease, status) + 1");
        check(p.lease && !p.renewal, std::string(rule) + " with a Lease write (not a renewal)");
        // No promote needed when the new leader already carries the label and the new term.
        const auto marked_for = [&](const std::string& name, std::int64_t term) {
            if (!j.by_name.contains(name)) return false;
            const kube::pod& pod = j.by_name.at(name)->pod;
            const std::string* t = kube::find_label(pod.meta.annotations, term_annotation);
            return is_labelled(pod, s.spec) && t != nullptr && *t == std::to_string(term);
        };
        check(p.promote.has_value() || marked_for(p.leader, p.term), std::string(rule) + " with a promote");
        check(p.change && p.change->to == p.leader && (!s.lease || p.change->from == j.holder),
              std::string(rule) + " reporting the change from the old holder");
        check(p.status.last_transition_time == s.now, std::string(rule) + ": lastTransitionTime = now");
    }
    v.report();
    // The generator does reach every branch.
    EXPECT_GT(handovers, 1000);
    EXPECT_GT(stable, 200);
    EXPECT_GT(waiting, 40);
    EXPECT_GT(none, 200);
}

TEST(election_decide_property, no_other_pod_keeps_the_label_or_term) {
    // Stronger than the promote invariant: whatever the plan, no candidate
    // other than its leader keeps the leader label or a term annotation.
    std::mt19937 rng(99);
    violations v;
    for (int i = 0; i < 3000; ++i) {
        const random_world w = random_snapshot(rng, i % 5 == 4);
        const snapshot& s = w.s;
        const plan p = decide(s);
        const auto example = [&] { return "case " + std::to_string(i) + ": " + w.trace + "\n  plan: " + describe(p); };
        const auto demoted_names = demote_set(p);
        for (const auto& c : s.candidates) {
            if (c.pod.meta.name == p.leader) continue;
            if (is_labelled(c.pod, s.spec)) {
                v.check(demoted_names.contains(c.pod.meta.name), "a candidate other than the leader keeps the label",
                        example);
            } else if (has_term(c.pod)) {
                v.check(demoted_names.contains(c.pod.meta.name),
                        "a candidate other than the leader keeps a term annotation", example);
            }
        }
    }
    v.report();
}

// Carries a plan out as the controller would, and returns the next snapshot.
snapshot carried_out(const snapshot& s, const plan& p) {
    snapshot next = s;
    const auto demoted_names = demote_set(p);
    const auto unmark = [&](kube::pod& pod) {
        std::erase_if(pod.meta.labels, [&](const auto& kv) { return kv.first == s.spec.leader_label_key; });
        std::erase_if(pod.meta.annotations, [](const auto& kv) { return kv.first == term_annotation; });
    };
    for (auto& c : next.candidates) {
        if (demoted_names.contains(c.pod.meta.name)) {
            unmark(c.pod);
            c.pod.meta.resource_version += "-demoted";
        }
        if (p.promote && c.pod.meta.name == p.promote->name) {
            unmark(c.pod);
            set_label(c.pod, s.spec.leader_label_key, s.spec.leader_label_value);
            set_annotation(c.pod, std::string(term_annotation), std::to_string(p.promote->term));
            c.pod.meta.resource_version += "-promoted";
        }
    }
    if (next.stray_holder && demoted_names.contains(next.stray_holder->meta.name)) unmark(*next.stray_holder);
    if (p.lease) {
        next.lease = *p.lease;
        next.lease->meta.resource_version = "lease-rv-next";
        next.lease_unchanged_for = 0ms;
        next.first_sight = false;
        if (!p.renewal) {
            for (const auto& c : next.candidates) {
                if (c.pod.meta.name == p.leader) next.holder_restart_baseline = restarts(c.pod);
            }
            if (next.stray_holder && next.stray_holder->meta.name != p.leader) next.stray_holder.reset();
        }
    }
    next.status = p.status;
    return next;
}

void check_fixed_point(bool status_ahead, std::uint32_t seed) {
    // Deciding again at once on the carried-out plan moves nothing more.
    std::mt19937 rng(seed);
    violations v;
    int carried = 0;
    const std::string prefix = status_ahead ? "status ahead of the Lease: " : "";
    for (int i = 0; i < 3000; ++i) {
        const random_world w = random_snapshot(rng, status_ahead);
        const plan p = decide(w.s);
        if (!p.promote && p.demote.empty() && !p.change) continue;
        ++carried;
        const plan q = decide(carried_out(w.s, p));
        const auto example = [&] {
            return "case " + std::to_string(i) + ": " + w.trace + "\n  plan: " + describe(p) + "\n  then: " + describe(q);
        };
        // A leader kept (or elected) on an old revision is handed to the
        // current revision next: a new rule firing, not an unfinished plan.
        if (q.change && q.change->reason == "Rollout") continue;
        v.check(q.demote.empty(), prefix + "carried-out plan: no further demote", example);
        v.check(!q.promote, prefix + "carried-out plan: no further promote", example);
        v.check(!q.change, prefix + "carried-out plan: no further transition reported", example);
        v.check(q.leader == p.leader && q.term == p.term, prefix + "carried-out plan: same leader and term", example);
        if (status_ahead && p.promote) {
            // Except the status's own leader restored in its own term (the
            // Lease named a pod that is not a candidate).
            const bool restored = p.promote->name == w.s.status.leader && p.promote->term == w.s.status.term;
            v.check(p.promote->term > w.s.status.term || restored,
                    prefix + "a promote never stamps a term at or below status.term (but the leader's own)", example);
        }
    }
    v.report();
    EXPECT_GT(carried, 300);
}

TEST(election_decide_property, deciding_on_the_carried_out_plan_is_a_fixed_point) {
    check_fixed_point(false, 4242);
}

TEST(election_decide_property, status_ahead_of_the_lease_converges_without_going_back) {
    // The status says a later term than the Lease (the Lease was deleted and
    // recreated by someone else, or edited): terms must not go back, and
    // elector must not report a transition on every reconcile.
    check_fixed_point(true, 777);
}

// ---------------------------------------------------------------- malformed cluster data

// A Lease cannot record a term beyond max_term (leaseTransitions is an
// int32). A handover that would need one writes nothing, demotes nobody and
// says why: before, the old leader was demoted and every Lease write was
// refused (422) forever, with no condition.
TEST(election_decide_malformed, a_term_beyond_what_a_lease_records_blocks_the_handover) {
    constexpr std::int32_t most = std::numeric_limits<std::int32_t>::max();
    {
        SCOPED_TRACE("the holder a, of the largest term, is deleted");
        snapshot s = steady();
        s.lease->lease_transitions = most;
        led_by(s, "a", max_term);
        s.candidates.erase(s.candidates.begin());
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        EXPECT_TRUE(p.demote.empty());
        EXPECT_FALSE(p.lease.has_value());
        EXPECT_FALSE(p.promote.has_value());
        EXPECT_FALSE(p.change.has_value());
        EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
        EXPECT_EQ(cond_reason(p.status, conditions::ready), "TermExhausted");
        EXPECT_EQ(cond_reason(p.status, conditions::leader_elected), "TermExhausted");
        EXPECT_EQ(cond_status(p.status, conditions::invalid_spec), "False");
        const auto* c = p.status.find(conditions::leader_elected);
        ASSERT_NE(c, nullptr);
        EXPECT_NE(c->message.find("2147483648"), std::string::npos) << c->message;
        EXPECT_NE(c->message.find("recreate ElectionGroup db"), std::string::npos) << c->message;
        EXPECT_EQ(p.status.term, max_term);
        EXPECT_EQ(p.status.leader, "a");
    }
    {
        SCOPED_TRACE("the status holds the largest term, the Lease less: a crashed holder is not replaced");
        snapshot s = steady();
        led_by(s, "a", max_term);
        find_cand(s, "a").pod = crashed(find_cand(s, "a").pod);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        EXPECT_TRUE(p.demote.empty());
        EXPECT_FALSE(p.lease.has_value());
        EXPECT_EQ(cond_reason(p.status, conditions::ready), "TermExhausted");
    }
    {
        SCOPED_TRACE("one term left: the handover takes it");
        snapshot s = steady();
        s.lease->lease_transitions = most - 1;
        led_by(s, "a", max_term - 1);
        s.candidates.erase(s.candidates.begin());
        const plan p = decide(s);
        expect_handover(p, s, "a", "b", max_term);
        ASSERT_TRUE(p.lease.has_value());
        EXPECT_EQ(p.lease->lease_transitions, most);
    }
    {
        SCOPED_TRACE("the largest term, leader eligible: renewed as usual");
        snapshot s = steady(2500ms);
        s.lease->lease_transitions = most;
        led_by(s, "a", max_term);
        find_cand(s, "a").pod = leader(make_pod("a", 3600s), max_term);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        expect_no_transition(p);
        ASSERT_TRUE(p.lease.has_value());
        EXPECT_TRUE(p.renewal);
        EXPECT_EQ(p.lease->lease_transitions, most);
        EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
    }
    {
        SCOPED_TRACE("a status.term beyond the range (not from from_json) never overflows");
        snapshot s = steady();
        led_by(s, "a", std::numeric_limits<std::int64_t>::max());
        s.lease.reset();  // repair in the status's term
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        EXPECT_FALSE(p.lease.has_value());
        EXPECT_EQ(cond_reason(p.status, conditions::ready), "TermExhausted");
    }
}

// Ready times the API server accepts but a nanosecond clock cannot subtract
// (year 1700; 2262): no overflow (UBSan aborts on one), and a sane reading.
TEST(election_decide_malformed, ready_times_far_from_now_during_a_rollout) {
    snapshot s = steady();
    find_cand(s, "a").current_revision = false;
    s.min_ready_seconds = 30;
    find_cand(s, "b").pod.ready_since = test_support::at("1700-01-01T00:00:00Z");
    find_cand(s, "c").pod.ready_since = test_support::at("1700-01-02T00:00:00Z");
    expect_handover(decide(s), s, "a", "b", 6, "Rollout");  // Ready for centuries

    // Ready "since" the far future counts as Ready from now: it qualifies
    // after minReadySeconds, not centuries later.
    find_cand(s, "b").pod.ready_since = test_support::at("2262-01-01T00:00:00Z");
    find_cand(s, "c").pod.ready_since = test_support::at("2262-01-01T00:00:00Z");
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    expect_no_transition(p);
    ASSERT_TRUE(p.requeue_after.has_value());
    EXPECT_LE(*p.requeue_after, 30000ms);
}

// Every pod that is not eligible is named with why (three at most).
TEST(election_decide_malformed, no_eligible_candidate_names_the_pods_and_why) {
    snapshot s = make_snapshot({cand(make_pod("a"), std::nullopt), cand(not_ready(make_pod("b")))});
    find_cand(s, "a").pod.phase = "";
    find_cand(s, "a").pod.node_name = "no-such-node";
    plan p = decide(s);
    const auto* c = p.status.find(conditions::leader_elected);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->reason, "NoEligibleCandidate");
    EXPECT_EQ(c->message, "none of the 2 pods of Deployment web is eligible: a (its node no-such-node is unreachable "
                          "or unknown), b (it is not Ready)");

    snapshot many = make_snapshot({});
    for (const char* name : {"p1", "p2", "p3", "p4", "p5"}) many.candidates.push_back(cand(not_ready(make_pod(name))));
    p = decide(many);
    c = p.status.find(conditions::leader_elected);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->message.ends_with("p1 (it is not Ready), p2 (it is not Ready), p3 (it is not Ready) and 2 more"))
        << c->message;

    // The holder is described once, in its own clause.
    snapshot held = steady();
    for (auto& x : held.candidates) x.pod.phase = "Failed";
    p = decide(held);
    c = p.status.find(conditions::leader_elected);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->message, "none of the 3 pods of Deployment web is eligible: b (phase Failed), c (phase Failed); "
                          "leader a keeps the label (phase Failed)");
}

std::string utf8_e_acute(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += "\xC3\xA9";  // é
    return out;
}

// A garbage term annotation on the leader is restored; the message quotes it,
// shortened when long.
TEST(election_decide_malformed, garbage_term_annotations_are_quoted_and_shortened) {
    for (const std::string& garbage : {std::string("abc"), std::string("-5"), std::string("99999999999999999999"),
                                       std::string(""), std::string(300, 'x'), "x" + utf8_e_acute(50)}) {
        SCOPED_TRACE(garbage.substr(0, 20));
        snapshot s = steady();
        auto& a = find_cand(s, "a").pod;
        a.meta.annotations = {{std::string(term_annotation), garbage}};
        // b carries the garbage too: a follower's term goes, whatever it says.
        set_annotation(find_cand(s, "b").pod, std::string(term_annotation), garbage);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        ASSERT_TRUE(p.promote.has_value());
        EXPECT_EQ(p.promote->name, "a");
        EXPECT_EQ(p.promote->term, 5);
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"b"}));
        EXPECT_FALSE(p.change.has_value());
        ASSERT_FALSE(p.repairs.empty());
        std::string all;
        for (const auto& r : p.repairs) all += r + "\n";
        EXPECT_LT(all.size(), 400u) << all;
        if (garbage.size() <= 64) {
            EXPECT_NE(all.find("(it had \"" + garbage + "\")"), std::string::npos) << all;
        } else {
            EXPECT_NE(all.find(std::to_string(garbage.size()) + " bytes"), std::string::npos) << all;
            EXPECT_EQ(all.find("\xC3\xE2"), std::string::npos) << "cut inside a UTF-8 sequence: " << all;
        }
    }
}

}  // namespace
}  // namespace elector::election
