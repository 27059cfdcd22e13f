// decide(): the lifecycle rules (Rollout, Preferred, Paused) and drift
// repair, tested against the contract in election/decide.hpp.
#include "election/decide.hpp"

#include "decide_support.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace elector::election {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

using namespace test_support;

// Holder `a` of steady() keeps leading in term 5; `renew`: the Lease is renewed.
void expect_steady_a(const plan& p, bool renew) {
    SCOPED_TRACE(describe(p));
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
    EXPECT_EQ(p.status.leader, "a");
    EXPECT_EQ(p.status.term, 5);
    EXPECT_EQ(p.lease.has_value(), renew);
    if (p.lease) {
        EXPECT_TRUE(p.renewal);
        EXPECT_EQ(p.lease->holder_identity, "a");
        EXPECT_EQ(p.lease->lease_transitions, 4);
    }
    EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "True");
}

// ---------------------------------------------------------------- Rollout

// a (holder, old revision); b and c of the current revision, Ready 1800s / 900s.
snapshot rollout_world(std::int32_t min_ready_seconds) {
    snapshot s = steady();
    find_cand(s, "a").current_revision = false;
    s.min_ready_seconds = min_ready_seconds;
    return s;
}

TEST(decide_lifecycle_rollout, old_revision_holder_hands_over_to_a_current_pod_ready_long_enough) {
    for (std::int32_t min_ready : {0, 60, 900, 1800}) {
        SCOPED_TRACE("minReadySeconds " + std::to_string(min_ready));
        const snapshot s = rollout_world(min_ready);
        const plan p = decide(s);
        expect_handover(p, s, "a", "b", 6, "Rollout");  // b: first by leads_before among those qualifying
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
        EXPECT_EQ(p.demote[0].resource_version, "rv-a");
        EXPECT_EQ(p.holder_state, pod_state::eligible);
        EXPECT_TRUE(p.repairs.empty()) << describe(p);
    }
}

TEST(decide_lifecycle_rollout, only_pods_ready_long_enough_qualify) {
    // c (900s) qualifies, b is of the old revision too: c takes over.
    snapshot s = rollout_world(600);
    find_cand(s, "b").current_revision = false;
    expect_handover(decide(s), s, "a", "c", 6, "Rollout");
    // b current but Ready only 100s, c 900s: c.
    s = rollout_world(600);
    find_cand(s, "b").pod = make_pod("b", 100s);
    expect_handover(decide(s), s, "a", "c", 6, "Rollout");
}

TEST(decide_lifecycle_rollout, not_ready_long_enough_waits_and_requeues_when_it_will_be) {
    // b Ready 29s, c 10s, minReadySeconds 30: b qualifies in 1s, before the
    // next renewal (1500ms).
    snapshot s = rollout_world(30);
    find_cand(s, "b").pod = make_pod("b", 29s);
    find_cand(s, "c").pod = make_pod("c", 10s);
    plan p = decide(s);
    expect_steady_a(p, false);
    EXPECT_EQ(p.requeue_after, 1000ms) << describe(p);
    EXPECT_TRUE(p.requeue_may_hand_over);  // the rollout handover is due then

    // The renewal comes first: requeue for it (never later than it).
    s.min_ready_seconds = 300;
    p = decide(s);
    expect_steady_a(p, false);
    EXPECT_EQ(p.requeue_after, 1500ms) << describe(p);
    EXPECT_FALSE(p.requeue_may_hand_over);

    // Renewal due: renewed, and requeued for the rollout (1s < retryPeriod).
    s.min_ready_seconds = 30;
    s.lease_unchanged_for = 2500ms;
    p = decide(s);
    expect_steady_a(p, true);
    EXPECT_EQ(p.requeue_after, 1000ms) << describe(p);
    EXPECT_TRUE(p.requeue_may_hand_over);

    // Exactly minReadySeconds: ready_since + min_ready_seconds <= now.
    s.lease_unchanged_for = 500ms;
    find_cand(s, "b").pod = make_pod("b", 30s);
    expect_handover(decide(s), s, "a", "b", 6, "Rollout");
}

TEST(decide_lifecycle_rollout, nothing_when_the_holder_is_current_or_no_current_pod_is_eligible) {
    {
        SCOPED_TRACE("holder of the current revision");
        snapshot s = steady();
        s.min_ready_seconds = 0;
        const plan p = decide(s);
        expect_steady_a(p, false);
        EXPECT_EQ(p.requeue_after, 1500ms);
    }
    {
        SCOPED_TRACE("every pod of the old revision");
        snapshot s = rollout_world(0);
        find_cand(s, "b").current_revision = false;
        find_cand(s, "c").current_revision = false;
        expect_steady_a(decide(s), false);
    }
    {
        SCOPED_TRACE("current pods not eligible");
        snapshot s = rollout_world(0);
        find_cand(s, "b").pod = not_ready(find_cand(s, "b").pod);
        find_cand(s, "c").node_ready = false;
        expect_steady_a(decide(s), false);
    }
}

TEST(decide_lifecycle_rollout, goes_to_the_preferred_pod_when_it_qualifies) {
    snapshot s = rollout_world(60);
    s.spec.preferred_leader = "c";
    const plan p = decide(s);
    expect_handover(p, s, "a", "c", 6, "Rollout");  // reason Rollout, not Preferred
    EXPECT_FALSE(p.preferred_handover);
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
}

TEST(decide_lifecycle_rollout, a_preferred_pod_that_does_not_qualify_is_passed_over) {
    struct row {
        const char* name;
        std::function<void(snapshot&)> change;
    };
    const row rows[] = {
        {"preferred Ready too briefly", [](snapshot& s) { find_cand(s, "c").pod = make_pod("c", 30s); }},
        {"preferred of the old revision", [](snapshot& s) { find_cand(s, "c").current_revision = false; }},
        {"preferred not eligible", [](snapshot& s) { find_cand(s, "c").pod = not_ready(find_cand(s, "c").pod); }},
        {"preferred not a candidate", [](snapshot& s) { s.spec.preferred_leader = "ghost"; }},
        {"preferred is the old holder", [](snapshot& s) { s.spec.preferred_leader = "a"; }},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        snapshot s = rollout_world(60);
        s.spec.preferred_leader = "c";
        r.change(s);
        expect_handover(decide(s), s, "a", "b", 6, "Rollout");
    }
}

TEST(decide_lifecycle_rollout, paused_starts_no_rollout) {
    snapshot s = rollout_world(0);
    s.spec.paused = true;
    expect_steady_a(decide(s), false);
    s.lease_unchanged_for = 2500ms;
    const plan p = decide(s);
    expect_steady_a(p, true);  // renewed as usual
    EXPECT_EQ(cond_status(p.status, conditions::paused), "True");
}

// ---------------------------------------------------------------- Preferred

TEST(decide_lifecycle_preferred, hands_over_to_the_preferred_pod) {
    for (std::optional<milliseconds> since : {std::optional<milliseconds>{}, std::optional<milliseconds>{15000ms},
                                              std::optional<milliseconds>{60000ms}}) {
        SCOPED_TRACE(since ? "last preferred handover " + std::to_string(since->count()) + "ms ago"
                           : "no preferred handover yet");
        snapshot s = steady();
        s.spec.preferred_leader = "c";
        s.since_preferred_handover = since;
        const plan p = decide(s);
        expect_handover(p, s, "a", "c", 6, "Preferred");
        EXPECT_TRUE(p.preferred_handover);
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
        EXPECT_TRUE(p.repairs.empty()) << describe(p);
    }
}

TEST(decide_lifecycle_preferred, at_most_once_per_lease_duration) {
    snapshot s = steady();
    s.spec.preferred_leader = "c";
    s.since_preferred_handover = 14500ms;  // allowed in 500ms, before the renewal (1500ms)
    plan p = decide(s);
    expect_steady_a(p, false);
    EXPECT_EQ(p.requeue_after, 500ms) << describe(p);

    s.since_preferred_handover = 5000ms;  // allowed in 10s: the renewal comes first
    p = decide(s);
    expect_steady_a(p, false);
    EXPECT_EQ(p.requeue_after, 1500ms) << describe(p);

    s.spec.lease_duration = 30s;
    s.spec.renew_deadline = 20s;
    s.lease->lease_duration_seconds = 30;  // else the Lease is rewritten for the new duration
    s.since_preferred_handover = 29900ms;  // follows the spec's leaseDuration
    p = decide(s);
    expect_steady_a(p, false);
    EXPECT_EQ(p.requeue_after, 100ms) << describe(p);
    s.since_preferred_handover = 30000ms;
    expect_handover(decide(s), s, "a", "c", 6, "Preferred");
}

TEST(decide_lifecycle_preferred, nothing_when_the_preferred_pod_cannot_or_need_not_lead) {
    struct row {
        const char* name;
        std::function<void(snapshot&)> change;
    };
    const row rows[] = {
        {"no preference", [](snapshot& s) { s.spec.preferred_leader = ""; }},
        {"not ready", [](snapshot& s) { find_cand(s, "c").pod = not_ready(find_cand(s, "c").pod); }},
        {"node NotReady", [](snapshot& s) { find_cand(s, "c").node_ready = false; }},
        {"terminating", [](snapshot& s) { find_cand(s, "c").pod.meta.deletion_timestamp = now - 1s; }},
        {"opted out",
         [](snapshot& s) { set_annotation(find_cand(s, "c").pod, std::string(candidate_annotation), "false"); }},
        {"crashed", [](snapshot& s) { find_cand(s, "c").pod = crashed(find_cand(s, "c").pod); }},
        {"not a candidate", [](snapshot& s) { s.spec.preferred_leader = "ghost"; }},
        {"already the holder", [](snapshot& s) { s.spec.preferred_leader = "a"; }},
        {"old revision while the holder is current", [](snapshot& s) { find_cand(s, "c").current_revision = false; }},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        snapshot s = steady();
        s.spec.preferred_leader = "c";
        r.change(s);
        const plan p = decide(s);
        expect_steady_a(p, false);
        EXPECT_EQ(p.requeue_after, 1500ms) << describe(p);
    }
}

TEST(decide_lifecycle_preferred, old_revision_preferred_pod_when_the_holder_is_old_too) {
    snapshot s = steady();
    for (auto& c : s.candidates) c.current_revision = false;
    s.spec.preferred_leader = "c";
    const plan p = decide(s);
    expect_handover(p, s, "a", "c", 6, "Preferred");
    EXPECT_TRUE(p.preferred_handover);
}

TEST(decide_lifecycle_preferred, failover_goes_to_the_preferred_pod_if_eligible) {
    {
        SCOPED_TRACE("holder deleted, c preferred (b is first by leads_before)");
        snapshot s = steady();
        s.candidates.erase(s.candidates.begin());
        s.spec.preferred_leader = "c";
        const plan p = decide(s);
        expect_handover(p, s, "a", "c", 6, "LeaderDeleted");
        EXPECT_TRUE(p.demote.empty());
    }
    {
        SCOPED_TRACE("holder crashed, c preferred, a preferred handover just happened");
        snapshot s = steady();
        find_cand(s, "a").pod = crashed(find_cand(s, "a").pod);
        s.spec.preferred_leader = "c";
        s.since_preferred_handover = 1000ms;  // limits Preferred handovers, not failovers
        const plan p = decide(s);
        expect_handover(p, s, "a", "c", 6, "LeaderCrashed");
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
    }
    {
        SCOPED_TRACE("holder NotReady past expiry, c preferred");
        snapshot s = steady(16000ms);
        s.holder_unhealthy_for = 16000ms;
        find_cand(s, "a").pod = not_ready(find_cand(s, "a").pod);
        s.spec.preferred_leader = "c";
        const plan p = decide(s);
        ASSERT_TRUE(p.change.has_value()) << describe(p);
        expect_handover(p, s, "a", "c", 6, p.change->reason);
        EXPECT_EQ(p.holder_state, pod_state::possibly_alive);
    }
    {
        SCOPED_TRACE("holder deleted, preferred c of the old revision (eligible all the same)");
        snapshot s = steady();
        s.candidates.erase(s.candidates.begin());
        find_cand(s, "c").current_revision = false;
        s.spec.preferred_leader = "c";
        expect_handover(decide(s), s, "a", "c", 6, "LeaderDeleted");
    }
    {
        SCOPED_TRACE("holder deleted, preferred c not eligible: first by leads_before");
        snapshot s = steady();
        s.candidates.erase(s.candidates.begin());
        find_cand(s, "c").node_ready = false;
        s.spec.preferred_leader = "c";
        expect_handover(decide(s), s, "a", "b", 6, "LeaderDeleted");
    }
}

// ---------------------------------------------------------------- Paused

void expect_paused_condition(const plan& p, const snapshot& s) {
    SCOPED_TRACE(describe(p));
    const condition* c = p.status.find(conditions::paused);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, s.spec.paused ? "True" : "False");
    EXPECT_EQ(c->reason, s.spec.paused ? "Paused" : "NotPaused");
    EXPECT_EQ(c->observed_generation, s.generation);
}

TEST(decide_lifecycle_paused, eligible_holder_is_renewed_and_nothing_moves) {
    for (milliseconds unchanged : {500ms, 2500ms}) {
        SCOPED_TRACE(std::to_string(unchanged.count()) + "ms since the last write");
        snapshot s = steady(unchanged);
        s.spec.paused = true;
        find_cand(s, "a").current_revision = false;  // a rollout would move it
        s.spec.preferred_leader = "c";               // and so would the preference
        const plan p = decide(s);
        expect_steady_a(p, unchanged >= 2s);
        EXPECT_EQ(p.requeue_after, unchanged >= 2s ? 2000ms : 2000ms - unchanged) << describe(p);
        expect_paused_condition(p, s);
        EXPECT_EQ(cond_reason(p.status, conditions::leader_elected), "Elected");
    }
}

TEST(decide_lifecycle_paused, not_paused_says_so) {
    const snapshot s = steady();
    const plan p = decide(s);
    expect_paused_condition(p, s);
}

TEST(decide_lifecycle_paused, no_failover_while_paused) {
    struct row {
        const char* name;
        std::function<void(snapshot&)> change;
        pod_state holder_state;
    };
    const row rows[] = {
        {"holder deleted", [](snapshot& s) { s.candidates.erase(s.candidates.begin()); }, pod_state::confirmed_gone},
        {"holder crashed", [](snapshot& s) { find_cand(s, "a").pod = crashed(find_cand(s, "a").pod); },
         pod_state::confirmed_gone},
        {"holder terminating", [](snapshot& s) { find_cand(s, "a").pod.meta.deletion_timestamp = now - 1s; },
         pod_state::confirmed_gone},
        {"holder NotReady, lease fresh",
         [](snapshot& s) { find_cand(s, "a").pod = not_ready(find_cand(s, "a").pod); }, pod_state::possibly_alive},
        {"holder NotReady, lease long expired",
         [](snapshot& s) {
             find_cand(s, "a").pod = not_ready(find_cand(s, "a").pod);
             s.lease_unchanged_for = 60s;
             s.holder_unhealthy_for = 60s;
         },
         pod_state::possibly_alive},
        {"holder's node unknown, lease long expired",
         [](snapshot& s) {
             find_cand(s, "a").node_ready.reset();
             s.lease_unchanged_for = 60s;
             s.holder_unhealthy_for = 60s;
         },
         pod_state::possibly_alive},
    };
    for (const auto& r : rows) {
        for (not_ready_policy policy : {not_ready_policy::wait_for_lease_expiry, not_ready_policy::immediate}) {
            SCOPED_TRACE(std::string(r.name) + " / " + std::string(to_string(policy)));
            snapshot s = steady();
            s.spec.paused = true;
            s.spec.policy = policy;
            s.spec.preferred_leader = "c";
            r.change(s);
            const plan p = decide(s);
            SCOPED_TRACE(describe(p));
            EXPECT_FALSE(p.lease.has_value());  // neither renewed nor taken
            EXPECT_FALSE(p.promote.has_value());
            EXPECT_TRUE(p.demote.empty());  // the holder keeps its label
            EXPECT_FALSE(p.change.has_value());
            EXPECT_FALSE(p.preferred_handover);
            EXPECT_EQ(p.leader, "a");
            EXPECT_EQ(p.term, 5);
            EXPECT_EQ(p.status.leader, "a");
            EXPECT_EQ(p.status.term, 5);
            EXPECT_EQ(p.holder_state, r.holder_state);
            EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
            EXPECT_EQ(cond_reason(p.status, conditions::leader_elected), "Paused");
            EXPECT_EQ(cond_status(p.status, conditions::ready), "False");
            expect_paused_condition(p, s);
        }
    }
}

TEST(decide_lifecycle_paused, no_election_without_a_leader) {
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))});
    s.spec.paused = true;
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_FALSE(p.lease.has_value());
    expect_no_transition(p);
    EXPECT_EQ(p.leader, "");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "False");
    EXPECT_EQ(cond_reason(p.status, conditions::leader_elected), "Paused");
    expect_paused_condition(p, s);

    // A released Lease is not taken either.
    s.lease = make_lease("", 4);
    s.status.term = 5;
    const plan q = decide(s);
    SCOPED_TRACE(describe(q));
    EXPECT_FALSE(q.lease.has_value());
    expect_no_transition(q);
    EXPECT_EQ(cond_reason(q.status, conditions::leader_elected), "Paused");
}

TEST(decide_lifecycle_paused, drift_is_still_repaired) {
    {
        SCOPED_TRACE("a follower carries the label");
        snapshot s = steady();
        s.spec.paused = true;
        find_cand(s, "b").pod = leader(make_pod("b", 1800s), 4);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"b"}));
        EXPECT_EQ(p.demote[0].resource_version, "rv-b");
        EXPECT_FALSE(p.promote.has_value());
        EXPECT_FALSE(p.change.has_value());
        EXPECT_FALSE(p.repairs.empty());
        EXPECT_EQ(p.leader, "a");
    }
    {
        SCOPED_TRACE("the holder lost its label");
        snapshot s = steady();
        s.spec.paused = true;
        find_cand(s, "a").pod = make_pod("a", 3600s);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        ASSERT_TRUE(p.promote.has_value());
        EXPECT_EQ(p.promote->name, "a");
        EXPECT_EQ(p.promote->term, 5);
        EXPECT_FALSE(p.change.has_value());
        EXPECT_FALSE(p.repairs.empty());
    }
    {
        SCOPED_TRACE("the Lease was deleted, the labelled leader is fine");
        snapshot s = steady();
        s.spec.paused = true;
        s.lease.reset();
        s.lease_unchanged_for = 0ms;
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        ASSERT_TRUE(p.lease.has_value());
        EXPECT_TRUE(p.create_lease);
        EXPECT_EQ(p.lease->holder_identity, "a");
        EXPECT_EQ(p.lease->lease_transitions, 4);
        EXPECT_EQ(p.term, 5);
        EXPECT_FALSE(p.change.has_value());
        EXPECT_FALSE(p.promote.has_value());
        EXPECT_FALSE(p.repairs.empty());
    }
}

// ---------------------------------------------------------------- drift

TEST(decide_lifecycle_drift, no_drift_no_repairs) {
    const plan p = decide(steady());
    EXPECT_TRUE(p.repairs.empty()) << describe(p);
    const plan q = decide(steady(2500ms));  // a renewal is no repair either
    EXPECT_TRUE(q.repairs.empty()) << describe(q);
}

TEST(decide_lifecycle_drift, labelled_follower_is_demoted_as_a_repair) {
    snapshot s = steady();
    find_cand(s, "c").pod = leader(make_pod("c", 900s), 3);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"c"}));
    EXPECT_EQ(p.demote[0].resource_version, "rv-c");
    EXPECT_FALSE(p.promote.has_value());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_FALSE(p.repairs.empty());
    for (const auto& r : p.repairs) {
        EXPECT_FALSE(r.empty());
        EXPECT_EQ(r.find('\n'), std::string::npos) << r;
    }
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
}

TEST(decide_lifecycle_drift, holder_missing_label_or_term_is_promoted_in_its_term) {
    const std::vector<pod_change> rows = holder_marks_lost();
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        snapshot s = steady();
        r.change(find_cand(s, "a").pod);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        expect_holder_promoted_again(p);
        EXPECT_FALSE(p.lease.has_value());
        EXPECT_FALSE(p.repairs.empty());
    }
}

TEST(decide_lifecycle_drift, deleted_lease_is_recreated_for_the_same_leader_in_the_same_term) {
    for (const bool labelled : {true, false}) {
        // Labelled: the group's leader by its label; else by status.leader.
        SCOPED_TRACE(labelled ? "leader labelled" : "leader unlabelled, named by the status");
        snapshot s = steady();
        s.lease.reset();
        s.lease_unchanged_for = 0ms;
        s.status.term = 7;
        find_cand(s, "a").pod = labelled ? leader(make_pod("a", 3600s), 7) : make_pod("a", 3600s);
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        ASSERT_TRUE(p.lease.has_value());
        EXPECT_TRUE(p.create_lease);
        EXPECT_EQ(p.lease->meta.name, "db");
        EXPECT_EQ(p.lease->holder_identity, "a");
        EXPECT_EQ(p.lease->lease_transitions, 6);  // status.term - 1
        EXPECT_EQ(p.lease->renew_time, now);
        EXPECT_EQ(p.lease->lease_duration_seconds, 15);
        EXPECT_FALSE(p.change.has_value());  // a repair, not a transition
        EXPECT_EQ(p.leader, "a");
        EXPECT_EQ(p.term, 7);
        EXPECT_EQ(p.status.leader, "a");
        EXPECT_EQ(p.status.term, 7);
        EXPECT_EQ(p.status.last_transition_time, now - 1h);  // no transition recorded
        EXPECT_TRUE(p.demote.empty());
        if (labelled) {
            EXPECT_FALSE(p.promote.has_value());
        } else {
            ASSERT_TRUE(p.promote.has_value());
            EXPECT_EQ(p.promote->name, "a");
            EXPECT_EQ(p.promote->term, 7);
        }
        EXPECT_FALSE(p.repairs.empty());
        EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
    }
}

TEST(decide_lifecycle_drift, deleted_lease_and_the_incumbent_not_eligible_is_an_election) {
    snapshot s = steady();
    s.lease.reset();
    s.lease_unchanged_for = 0ms;
    find_cand(s, "a").pod = leader(not_ready(make_pod("a", 3600s)), 5);
    const plan p = decide(s);
    expect_handover(p, s, "*", "b", 6, "Elected");
    EXPECT_TRUE(p.change->from == "" || p.change->from == "a") << p.change->from;
    EXPECT_TRUE(p.create_lease);
    EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
}

TEST(decide_lifecycle_drift, lease_naming_a_non_candidate_is_rewritten_for_the_leader) {
    for (const bool stray : {false, true}) {
        SCOPED_TRACE(stray ? "a labelled pod of another Deployment" : "no such pod");
        snapshot s = steady();
        s.lease = make_lease("x", 4);
        if (stray) {
            kube::pod x = leader(make_pod("x", 3600s), 5);
            x.meta.resource_version = "rv-stray";
            x.meta.labels = {{"app", "other"}, {"role", "leader"}};
            s.stray_holder = x;
        }
        const plan p = decide(s);
        SCOPED_TRACE(describe(p));
        ASSERT_TRUE(p.lease.has_value());
        EXPECT_FALSE(p.create_lease);
        EXPECT_EQ(p.lease->meta.resource_version, "lease-rv-7");
        EXPECT_EQ(p.lease->holder_identity, "a");
        EXPECT_EQ(p.lease->lease_transitions, 4);
        EXPECT_FALSE(p.change.has_value());
        EXPECT_FALSE(p.promote.has_value());
        EXPECT_EQ(p.leader, "a");
        EXPECT_EQ(p.term, 5);
        EXPECT_EQ(p.status.leader, "a");
        EXPECT_EQ(p.status.term, 5);
        EXPECT_FALSE(p.repairs.empty());
        if (stray) {
            ASSERT_EQ(p.demote.size(), 1u);
            EXPECT_EQ(p.demote[0].name, "x");
            EXPECT_EQ(p.demote[0].resource_version, "rv-stray");
        } else {
            EXPECT_TRUE(p.demote.empty());
        }
    }
}

TEST(decide_lifecycle_drift, deleted_lease_the_labelled_eligible_pod_is_the_groups_leader) {
    // status.leader a is gone; c carries the label and term 5 and is
    // eligible: c keeps leading in term 5, rather than b (first by
    // leads_before) being elected. The status, which still named a, catches
    // up (LeaseChanged, same term).
    snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(leader(make_pod("c", 900s), 5))});
    led_by(s, "a", 5);
    const plan p = decide(s);
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(p.leader, "c");
    EXPECT_EQ(p.term, 5);
    EXPECT_TRUE(p.demote.empty());
    ASSERT_TRUE(p.change.has_value());
    EXPECT_EQ(p.change->reason, "LeaseChanged");
    EXPECT_EQ(p.change->term, 5);
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_EQ(p.lease->holder_identity, "c");
    EXPECT_EQ(p.lease->lease_transitions, 4);
    EXPECT_FALSE(p.repairs.empty());
}

TEST(decide_lifecycle_drift, non_candidate_holder_without_an_eligible_incumbent_is_a_failover) {
    for (const bool stray : {false, true}) {
        SCOPED_TRACE(stray ? "holder x is a pod of another Deployment" : "holder x does not exist");
        snapshot s = make_snapshot({cand(make_pod("b", 1800s)), cand(make_pod("c", 900s))}, make_lease("x", 4));
        led_by(s, "x", 5);
        if (stray) {
            kube::pod x = leader(make_pod("x", 3600s), 5);
            x.meta.resource_version = "rv-stray";
            x.meta.labels = {{"app", "other"}, {"role", "leader"}};
            s.stray_holder = x;
        }
        const plan p = decide(s);
        expect_handover(p, s, "x", "b", 6, stray ? "LeaderNotCandidate" : "LeaderDeleted");
        EXPECT_EQ(p.holder_state, pod_state::confirmed_gone);
        EXPECT_EQ(demoted(p), stray ? std::vector<std::string>{"x"} : std::vector<std::string>{});
    }
}

TEST(decide_lifecycle_drift, lease_edited_to_name_another_candidate_moves_the_labels) {
    for (const bool paused : {false, true}) {
        SCOPED_TRACE(paused ? "paused" : "not paused");
        snapshot s = steady(300ms);
        s.spec.paused = paused;
        s.lease = make_lease("b", 4);  // term 5: already used by a
        const plan p = decide(s);
        expect_handover(p, s, "a", "b", 6, "LeaseEdited");
        EXPECT_EQ(demoted(p), (std::vector<std::string>{"a"}));
        EXPECT_FALSE(p.preferred_handover);
    }
}

TEST(decide_lifecycle_drift, lease_with_a_used_term_for_the_same_pod_is_term_repaired) {
    snapshot s = steady(300ms);
    s.lease = make_lease("a", 2);  // term 3, the group is at 5
    const plan p = decide(s);
    expect_handover(p, s, "a", "a", 6, "TermRepaired");
    EXPECT_TRUE(p.demote.empty());
}

// ---------------------------------------------------------------- properties over random snapshots

struct world {
    snapshot s;
    bool status_ahead = false;
    std::string trace;
};

world random_world(std::mt19937& rng) {
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    world w;
    snapshot& s = w.s;
    s = make_snapshot({});
    s.spec.policy = chance(0.5) ? not_ready_policy::immediate : not_ready_policy::wait_for_lease_expiry;
    s.spec.paused = chance(0.35);
    const int pref = pick(0, 8);
    s.spec.preferred_leader = pref < 3 ? "" : pref < 8 ? "p" + std::to_string(pref - 3) : "ghost";
    const int mrs = pick(0, 4);
    s.min_ready_seconds = mrs == 0 ? 0 : mrs == 1 ? 30 : mrs == 2 ? 600 : mrs == 3 ? 1800 : 4000;
    if (chance(0.6)) s.since_preferred_handover = milliseconds(pick(0, 30000));

    const int n = pick(0, 5);
    for (int i = 0; i < n; ++i) {
        kube::pod p = make_pod("p" + std::to_string(i), std::chrono::seconds(pick(1, 5000)));
        p.meta.resource_version = "rv-" + std::to_string(pick(1, 100000));
        const int health = pick(0, 11);
        if (health == 0) p = not_ready(p);
        if (health == 1) p = crashed(p);
        if (health == 2) p.meta.deletion_timestamp = now - 1s;
        if (health == 3) set_annotation(p, std::string(candidate_annotation), "false");
        if (health == 4) p.phase = "Failed";
        if (health == 5) p.ready_since.reset();
        if (chance(0.3)) set_label(p, s.spec.leader_label_key, s.spec.leader_label_value);
        if (chance(0.3)) set_annotation(p, std::string(term_annotation), std::to_string(pick(1, 12)));
        const int node = pick(0, 7);
        candidate c{.pod = std::move(p), .node_ready = {}, .current_revision = chance(0.6)};
        if (node < 6) c.node_ready.emplace(true);
        if (node == 6) c.node_ready.emplace(false);
        s.candidates.push_back(std::move(c));
    }
    std::shuffle(s.candidates.begin(), s.candidates.end(), rng);

    if (chance(0.8)) {
        const int h = pick(0, 8);
        const std::string holder = h == 0 ? "" : h <= 6 ? "p" + std::to_string(h - 1) : "elsewhere";
        kube::lease l = make_lease(holder, pick(0, 10));
        l.meta.resource_version = "lease-rv-" + std::to_string(pick(1, 1000));
        s.lease = l;
        bool is_candidate = false;
        for (const auto& c : s.candidates) is_candidate = is_candidate || c.pod.meta.name == holder;
        if (!holder.empty() && !is_candidate && chance(0.5)) {
            kube::pod stray = make_pod(holder);
            stray.meta.resource_version = "rv-stray";
            stray.meta.labels = {{"app", "other"}};
            if (chance(0.6)) set_label(stray, s.spec.leader_label_key, s.spec.leader_label_value);
            s.stray_holder = stray;
        }
    }
    const std::int64_t lease_term = s.lease ? s.lease->lease_transitions + 1 : 0;
    const int st = pick(0, 9);
    if (!s.lease) {
        s.status.term = pick(0, 12);
        s.status.leader = s.status.term > 0 ? "p" + std::to_string(pick(0, 6)) : "";
    } else if (st < 5) {  // in sync
        s.status.term = lease_term;
        s.status.leader = s.lease->holder_identity;
    } else if (st < 7) {  // the status lags (a crash after the Lease write)
        s.status.term = std::max<std::int64_t>(0, lease_term - pick(1, 3));
        s.status.leader = s.status.term > 0 ? "p" + std::to_string(pick(0, 6)) : "";
    } else if (st < 9) {  // the Lease edited: same term, another leader in the status
        s.status.term = lease_term;
        s.status.leader = "p" + std::to_string(pick(0, 6));
    } else {  // the status ahead of the Lease
        w.status_ahead = true;
        s.status.term = lease_term + pick(1, 4);
        s.status.leader = chance(0.5) ? s.lease->holder_identity : "p" + std::to_string(pick(0, 6));
    }
    if (!s.status.leader.empty() || s.status.term > 0) s.status.lease_name = "db";
    randomize_timing(s, rng);

    w.trace = std::string(s.spec.paused ? "paused" : "running") + " policy=" + std::string(to_string(s.spec.policy)) +
              " preferred=" + s.spec.preferred_leader + " minReady=" + std::to_string(s.min_ready_seconds) +
              " sincePreferred=" +
              (s.since_preferred_handover ? std::to_string(s.since_preferred_handover->count()) + "ms" : "none") +
              " status=" + s.status.leader + "/" + std::to_string(s.status.term);
    if (s.lease) {
        w.trace += " lease{holder=" + s.lease->holder_identity +
                   " transitions=" + std::to_string(s.lease->lease_transitions) + "}";
    } else {
        w.trace += " no-lease";
    }
    w.trace += " unchanged=" + std::to_string(s.lease_unchanged_for.count()) + "ms unhealthy=" +
               std::to_string(s.holder_unhealthy_for.count()) + "ms" + (s.first_sight ? " first-sight" : "");
    if (s.holder_restart_baseline) w.trace += " baseline=" + std::to_string(*s.holder_restart_baseline);
    for (const auto& c : s.candidates) {
        const auto a = assess(c, std::nullopt);
        w.trace += " | " + c.pod.meta.name + " " + std::string(to_string(a.state)) + "/" + a.reason +
                   (is_labelled(c.pod, s.spec) ? " labelled" : "") + (c.current_revision ? " cur" : " old");
        if (c.pod.ready_since) {
            w.trace += " ready " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - *c.pod.ready_since).count()) +
                       "s";
        }
    }
    if (s.stray_holder) {
        w.trace += " | stray " + s.stray_holder->meta.name + (is_labelled(*s.stray_holder, s.spec) ? " labelled" : "");
    }
    return w;
}

bool is_handover_reason(const std::string& r) {
    return r == "Elected" || r == "Rollout" || r == "Preferred" || r == "LeaseExpired" || r == "LeaseEdited" ||
           r.starts_with("Leader");
}

TEST(decide_lifecycle_property, lifecycle_invariants_hold_on_random_snapshots) {
    std::mt19937 rng(20261122);
    violations v;
    std::map<std::string, int> reasons;
    int paused = 0;
    for (int i = 0; i < 8000; ++i) {
        const world w = random_world(rng);
        const snapshot& s = w.s;
        plan p;
        ASSERT_NO_THROW(p = decide(s)) << w.trace;
        const auto example = [&] { return "case " + std::to_string(i) + ": " + w.trace + "\n  plan: " + describe(p); };
        const auto check = [&](bool ok, const std::string& rule) { v.check(ok, rule, example); };
        if (p.change) ++reasons[p.change->reason];
        if (s.spec.paused) ++paused;

        const std::string holder = s.lease ? s.lease->holder_identity : "";
        std::map<std::string, const candidate*> by_name;
        for (const auto& c : s.candidates) by_name[c.pod.meta.name] = &c;
        const auto state_of = [&](const std::string& name) -> std::optional<pod_state> {
            if (!by_name.contains(name)) return std::nullopt;
            return assess(*by_name.at(name), name == holder ? s.holder_restart_baseline : std::nullopt).state;
        };
        const auto eligible = [&](const std::string& name) { return state_of(name) == pod_state::eligible; };
        std::set<std::string> demoted_names;
        for (const auto& d : p.demote) demoted_names.insert(d.name);

        // Promote: a candidate, not also demoted, never a confirmed-gone pod.
        if (p.promote) {
            check(by_name.contains(p.promote->name), "promote: a candidate");
            check(!demoted_names.contains(p.promote->name), "promote: the promoted pod is not demoted");
            check(state_of(p.promote->name) != pod_state::confirmed_gone, "promote: never a confirmed-gone pod");
            check(p.promote->name == p.leader, "promote: the plan's leader");
        }
        // Terms never go back (the status may run ahead of a Lease someone
        // else recreated; then only an eligible leader is held to it).
        if (!p.leader.empty() && (!w.status_ahead || eligible(p.leader))) {
            check(p.term >= s.status.term, "term: the plan's term >= status.term with a leader");
        }
        // No handover to a pod that is not eligible.
        if (p.lease && !p.renewal && p.lease->holder_identity != holder) {
            check(eligible(p.lease->holder_identity), "no Lease write for a new holder that is not eligible");
        }
        if (p.change && is_handover_reason(p.change->reason)) {
            check(eligible(p.change->to), "no handover (" + p.change->reason + ") to a pod that is not eligible");
        }
        // preferred_handover flags exactly the Preferred handovers.
        check(p.preferred_handover == (p.change && p.change->reason == "Preferred"),
              "preferred_handover iff the change is Preferred");
        if (p.change && p.change->reason == "Preferred") {
            check(p.change->to == s.spec.preferred_leader, "Preferred: to spec.preferredLeader");
            check(p.change->from == holder && eligible(holder), "Preferred: from an eligible holder");
            check(!s.since_preferred_handover || *s.since_preferred_handover >= s.spec.lease_duration,
                  "Preferred: at most once per leaseDuration");
            const bool holder_current = by_name.contains(holder) && by_name.at(holder)->current_revision;
            check(!holder_current || (by_name.contains(p.change->to) && by_name.at(p.change->to)->current_revision),
                  "Preferred: not to an old revision while the holder is current");
        }
        if (p.change && p.change->reason == "Rollout") {
            check(p.change->from == holder && eligible(holder) && !by_name.at(holder)->current_revision,
                  "Rollout: from an eligible holder of an old revision");
            const candidate* to = by_name.contains(p.change->to) ? by_name.at(p.change->to) : nullptr;
            // With minReadySeconds 0, a Ready pod qualifies even when its
            // Ready time is unknown.
            check(to != nullptr && to->current_revision &&
                      (to->pod.ready_since ? *to->pod.ready_since + std::chrono::seconds(s.min_ready_seconds) <= s.now
                                           : s.min_ready_seconds == 0),
                  "Rollout: to a current pod Ready for minReadySeconds");
            const candidate* pref =
                by_name.contains(s.spec.preferred_leader) ? by_name.at(s.spec.preferred_leader) : nullptr;
            if (pref != nullptr && pref->current_revision && eligible(pref->pod.meta.name) && pref->pod.ready_since &&
                *pref->pod.ready_since + std::chrono::seconds(s.min_ready_seconds) <= s.now) {
                check(p.change->to == s.spec.preferred_leader, "Rollout: to spec.preferredLeader when it qualifies");
            }
        }
        // The Paused condition follows the spec.
        check(cond_status(p.status, conditions::paused) == (s.spec.paused ? "True" : "False") &&
                  cond_reason(p.status, conditions::paused) == (s.spec.paused ? "Paused" : "NotPaused"),
              "Paused condition True/Paused or False/NotPaused");

        if (!s.spec.paused) continue;
        // Paused: no new pick. The leader is the Lease's holder; with no
        // holder, or one that is not a candidate, an incumbent (an eligible
        // labelled pod or status.leader) or nobody.
        if (!holder.empty() && by_name.contains(holder)) {
            check(p.leader == holder, "paused: the leader is the Lease's holder");
        } else {
            const bool incumbent = p.leader.empty() || p.leader == holder || p.leader == s.status.leader ||
                                   (eligible(p.leader) && is_labelled(by_name.at(p.leader)->pod, s.spec));
            check(incumbent, "paused: without a candidate holder, only an incumbent (or nobody) leads");
        }
        check(!p.change || p.change->reason == "LeaseEdited" || p.change->reason == "TermRepaired" ||
                  p.change->reason == "LeaseChanged",
              "paused: no change but LeaseEdited, TermRepaired or LeaseChanged");
        if (by_name.contains(holder) && !eligible(holder)) {
            check(!p.lease, "paused: a holder that is not eligible is not renewed");
            check(!demoted_names.contains(holder), "paused: a holder that is not eligible keeps its label");
            check(cond_status(p.status, conditions::leader_elected) == "False" &&
                      cond_reason(p.status, conditions::leader_elected) == "Paused",
                  "paused: LeaderElected False/Paused with a holder that is not eligible");
        }
    }
    v.report();
    std::string seen;
    for (const auto& [r, n] : reasons) seen += " " + r + "=" + std::to_string(n);
    SCOPED_TRACE("reasons:" + seen);
    // The generator reaches the new rules.
    EXPECT_GT(paused, 1500);
    EXPECT_GT(reasons["Rollout"], 20);
    EXPECT_GT(reasons["Preferred"], 10);
    EXPECT_GT(reasons["LeaseEdited"], 20);
}

}  // namespace
}  // namespace elector::election
