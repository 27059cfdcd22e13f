// The lifecycle of an ElectionGroup on a real control plane (etcd,
// kube-apiserver, controller-manager, scheduler, node simulator), asserted
// with kubectl: a rolling update and its undo hand over once each, to the
// new revision, with no gap without a Ready leader to speak of; a switchover
// to spec.preferredLeader, and no flapping when the preferred pod flaps;
// spec.paused stops handovers but not drift repair; handover Events are
// recorded once each and repeated Warnings are deduplicated. In every test a
// watch on the pods (leader_watch) fails the test if two pods of one group
// carry the label at the same time.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "kube/time.hpp"
#include "leadership.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A rolling update that never has fewer Ready pods than replicas.
const char* const rolling_update = R"(  minReadySeconds: 1
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
)";

class lifecycle_test : public election_fixture {
protected:
    lifecycle_test()
        : election_fixture({.ns_prefix = "lifecycle",
                            .group_defaults = {.lease_duration = "4s",
                                               .renew_deadline = "3s",
                                               .retry_period = "1s",
                                               .policy = "WaitForLeaseExpiry"}}) {}

    void patch_group(const std::string& name, const std::string& patch) {
        auto patched = env_->kubectl({"patch", "eg", name, "-n", ns_, "--type=merge", "-p", patch});
        ASSERT_TRUE(patched.ok()) << patched.describe();
    }

    std::string reason_of(const std::string& name) const { return status_of(group(name)).value("lastTransitionReason", ""); }
    // Wall-clock seconds of the Lease's acquireTime (0 if it has none).
    double acquired_at(const std::string& lease_name) const {
        const std::string text = lease(lease_name)["spec"].value("acquireTime", "");
        auto t = kube::parse_time(text);
        return t ? std::chrono::duration<double>(t->time_since_epoch()).count() : 0.0;
    }
    // Everything a settled group with this leader shows: one label, on the
    // Lease holder, the status leader, the term annotation equal to the
    // status term, LeaderElected True.
    void expect_settled(const std::string& name, const std::string& leader) const {
        SCOPED_TRACE("settled on " + leader);
        EXPECT_TRUE(eventually(5s, [&] {
            auto g = group(name);
            return status_of(g).value("leader", "") == leader && condition(g, "LeaderElected") == "True";
        })) << group(name).dump();
        EXPECT_EQ(labelled(name), std::set<std::string>{leader});
        EXPECT_EQ(lease(name)["spec"].value("holderIdentity", ""), leader);
        const auto term = status_of(group(name)).value("term", std::int64_t{0});
        EXPECT_EQ(pod(leader)["metadata"].value("annotations", json::object()).value("elector.dev/term", ""),
                  std::to_string(term));
    }

    // The group's Events (those about the ElectionGroup itself).
    std::vector<json> events_of(const std::string& name, const std::string& reason = "") const {
        const json listed = env_->get_json({"get", "events", "-n", ns_, "--field-selector",
                                            "involvedObject.kind=ElectionGroup,involvedObject.name=" + name});
        std::vector<json> out;
        for (const auto& e : listed["items"]) {
            if (reason.empty() || e.value("reason", "") == reason) out.push_back(e);
        }
        return out;
    }
    // How many times an Event object says it happened.
    static std::int64_t occurrences(const json& e) {
        std::int64_t n = 1;
        if (e.contains("count") && e["count"].is_number_integer()) n = std::max(n, e["count"].get<std::int64_t>());
        const json series = e.value("series", json::object());
        if (series.contains("count") && series["count"].is_number_integer()) {
            n = std::max(n, series["count"].get<std::int64_t>());
        }
        return n;
    }
    static std::string describe(const std::vector<json>& events) {
        std::string out;
        for (const auto& e : events) {
            out += fmt::format("\n  {} {} x{}: {}", e.value("type", ""), e.value("reason", ""), occurrences(e),
                               e.value("message", ""));
        }
        return out;
    }
    // The handover Events whose message starts "FROM → TO (term N)".
    std::vector<json> handover_events(const std::string& name, const std::string& from, const std::string& to,
                                      std::int64_t term) const {
        const std::string head = fmt::format("{} → {} (term {})", from, to, term);
        std::vector<json> out;
        for (const auto& e : events_of(name)) {
            if (e.value("message", "").find(head) != std::string::npos) out.push_back(e);
        }
        return out;
    }
    // Exactly one Normal Event records the handover FROM → TO with this reason, once.
    void expect_one_handover_event(const std::string& name, const std::string& reason, const std::string& from,
                                   const std::string& to, std::int64_t term) const {
        SCOPED_TRACE(fmt::format("event {} → {} (term {}) {}", from, to, term, reason));
        std::vector<json> found;
        EXPECT_TRUE(eventually(5s, [&] {
            found = handover_events(name, from, to, term);
            return !found.empty();
        })) << describe(events_of(name));
        ASSERT_EQ(found.size(), 1u) << describe(found);
        EXPECT_EQ(found[0].value("reason", ""), reason) << describe(found);
        EXPECT_EQ(found[0].value("type", ""), "Normal");
        EXPECT_EQ(occurrences(found[0]), 1);
        const std::string message = found[0].value("message", "");
        EXPECT_EQ(message.rfind(fmt::format("{} → {} (term {}): ", from, to, term), 0), 0u) << message;
    }

    // The ReplicaSet that owns a pod.
    std::string owner_of(const std::string& pod_name) const {
        for (const auto& o : pod(pod_name)["metadata"].value("ownerReferences", json::array())) {
            if (o.value("kind", "") == "ReplicaSet") return o.value("name", "");
        }
        return "";
    }
    // ReplicaSet name -> revision, of the Deployment's pods (app=NAME).
    std::map<std::string, int> revisions(const std::string& name) const {
        std::map<std::string, int> out;
        const json sets = env_->get_json({"get", "replicasets", "-n", ns_, "-l", "app=" + name});
        for (const auto& rs : sets["items"]) {
            const std::string r = rs["metadata"].value("annotations", json::object()).value(
                "deployment.kubernetes.io/revision", "0");
            out[rs["metadata"]["name"].get<std::string>()] = std::stoi(r);
        }
        return out;
    }
    // The ReplicaSet of the Deployment's current revision.
    std::string current_replica_set(const std::string& name) const {
        const json d = env_->get_json({"get", "deployment", name, "-n", ns_});
        const int revision = std::stoi(d["metadata"].value("annotations", json::object()).value(
            "deployment.kubernetes.io/revision", "0"));
        for (const auto& [rs, r] : revisions(name)) {
            if (r == revision) return rs;
        }
        return "";
    }
    // Waits for a rollout to complete; asserts that elector handed over once,
    // to the current revision, for reason Rollout, with a short ready gap.
    void expect_rollout_handover(const std::string& name, const std::string& old_leader, std::int64_t transitions_before,
                                 std::size_t rollout_events_before) {
        auto status = env_->kubectl({"rollout", "status", "deployment/" + name, "-n", ns_, "--timeout=120s"},
                                    {.timeout = 130s});
        ASSERT_TRUE(status.ok()) << status.describe();
        const std::string current = current_replica_set(name);
        ASSERT_FALSE(current.empty());
        std::string leader;
        EXPECT_TRUE(eventually(10s, [&] {
            auto g = group(name);
            leader = status_of(g).value("leader", "");
            return !leader.empty() && leader != old_leader && owner_of(leader) == current &&
                   condition(g, "LeaderElected") == "True";
        })) << "leader " << leader << " is not of ReplicaSet " << current;
        ASSERT_FALSE(leader.empty());
        EXPECT_EQ(owner_of(leader), current);
        // Its ReplicaSet has the highest revision.
        const auto sets = revisions(name);
        const int highest = std::max_element(sets.begin(), sets.end(), [](const auto& a, const auto& b) {
                                return a.second < b.second;
                            })->second;
        EXPECT_EQ(sets.at(current), highest);
        // Old pods finish terminating; nothing else moves.
        EXPECT_TRUE(eventually(10s, [&] { return live_pods(name).size() == 3u && labelled(name) == std::set<std::string>{leader}; }));
        std::this_thread::sleep_for(1s);
        EXPECT_EQ(transitions(name), transitions_before + 1);
        expect_settled(name, leader);
        auto g = group(name);
        EXPECT_EQ(status_of(g).value("lastTransitionReason", ""), "Rollout");
        EXPECT_EQ(status_of(g).value("term", std::int64_t{0}), transitions_before + 2);
        EXPECT_EQ(condition(g, "Ready"), "True");
        EXPECT_EQ(events_of(name, "Rollout").size(), rollout_events_before + 1) << describe(events_of(name));
        expect_one_handover_event(name, "Rollout", old_leader, leader, transitions_before + 2);
        const double gap = watch_->longest_ready_gap(name).count();
        fmt::print("rollout of {}: {} → {}, longest time without a Ready leader {:.3f} s\n", name, old_leader, leader,
                   gap);
        RecordProperty("longest_ready_gap_seconds", fmt::format("{:.3f}", gap));
        EXPECT_LT(gap, 2.0);
    }
};

TEST_F(lifecycle_test, a_rolling_update_and_its_undo_hand_over_once_each_to_the_new_revision) {
    start_elector();
    create_group("roll", {.deployment_spec = rolling_update});
    const std::string first = wait_ready("roll");
    ASSERT_FALSE(first.empty());
    ASSERT_EQ(transitions("roll"), 0);
    expect_settled("roll", first);
    const std::string first_set = owner_of(first);
    EXPECT_EQ(first_set, current_replica_set("roll"));

    // A new pod template: revision 2.
    watch_->reset_ready_gap("roll");
    auto patched = env_->kubectl({"patch", "deployment", "roll", "-n", ns_, "--type=merge", "-p",
                                  R"({"spec":{"template":{"metadata":{"annotations":{"elector.test/revision":"2"}}}}})"});
    ASSERT_TRUE(patched.ok()) << patched.describe();
    {
        SCOPED_TRACE("rollout");
        expect_rollout_handover("roll", first, 0, 0);
    }
    if (HasFatalFailure()) return;
    const std::string second = status_of(group("roll")).value("leader", "");
    EXPECT_NE(owner_of(second), first_set);

    // Undo: the first ReplicaSet comes back as revision 3.
    watch_->reset_ready_gap("roll");
    auto undone = env_->kubectl({"rollout", "undo", "deployment/roll", "-n", ns_});
    ASSERT_TRUE(undone.ok()) << undone.describe();
    {
        SCOPED_TRACE("rollout undo");
        expect_rollout_handover("roll", second, 1, 1);
    }
    const std::string third = status_of(group("roll")).value("leader", "");
    EXPECT_EQ(owner_of(third), first_set);
    EXPECT_EQ(revisions("roll")[first_set], 3);
}

TEST_F(lifecycle_test, a_preferred_leader_takes_over_once_per_lease_duration) {
    start_elector();
    create_group("sw", {.policy = "Immediate"});
    const std::string first = wait_ready("sw");
    ASSERT_FALSE(first.empty());
    ASSERT_EQ(transitions("sw"), 0);
    auto others = live_pods("sw");
    others.erase(std::remove(others.begin(), others.end(), first), others.end());
    ASSERT_EQ(others.size(), 2u);
    const std::string preferred = others[0];
    const std::string third = others[1];

    // Switchover to a follower.
    patch_group("sw", fmt::format(R"({{"spec":{{"preferredLeader":"{}"}}}})", preferred));
    auto moved = watch_->wait_for_leader("sw", first, 5s);
    ASSERT_TRUE(moved.has_value()) << "no switchover to the preferred leader";
    EXPECT_EQ(moved->pod, preferred);
    EXPECT_EQ(moved->term, "2");
    EXPECT_TRUE(eventually(3s, [&] { return reason_of("sw") == "Preferred"; })) << reason_of("sw");
    EXPECT_EQ(transitions("sw"), 1);
    expect_settled("sw", preferred);
    expect_one_handover_event("sw", "Preferred", first, preferred, 2);
    EXPECT_EQ(events_of("sw", "Preferred").size(), 1u) << describe(events_of("sw"));

    // Clearing the preference changes nothing, for two lease durations.
    patch_group("sw", R"({"spec":{"preferredLeader":null}})");
    EXPECT_EQ(group("sw")["spec"].value("preferredLeader", ""), "");
    auto changed = watch_->wait_for_leader("sw", preferred, 8s);
    EXPECT_FALSE(changed.has_value()) << "leadership moved to " << changed->pod << " after clearing preferredLeader";
    EXPECT_EQ(transitions("sw"), 1);
    EXPECT_EQ(status_of(group("sw")).value("term", 0), 2);
    expect_settled("sw", preferred);

    // A flapping preferred pod: a switchover to it, then it goes NotReady and
    // comes back at once. Leadership leaves it at once (Immediate) but comes
    // back only a leaseDuration (4 s) after the previous Preferred handover.
    patch_group("sw", fmt::format(R"({{"spec":{{"preferredLeader":"{}"}}}})", third));
    auto to_third = watch_->wait_for_leader("sw", preferred, 5s);
    ASSERT_TRUE(to_third.has_value()) << "no switchover to the new preferred leader";
    ASSERT_EQ(to_third->pod, third);
    const double handed_at = to_third->mono;
    ASSERT_TRUE(eventually(3s, [&] { return lease("sw")["spec"].value("holderIdentity", "") == third; }));
    const double acquired = acquired_at("sw");
    EXPECT_EQ(transitions("sw"), 2);

    env_->sim().not_ready(ns_, third);
    auto away = watch_->wait_for_leader("sw", third, 5s);
    ASSERT_TRUE(away.has_value()) << "leadership did not leave the NotReady preferred pod";
    EXPECT_TRUE(eventually(3s, [&] { return reason_of("sw") == "LeaderNotReady"; })) << reason_of("sw");
    EXPECT_EQ(transitions("sw"), 3);
    auto ready_ack = env_->sim().ready(ns_, third);
    const double ready_at = ready_ack.contains("ackMonotonic") ? ready_ack["ackMonotonic"].get<double>() : monotonic_now();
    // Otherwise this run cannot tell waiting from being slow.
    ASSERT_LT(ready_at - handed_at, 3.0) << "the preferred pod was Ready again only after "
                                          << ready_at - handed_at << " s";

    auto back = watch_->wait_for_leader("sw", away->pod, 10s);
    ASSERT_TRUE(back.has_value()) << "leadership did not come back to the preferred pod";
    EXPECT_EQ(back->pod, third);
    const double after = back->mono - handed_at;
    ASSERT_TRUE(eventually(3s, [&] { return lease("sw")["spec"].value("holderIdentity", "") == third; }));
    const double lease_after = acquired_at("sw") - acquired;
    fmt::print("preferred pod back after {:.3f} s (labels), {:.3f} s (Lease acquireTime); Ready again after {:.3f} s\n",
               after, lease_after, ready_at - handed_at);
    RecordProperty("preferred_back_after_seconds", fmt::format("{:.3f}", after));
    EXPECT_GE(lease_after, 4.0 - 0.05) << "handed back to the preferred pod before leaseDuration had passed";
    EXPECT_GE(after, 4.0 - 0.5) << "handed back to the preferred pod before leaseDuration had passed";
    EXPECT_LE(after, 4.0 + allowance(3.0)) << "not handed back soon after leaseDuration";
    EXPECT_TRUE(eventually(3s, [&] { return reason_of("sw") == "Preferred"; })) << reason_of("sw");
    EXPECT_EQ(transitions("sw"), 4);
    expect_settled("sw", third);
    expect_one_handover_event("sw", "LeaderNotReady", third, away->pod, 4);
    expect_one_handover_event("sw", "Preferred", away->pod, third, 5);
    EXPECT_EQ(events_of("sw", "Preferred").size(), 3u) << describe(events_of("sw"));
}

TEST_F(lifecycle_test, a_paused_group_starts_no_handover_but_still_repairs_labels) {
    start_elector();
    create_group("pz", {.lease_duration = "3s", .renew_deadline = "2s", .retry_period = "1s"});
    const std::string first = wait_ready("pz");
    ASSERT_FALSE(first.empty());
    expect_settled("pz", first);
    const std::string not_paused = condition(group("pz"), "Paused");
    EXPECT_TRUE(not_paused.empty() || not_paused == "False") << group("pz").dump();

    patch_group("pz", R"({"spec":{"paused":true}})");
    ASSERT_TRUE(eventually(5s, [&] {
        auto g = group("pz");
        return condition(g, "Paused") == "True" && condition(g, "Paused", "reason") == "Paused";
    })) << group("pz").dump();
    const auto transitions_before = transitions("pz");
    const auto term_before = status_of(group("pz")).value("term", 0);

    // The leader deleted: nobody else is labelled for more than leaseDuration.
    auto deleted = env_->kubectl({"delete", "pod", first, "-n", ns_, "--wait=false"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    auto elected = watch_->wait_for_leader("pz", first, 5s);
    EXPECT_FALSE(elected.has_value()) << elected->pod << " was labelled while the group was paused";
    EXPECT_TRUE(eventually(3s, [&] { return condition(group("pz"), "LeaderElected", "reason") == "Paused"; }))
        << group("pz").dump();
    EXPECT_EQ(condition(group("pz"), "LeaderElected"), "False");
    EXPECT_EQ(transitions("pz"), transitions_before);
    EXPECT_EQ(status_of(group("pz")).value("term", 0), term_before);
    EXPECT_TRUE(labelled("pz").empty()) << fmt::format("{}", fmt::join(labelled("pz"), ","));

    // A leader label put by hand is removed all the same.
    ASSERT_TRUE(eventually(20s, [&] { return live_pods("pz").size() == 3u; }));
    const std::string by_hand = live_pods("pz")[0];
    auto labelled_by_hand = env_->kubectl({"label", "pod", by_hand, "-n", ns_, "role=leader", "--overwrite"});
    ASSERT_TRUE(labelled_by_hand.ok()) << labelled_by_hand.describe();
    EXPECT_TRUE(eventually(5s, [&] { return labelled("pz").empty() && watch_->labelled("pz").empty(); }))
        << "the hand-put label stayed on " << by_hand;
    EXPECT_EQ(transitions("pz"), transitions_before);

    // Resumed: a leader at once.
    patch_group("pz", R"({"spec":{"paused":false}})");
    const double resumed_at = monotonic_now();
    auto leader = watch_->wait_for_leader("pz", first, 10s);
    ASSERT_TRUE(leader.has_value()) << "no leader after resuming";
    EXPECT_LT(leader->mono - resumed_at, 3.0);
    EXPECT_TRUE(eventually(5s, [&] {
        auto g = group("pz");
        return condition(g, "Paused") == "False" && condition(g, "Paused", "reason") == "NotPaused";
    })) << group("pz").dump();
    expect_settled("pz", leader->pod);
    EXPECT_EQ(transitions("pz"), transitions_before + 1);
    const std::string reason = reason_of("pz");
    EXPECT_TRUE(reason == "LeaderDeleted" || reason == "LeaseExpired" || reason == "LeaderTerminating") << reason;
    expect_one_handover_event("pz", reason, first, leader->pod, term_before + 1);
    // One Normal Event each for pausing and resuming (a Warning with reason
    // Paused may also say why LeaderElected was False).
    auto normal = [&](const std::string& why) {
        std::size_t n = 0;
        for (const auto& e : events_of("pz", why)) n += e.value("type", "") == "Normal" ? occurrences(e) : 0;
        return n;
    };
    EXPECT_TRUE(eventually(5s, [&] { return normal("Paused") == 1 && normal("Resumed") == 1; }))
        << describe(events_of("pz"));
    for (const auto& e : events_of("pz", "Resumed")) EXPECT_EQ(e.value("type", ""), "Normal");
}

TEST_F(lifecycle_test, handover_events_are_recorded_once_and_repeated_warnings_are_counted) {
    start_elector();
    create_group("ev", {.replicas = 2, .policy = "Immediate"});
    create_group("flap", {.replicas = 1, .policy = "Immediate"});
    const std::string first = wait_ready("ev", 2);
    ASSERT_FALSE(first.empty());
    expect_one_handover_event("ev", "Elected", "(none)", first, 1);

    // A handover: one Event "FROM → TO (term N): ..." with the transition's reason.
    auto deleted = env_->kubectl({"delete", "pod", first, "-n", ns_, "--wait=false"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    auto next = watch_->wait_for_leader("ev", first, 5s);
    ASSERT_TRUE(next.has_value());
    std::string reason;
    ASSERT_TRUE(eventually(3s, [&] {
        auto g = group("ev");
        reason = status_of(g).value("lastTransitionReason", "");
        return status_of(g).value("leader", "") == next->pod;
    }));
    EXPECT_TRUE(reason == "LeaderTerminating" || reason == "LeaderDeleted") << reason;
    expect_one_handover_event("ev", reason, first, next->pod, 2);
    std::this_thread::sleep_for(1s);
    std::size_t arrows = 0;
    for (const auto& e : events_of("ev")) arrows += e.value("message", "").find("→") != std::string::npos ? 1 : 0;
    EXPECT_EQ(arrows, 2u) << describe(events_of("ev"));  // elected, then the handover
    EXPECT_EQ(transitions("ev"), 1);

    // The single pod of "flap" goes NotReady and Ready again, five times: the
    // same Warning each time, one Event object with a count.
    const std::string only = wait_ready("flap", 1);
    ASSERT_FALSE(only.empty());
    // Occurrences of each NoEligibleCandidate message so far (one may have
    // been recorded while the pod was starting).
    std::map<std::string, std::int64_t> before;
    for (const auto& e : events_of("flap", "NoEligibleCandidate")) before[e.value("message", "")] += occurrences(e);
    const int times = 5;
    for (int i = 0; i < times; ++i) {
        SCOPED_TRACE(fmt::format("flap {}", i + 1));
        env_->sim().not_ready(ns_, only);
        ASSERT_TRUE(eventually(5s, [&] { return condition(group("flap"), "LeaderElected", "reason") == "NoEligibleCandidate"; }))
            << group("flap").dump();
        env_->sim().ready(ns_, only);
        ASSERT_TRUE(eventually(5s, [&] { return condition(group("flap"), "LeaderElected") == "True"; }))
            << group("flap").dump();
    }
    // One object per distinct message; the repeated one counts every occurrence.
    auto repeated = [&]() -> std::optional<json> {
        std::optional<json> best;
        for (const auto& e : events_of("flap", "NoEligibleCandidate")) {
            if (!best || occurrences(e) > occurrences(*best)) best = e;
        }
        return best;
    };
    std::optional<json> warning;
    EXPECT_TRUE(eventually(5s, [&] {
        warning = repeated();
        return warning && occurrences(*warning) >= before[warning->value("message", "")] + times;
    })) << describe(events_of("flap"));
    ASSERT_TRUE(warning.has_value());
    EXPECT_EQ(warning->value("type", ""), "Warning");
    EXPECT_EQ(occurrences(*warning), before[warning->value("message", "")] + times) << describe(events_of("flap"));
    std::set<std::string> messages;
    for (const auto& e : events_of("flap", "NoEligibleCandidate")) {
        EXPECT_TRUE(messages.insert(e.value("message", "")).second)
            << "two Event objects with one message: " << describe(events_of("flap", "NoEligibleCandidate"));
    }
    std::int64_t objects = 0;
    std::int64_t total = 0;
    for (const auto& e : events_of("flap")) {
        ++objects;
        total += occurrences(e);
    }
    fmt::print("flap: {} Event objects for {} occurrences\n", objects, total);
    EXPECT_LT(objects, total);
    // kubectl shows the count.
    auto table = env_->kubectl({"get", "events", "-n", ns_, "--field-selector",
                                "involvedObject.kind=ElectionGroup,involvedObject.name=flap,reason=NoEligibleCandidate",
                                "-o", "custom-columns=COUNT:.count", "--no-headers"});
    ASSERT_TRUE(table.ok()) << table.describe();
    EXPECT_NE(table.out.find(std::to_string(occurrences(*warning))), std::string::npos) << table.out;
    // The leader never changed.
    EXPECT_EQ(transitions("flap"), 0);
    expect_settled("flap", only);
}

}  // namespace
}  // namespace elector::testing
