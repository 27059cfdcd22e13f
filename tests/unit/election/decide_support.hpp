// Shared builders and checks for the decide() unit tests (decide_test.cpp,
// decide_lifecycle_test.cpp) and the time helper of group_test.cpp.
//
// The world they build: the Deployment "web" in namespace "shop", the group
// and its Lease "db", all seen at `now`.
#pragma once

#include "election/decide.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace elector::election::test_support {

using namespace std::chrono_literals;

inline kube::time_point at(const char* text) {
    auto t = kube::parse_time(text);
    if (!t) throw std::invalid_argument(text);
    return *t;
}

inline const kube::time_point now = at("2026-11-21T10:00:00Z");

// ---------------------------------------------------------------- pods

inline kube::container_status running_container(std::string name, std::int32_t restarts = 0) {
    return {.name = std::move(name), .ready = true, .restart_count = restarts, .state = kube::container_state::running};
}

// A Running, Ready pod of the Deployment "web", Ready for `ready_for`.
inline kube::pod make_pod(const std::string& name, std::chrono::seconds ready_for = 600s) {
    kube::pod p;
    p.meta.name = name;
    p.meta.namespace_ = "shop";
    p.meta.uid = "uid-" + name;
    p.meta.resource_version = "rv-" + name;
    p.meta.creation_timestamp = now - 2h;
    p.meta.labels = {{"app", "web"}, {"pod-template-hash", "7d4b9c6f5"}};
    p.meta.owner_references = {{"apps/v1", "ReplicaSet", "web-7d4b9c6f5", "rs-uid", true}};
    p.node_name = "node-1";
    p.phase = "Running";
    p.ready = true;
    p.ready_since = now - ready_for;
    p.pod_ip = "198.18.0.10";
    p.start_time = now - 2h;
    p.containers = {running_container("app")};
    return p;
}

inline void set_label(kube::pod& p, const std::string& key, const std::string& value) {
    p.meta.labels.emplace_back(key, value);
    kube::sort_labels(p.meta.labels);
}

inline void set_annotation(kube::pod& p, const std::string& key, const std::string& value) {
    p.meta.annotations.emplace_back(key, value);
    kube::sort_labels(p.meta.annotations);
}

// Labelled role=leader and stamped with `term`.
inline kube::pod leader(kube::pod p, std::int64_t term) {
    set_label(p, "role", "leader");
    set_annotation(p, std::string(term_annotation), std::to_string(term));
    return p;
}

inline bool is_labelled(const kube::pod& p, const group_spec& spec) {
    const std::string* v = kube::find_label(p.meta.labels, spec.leader_label_key);
    return v != nullptr && *v == spec.leader_label_value;
}

inline bool has_term(const kube::pod& p) {
    return kube::find_label(p.meta.annotations, term_annotation) != nullptr;
}

inline kube::pod crashed(kube::pod p) {
    p.ready = false;
    p.ready_since.reset();
    p.containers[0].ready = false;
    p.containers[0].restart_count += 1;
    p.containers[0].state = kube::container_state::waiting;
    p.containers[0].state_reason = "CrashLoopBackOff";
    p.containers[0].last_terminated = true;
    p.containers[0].last_terminated_at = now - 1s;
    return p;
}

inline kube::pod not_ready(kube::pod p) {
    p.ready = false;
    p.ready_since.reset();
    p.containers[0].ready = false;
    return p;
}

inline kube::pod terminating(kube::pod p) {
    p.meta.deletion_timestamp = now - 1s;
    return p;
}

// ---------------------------------------------------------------- snapshots

// `node_ready`: the pod's node Ready (nullopt: unknown); `current`: of the
// Deployment's current revision.
inline candidate cand(kube::pod p, std::optional<bool> node_ready = true, bool current = true) {
    // Built in place: GCC 12 at -O2 warns (falsely) that a std::optional<bool> copied here may be uninitialized.
    candidate c{.pod = std::move(p), .node_ready = {}, .current_revision = current};
    if (node_ready.has_value()) c.node_ready.emplace(*node_ready);
    return c;
}

inline kube::lease make_lease(const std::string& holder, std::int32_t transitions) {
    kube::lease l;
    l.meta.name = "db";
    l.meta.namespace_ = "shop";
    l.meta.uid = "lease-uid";
    l.meta.resource_version = "lease-rv-7";
    l.meta.labels = {{std::string(group_label), "db"}};
    l.holder_identity = holder;
    l.lease_duration_seconds = 15;
    l.acquire_time = now - 1h;
    l.renew_time = now - 2s;
    l.lease_transitions = transitions;
    return l;
}

inline snapshot make_snapshot(std::vector<candidate> candidates, std::optional<kube::lease> l = std::nullopt) {
    snapshot s;
    s.group_name = "db";
    s.spec.target.name = "web";
    s.spec.lease_name = "db";
    s.generation = 4;
    s.candidates = std::move(candidates);
    s.lease = std::move(l);
    s.now = now;
    return s;
}

// The status a running election with `holder` in `term` would have written
// (the condition reasons decide() writes).
inline void led_by(snapshot& s, const std::string& holder, std::int64_t term) {
    s.status.leader = holder;
    s.status.term = term;
    s.status.lease_name = "db";
    s.status.observed_generation = s.generation;
    s.status.last_transition_time = now - 1h;
    s.status.last_transition_reason = "Elected";
    s.status.conditions = {
        {"Ready", "True", s.generation, now - 1h, "LeaderElected", "elected"},
        {"LeaderElected", "True", s.generation, now - 1h, "Elected", "elected"},
        {"InvalidSpec", "False", s.generation, now - 2h, "SpecValid", "valid"},
    };
}

// a: the leader of term 5 (leaseTransitions 4), eligible, labelled; b and c
// eligible followers, b Ready longer than c. All of the current revision.
// With the default, the Lease was written 500ms ago: no renewal due, next
// one in 1500ms.
inline snapshot steady(std::chrono::milliseconds unchanged_for = 500ms) {
    snapshot s = make_snapshot({cand(leader(make_pod("a", 3600s), 5)), cand(make_pod("b", 1800s)),
                                cand(make_pod("c", 900s))},
                               make_lease("a", 4));
    led_by(s, "a", 5);
    s.lease_unchanged_for = unchanged_for;
    s.first_sight = false;
    s.holder_restart_baseline = 0;
    return s;
}

// nullopt: elector has just started and sees the Lease for the first time.
inline void seen(snapshot& s, std::optional<std::chrono::milliseconds> unchanged_for) {
    s.first_sight = !unchanged_for.has_value();
    s.lease_unchanged_for = unchanged_for.value_or(0ms);
}

inline candidate& find_cand(snapshot& s, const std::string& name) {
    for (auto& c : s.candidates) {
        if (c.pod.meta.name == name) return c;
    }
    throw std::runtime_error("no candidate " + name);
}

// ---------------------------------------------------------------- reading plans

inline std::vector<std::string> demoted(const plan& p) {
    std::vector<std::string> out;
    for (const auto& d : p.demote) out.push_back(d.name);
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string cond_status(const group_status& st, std::string_view type) {
    const condition* c = st.find(type);
    return c == nullptr ? "<absent>" : c->status;
}

inline std::string cond_reason(const group_status& st, std::string_view type) {
    const condition* c = st.find(type);
    return c == nullptr ? "<absent>" : c->reason;
}

// A plan on one line, for failure messages.
inline std::string describe(const plan& p) {
    std::string out = "leader=" + p.leader + " term=" + std::to_string(p.term) + " demote=[";
    for (const auto& d : p.demote) out += d.name + "@" + d.resource_version + " ";
    out += "]";
    if (p.lease) {
        out += " lease{holder=" + p.lease->holder_identity +
               " transitions=" + std::to_string(p.lease->lease_transitions) + (p.create_lease ? " create" : "") +
               (p.renewal ? " renewal" : "") + "}";
    }
    if (p.promote) out += " promote=" + p.promote->name + "@" + std::to_string(p.promote->term);
    if (p.change) {
        out += " change{" + p.change->from + "->" + p.change->to + " term " + std::to_string(p.change->term) + " " +
               p.change->reason + "}";
    }
    if (p.requeue_after) out += " requeue=" + std::to_string(p.requeue_after->count()) + "ms";
    out += " repairs=" + std::to_string(p.repairs.size());
    if (p.preferred_handover) out += " preferred_handover";
    for (std::string_view t : {conditions::ready, conditions::leader_elected, conditions::paused}) {
        out += " " + std::string(t) + "=" + cond_status(p.status, t) + "/" + cond_reason(p.status, t);
    }
    return out;
}

// ---------------------------------------------------------------- checks

// Nothing about leadership moves: no demote, no promote, no transition.
inline void expect_no_transition(const plan& p) {
    EXPECT_TRUE(p.demote.empty()) << describe(p);
    EXPECT_FALSE(p.promote.has_value()) << describe(p);
    EXPECT_FALSE(p.change.has_value()) << describe(p);
    EXPECT_FALSE(p.preferred_handover) << describe(p);
}

// Leadership moves from `from` ("*": not checked) to `to` in `term`, as an
// ordinary handover: demote, Lease, promote, status. `reason`: the change's
// reason (nullopt: any, but not empty).
inline void expect_handover(const plan& p, const snapshot& s, const std::string& from, const std::string& to,
                            std::int64_t term, const std::optional<std::string>& reason = std::nullopt) {
    SCOPED_TRACE(describe(p));
    EXPECT_EQ(p.leader, to);
    EXPECT_EQ(p.term, term);
    ASSERT_TRUE(p.lease.has_value());
    EXPECT_EQ(p.lease->meta.name, s.spec.lease_name);
    EXPECT_EQ(p.lease->holder_identity, to);
    EXPECT_EQ(p.lease->lease_transitions, term - 1);
    EXPECT_EQ(p.lease->acquire_time, s.now);
    EXPECT_EQ(p.lease->renew_time, s.now);
    EXPECT_EQ(p.lease->lease_duration_seconds,
              std::chrono::duration_cast<std::chrono::seconds>(s.spec.lease_duration).count());
    EXPECT_EQ(p.create_lease, !s.lease.has_value());
    EXPECT_FALSE(p.renewal);
    if (s.lease) {
        EXPECT_EQ(p.lease->meta.resource_version, s.lease->meta.resource_version);
    }
    ASSERT_TRUE(p.promote.has_value());
    EXPECT_EQ(p.promote->name, to);
    EXPECT_EQ(p.promote->term, term);
    const auto promoted = std::find_if(s.candidates.begin(), s.candidates.end(),
                                       [&](const candidate& c) { return c.pod.meta.name == to; });
    ASSERT_NE(promoted, s.candidates.end()) << "the new leader is a candidate";
    EXPECT_EQ(p.promote->resource_version, promoted->pod.meta.resource_version);
    ASSERT_TRUE(p.change.has_value());
    if (from != "*") {
        EXPECT_EQ(p.change->from, from);
    }
    EXPECT_EQ(p.change->to, to);
    EXPECT_EQ(p.change->term, term);
    EXPECT_FALSE(p.change->reason.empty());
    if (reason) {
        EXPECT_EQ(p.change->reason, *reason);
    }
    EXPECT_EQ(p.status.leader, to);
    EXPECT_EQ(p.status.term, term);
    EXPECT_EQ(p.status.lease_name, s.spec.lease_name);
    EXPECT_EQ(p.status.last_transition_time, s.now);
    EXPECT_EQ(p.status.last_transition_reason, p.change->reason);
    EXPECT_EQ(p.status.observed_generation, s.generation);
    EXPECT_EQ(cond_status(p.status, conditions::ready), "True");
    EXPECT_EQ(cond_status(p.status, conditions::leader_elected), "True");
    EXPECT_EQ(cond_status(p.status, conditions::invalid_spec), "False");
    EXPECT_EQ(p.requeue_after, s.spec.retry_period);
    for (const auto& d : p.demote) {
        EXPECT_NE(d.name, to);
    }
    EXPECT_EQ(p.preferred_handover, p.change->reason == "Preferred");
}

// ---------------------------------------------------------------- the holder's label and term

struct pod_change {
    const char* name;
    std::function<void(kube::pod&)> change;
};

// Ways the holder "a" of steady() can lose its leader label or its term
// annotation, or carry the wrong term: each wants "a" promoted again in term 5.
inline std::vector<pod_change> holder_marks_lost() {
    return {
        {"no label, no term", [](kube::pod& p) { p = make_pod("a", 3600s); }},
        {"label, no term",
         [](kube::pod& p) {
             p = make_pod("a", 3600s);
             set_label(p, "role", "leader");
         }},
        {"term, no label",
         [](kube::pod& p) {
             p = make_pod("a", 3600s);
             set_annotation(p, "elector.dev/term", "5");
         }},
        {"wrong term", [](kube::pod& p) { p = leader(make_pod("a", 3600s), 4); }},
    };
}

// "a" of steady() leads on in term 5 and is only promoted again (label and
// term restored): nothing demoted, no transition.
inline void expect_holder_promoted_again(const plan& p) {
    ASSERT_TRUE(p.promote.has_value());
    EXPECT_EQ(p.promote->name, "a");
    EXPECT_EQ(p.promote->term, 5);
    EXPECT_EQ(p.promote->resource_version, "rv-a");
    EXPECT_TRUE(p.demote.empty());
    EXPECT_FALSE(p.change.has_value());
    EXPECT_EQ(p.leader, "a");
    EXPECT_EQ(p.term, 5);
}

// ---------------------------------------------------------------- properties

// For a random snapshot with a Lease: how long the Lease has gone unchanged
// and the holder unfit (never exactly leaseDuration: that boundary is not
// part of the contract), and whether elector sees the Lease for the first
// time; with or without a Lease, sometimes a restart baseline.
inline void randomize_timing(snapshot& s, std::mt19937& rng) {
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    if (s.lease) {
        std::chrono::milliseconds u(pick(0, 30000));
        if (u == s.spec.lease_duration) u += 1ms;
        s.lease_unchanged_for = u;
        // Mostly unfit since the last renewal; sometimes only seen unfit later.
        std::chrono::milliseconds h = chance(0.7) ? u : std::chrono::milliseconds(pick(0, static_cast<int>(u.count())));
        if (h == s.spec.lease_duration) h += 1ms;
        s.holder_unhealthy_for = h;
        s.first_sight = chance(0.25);
    }
    if (chance(0.5)) s.holder_restart_baseline = pick(0, 3);
}

// Collects rule violations over many random cases: each broken rule is
// reported once, with how often it broke and its first counterexample.
class violations {
public:
    void check(bool ok, const std::string& rule, const std::function<std::string()>& example) {
        if (ok) return;
        entry& e = seen_[rule];
        if (e.count++ == 0) e.example = example();
    }
    void report() const {
        for (const auto& [rule, e] : seen_) {
            ADD_FAILURE() << "rule \"" << rule << "\" broken in " << e.count << " cases; first:\n" << e.example;
        }
    }

private:
    struct entry {
        int count = 0;
        std::string example;
    };
    std::map<std::string, entry> seen_;
};

}  // namespace elector::election::test_support
