// The ElectionGroup controller repairing what others change, on a real control
// plane, asserted with kubectl: drift of the leader label, the term
// annotation and the Lease; deletion of a group through its finalizer (with
// and without elector running); targets that are missing, scaled to zero,
// recreated or given a new selector; Leases and Deployments that another
// owner already claims. In every test a watch on the pods (leader_watch)
// fails the test if two pods of one group are labelled at the same time —
// except the one state a test itself creates by labelling a pod by hand.
#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "leadership.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* const term_annotation = "elector.dev/term";
const char* const finalizer = "elector.dev/finalizer";

class repair_test : public election_fixture {
protected:
    repair_test()
        : election_fixture({.ns_prefix = "repair", .leader_api_bind_address = "0", .pod_columns = "role,app,v"}) {}

    // A violation the test caused on purpose: exactly these two pods (the
    // leader and a pod the test labelled by hand), in leader_watch's words.
    void tolerate(const std::string& a, const std::string& b) {
        const std::set<std::string> pair{a, b};
        tolerated_.insert(fmt::format("pods {} of group", fmt::join(pair, ", ")));
    }
    bool tolerated(const std::string& violation) const override {
        for (const auto& t : tolerated_) {
            if (violation.find(t) != std::string::npos) return true;
        }
        return false;
    }

    // kubectl ARGS -o json, or nullopt if kubectl fails (NotFound, ...).
    std::optional<json> try_get(const std::vector<std::string>& args) const {
        auto with_output = args;
        with_output.insert(with_output.end(), {"-o", "json"});
        auto r = env_->kubectl(with_output);
        if (!r.ok()) return std::nullopt;
        return json::parse(r.out);
    }
    // Whether `kubectl get KIND NAME` answers NotFound.
    bool not_found(const std::string& kind, const std::string& name) const {
        auto r = env_->kubectl({"get", kind, name, "-n", ns_});
        return !r.ok() && r.err.find("NotFound") != std::string::npos;
    }
    static std::string leader_of(const json& g) { return status_of(g).value("leader", ""); }
    static std::int64_t term_of(const json& g) { return status_of(g).value("term", std::int64_t{0}); }
    static std::string reason_of(const json& g) { return status_of(g).value("lastTransitionReason", ""); }
    static std::string label_of(const json& p, const std::string& key) {
        return p.value("metadata", json::object()).value("labels", json::object()).value(key, "");
    }
    static std::string annotation_of(const json& p, const std::string& key) {
        return p.value("metadata", json::object()).value("annotations", json::object()).value(key, "");
    }
    std::string pod_term(const std::string& name) const { return annotation_of(pod(name), term_annotation); }

    // Pods selected by a label selector, by name.
    std::set<std::string> pods(const std::string& selector) const {
        std::set<std::string> out;
        const json listed = env_->get_json({"get", "pods", "-n", ns_, "-l", selector});
        for (const auto& p : listed["items"]) out.insert(p["metadata"]["name"].get<std::string>());
        return out;
    }
    // Pods of app=APP carrying the term annotation.
    std::set<std::string> annotated(const std::string& app) const {
        std::set<std::string> out;
        const json listed = env_->get_json({"get", "pods", "-n", ns_, "-l", "app=" + app});
        for (const auto& p : listed["items"]) {
            if (!annotation_of(p, term_annotation).empty()) out.insert(p["metadata"]["name"].get<std::string>());
        }
        return out;
    }
    // Events about group NAME with this reason (and type): their counts, summed.
    int event_count(const std::string& name, const std::string& reason, const std::string& type = "") const {
        std::string selector = fmt::format("involvedObject.kind=ElectionGroup,involvedObject.name={},reason={}", name, reason);
        if (!type.empty()) selector += ",type=" + type;
        const json events = env_->get_json({"get", "events", "-n", ns_, "--field-selector", selector});
        int total = 0;
        for (const auto& e : events["items"]) total += e.value("count", 1);
        return total;
    }
    // The messages of those Events.
    std::vector<std::string> event_messages(const std::string& name, const std::string& reason) const {
        const json events = env_->get_json(
            {"get", "events", "-n", ns_, "--field-selector",
             fmt::format("involvedObject.kind=ElectionGroup,involvedObject.name={},reason={}", name, reason)});
        std::vector<std::string> out;
        for (const auto& e : events["items"]) out.push_back(e.value("message", ""));
        return out;
    }
    // Waits until the DriftRepaired Warning count of the group exceeds `before`.
    bool drift_event_after(const std::string& name, int before) const {
        return eventually(5s, [&] { return event_count(name, "DriftRepaired", "Warning") > before; }, 200ms);
    }

    std::set<std::string> tolerated_;
};

// ---- 4 Drift repair -------------------------------------------------------

TEST_F(repair_test, drift_of_the_leader_label_and_term_annotation_is_repaired_without_a_handover) {
    start_elector();
    create_group("web");
    const std::string leader = wait_ready("web");
    ASSERT_FALSE(leader.empty());
    const std::string term = pod_term(leader);
    ASSERT_EQ(term, "1");
    const auto transitions_before = transitions("web");
    std::string follower;
    for (const auto& p : pods("app=web")) {
        if (p != leader) follower = p;
    }
    ASSERT_FALSE(follower.empty());

    {
        SCOPED_TRACE("(a) role=leader put by hand on a follower");
        const int drift_before = event_count("web", "DriftRepaired", "Warning");
        tolerate(leader, follower);  // the test itself labels a second pod
        auto labelled_by_hand = env_->kubectl({"label", "pod", follower, "-n", ns_, "role=leader"});
        ASSERT_TRUE(labelled_by_hand.ok()) << labelled_by_hand.describe();
        const auto at = std::chrono::steady_clock::now();
        EXPECT_TRUE(eventually(5s, [&] { return label_of(pod(follower), "role").empty(); }, 50ms))
            << "the hand-put label was not removed";
        RecordProperty("hand_label_removed_seconds",
                       fmt::format("{:.3f}", std::chrono::duration<double>(std::chrono::steady_clock::now() - at).count()));
        EXPECT_EQ(labelled("web"), std::set<std::string>{leader});
        EXPECT_EQ(leader_of(group("web")), leader);
        EXPECT_EQ(lease("web")["spec"]["holderIdentity"], leader);
        EXPECT_EQ(transitions("web"), transitions_before);
        EXPECT_EQ(pod_term(leader), term);
        EXPECT_TRUE(annotation_of(pod(follower), term_annotation).empty());
        EXPECT_TRUE(drift_event_after("web", drift_before)) << "no DriftRepaired Warning Event";
    }
    {
        SCOPED_TRACE("(b) the label removed from the leader");
        const int drift_before = event_count("web", "DriftRepaired", "Warning");
        auto removed = env_->kubectl({"label", "pod", leader, "-n", ns_, "role-"});
        ASSERT_TRUE(removed.ok()) << removed.describe();
        EXPECT_TRUE(eventually(5s, [&] { return label_of(pod(leader), "role") == "leader"; }, 50ms))
            << "the leader's label was not restored";
        EXPECT_EQ(labelled("web"), std::set<std::string>{leader});
        EXPECT_EQ(pod_term(leader), term);
        EXPECT_EQ(transitions("web"), transitions_before);
        auto g = group("web");
        EXPECT_EQ(leader_of(g), leader);
        EXPECT_EQ(term_of(g), 1);
        EXPECT_TRUE(drift_event_after("web", drift_before)) << "no DriftRepaired Warning Event";
    }
    {
        SCOPED_TRACE("(c) the term annotation removed from the leader");
        const int drift_before = event_count("web", "DriftRepaired", "Warning");
        auto removed = env_->kubectl({"annotate", "pod", leader, "-n", ns_, std::string(term_annotation) + "-"});
        ASSERT_TRUE(removed.ok()) << removed.describe();
        EXPECT_TRUE(eventually(5s, [&] { return pod_term(leader) == term; }, 50ms))
            << "the term annotation was not restored; it is '" << pod_term(leader) << "'";
        EXPECT_EQ(labelled("web"), std::set<std::string>{leader});
        EXPECT_EQ(transitions("web"), transitions_before);
        auto g = group("web");
        EXPECT_EQ(leader_of(g), leader);
        EXPECT_EQ(term_of(g), 1);
        EXPECT_EQ(reason_of(g), "Elected");
        EXPECT_TRUE(drift_event_after("web", drift_before)) << "no DriftRepaired Warning Event";
    }
}

TEST_F(repair_test, lease_edits_are_accepted_corrected_or_recreated) {
    start_elector();
    create_group("db");
    const std::string first = wait_ready("db");
    ASSERT_FALSE(first.empty());
    std::string other;
    for (const auto& p : pods("app=db")) {
        if (p != first) other = p;
    }
    ASSERT_FALSE(other.empty());
    const std::int64_t term_before = term_of(group("db"));
    ASSERT_EQ(term_before, 1);

    {
        SCOPED_TRACE("(d) holderIdentity set to another pod of the group: a switchover");
        const auto transitions_before = transitions("db");
        auto patched = env_->kubectl({"patch", "lease", "db", "-n", ns_, "--type=merge", "-p",
                                      fmt::format(R"({{"spec":{{"holderIdentity":"{}"}}}})", other)});
        ASSERT_TRUE(patched.ok()) << patched.describe();
        auto next = watch_->wait_for_leader("db", first, 10s);
        ASSERT_TRUE(next.has_value()) << "no pod but the old leader labelled after the Lease edit";
        EXPECT_EQ(next->pod, other);
        EXPECT_TRUE(eventually(5s, [&] {
            auto g = group("db");
            return leader_of(g) == other && reason_of(g) == "LeaseEdited";
        })) << status_of(group("db")).dump();
        auto g = group("db");
        EXPECT_EQ(term_of(g), term_before + 1);
        EXPECT_TRUE(eventually(3s, [&] { return pod_term(other) == std::to_string(term_before + 1); }))
            << "term annotation '" << pod_term(other) << "'";
        EXPECT_EQ(labelled("db"), std::set<std::string>{other});
        EXPECT_TRUE(label_of(pod(first), "role").empty());
        auto l = lease("db");
        EXPECT_EQ(l["spec"]["holderIdentity"], other);
        EXPECT_EQ(l["spec"].value("leaseTransitions", std::int64_t{-1}), transitions_before + 1);
        // The handover's Normal Event: "FROM → TO (term N): ...".
        const std::string expected = fmt::format("{} → {} (term {})", first, other, term_before + 1);
        EXPECT_TRUE(eventually(5s, [&] {
            for (const auto& m : event_messages("db", "LeaseEdited")) {
                if (m.starts_with(expected)) return true;
            }
            return false;
        })) << fmt::format("no LeaseEdited Event starting '{}': {}", expected, fmt::join(event_messages("db", "LeaseEdited"), " | "));
    }

    const std::string leader = other;
    const std::int64_t term = term_before + 1;
    {
        SCOPED_TRACE("(e) holderIdentity set to a name that is no pod of the group: corrected, no handover");
        const auto transitions_before = transitions("db");
        const int drift_before = event_count("db", "DriftRepaired", "Warning");
        auto patched = env_->kubectl(
            {"patch", "lease", "db", "-n", ns_, "--type=merge", "-p", R"({"spec":{"holderIdentity":"no-such-pod"}})"});
        ASSERT_TRUE(patched.ok()) << patched.describe();
        EXPECT_TRUE(eventually(5s, [&] { return lease("db")["spec"].value("holderIdentity", "") == leader; }, 50ms))
            << "the Lease was not corrected: " << lease("db")["spec"].dump();
        EXPECT_EQ(transitions("db"), transitions_before);
        std::this_thread::sleep_for(1s);  // room for a wrong handover to show
        auto g = group("db");
        EXPECT_EQ(leader_of(g), leader);
        EXPECT_EQ(term_of(g), term);
        EXPECT_EQ(reason_of(g), "LeaseEdited");
        EXPECT_EQ(labelled("db"), std::set<std::string>{leader});
        EXPECT_EQ(pod_term(leader), std::to_string(term));
        EXPECT_EQ(lease("db")["spec"]["holderIdentity"], leader);
        EXPECT_EQ(transitions("db"), transitions_before);
        EXPECT_TRUE(drift_event_after("db", drift_before)) << "no DriftRepaired Warning Event";
    }
    {
        SCOPED_TRACE("(f) the Lease deleted: recreated for the same leader and term");
        const auto before = lease("db");
        const auto transitions_before = before["spec"].value("leaseTransitions", std::int64_t{-1});
        const std::string uid = before["metadata"]["uid"];
        const int drift_before = event_count("db", "DriftRepaired", "Warning");
        auto deleted = env_->kubectl({"delete", "lease", "db", "-n", ns_});
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        std::optional<json> recreated;
        EXPECT_TRUE(eventually(5s, [&] {
            recreated = try_get({"get", "lease", "db", "-n", ns_});
            return recreated && recreated->at("metadata").value("uid", "") != uid;
        }, 50ms)) << "the Lease was not recreated";
        ASSERT_TRUE(recreated.has_value());
        EXPECT_EQ((*recreated)["spec"].value("holderIdentity", ""), leader);
        EXPECT_EQ((*recreated)["spec"].value("leaseTransitions", std::int64_t{-1}), transitions_before);
        EXPECT_EQ((*recreated)["metadata"]["ownerReferences"][0]["kind"], "ElectionGroup");
        std::this_thread::sleep_for(1s);  // room for a wrong handover to show
        auto g = group("db");
        EXPECT_EQ(leader_of(g), leader);
        EXPECT_EQ(term_of(g), term);
        EXPECT_EQ(reason_of(g), "LeaseEdited");
        EXPECT_EQ(pod_term(leader), std::to_string(term));
        EXPECT_EQ(labelled("db"), std::set<std::string>{leader});
        EXPECT_EQ(transitions("db"), transitions_before);
        EXPECT_TRUE(drift_event_after("db", drift_before)) << "no DriftRepaired Warning Event";
    }
}

// ---- 5 Deletion -----------------------------------------------------------

TEST_F(repair_test, deleting_a_group_cleans_up_through_its_finalizer_and_waits_while_elector_is_down) {
    start_elector();
    create_group("gone");
    create_group("kept");
    ASSERT_FALSE(wait_ready("gone").empty());
    ASSERT_FALSE(wait_ready("kept").empty());
    for (const std::string name : {"gone", "kept"}) {
        EXPECT_TRUE(eventually(5s, [&] {
            const auto f = group(name)["metadata"].value("finalizers", json::array());
            return std::find(f.begin(), f.end(), json(finalizer)) != f.end();
        })) << name << " has no finalizer " << finalizer;
    }

    {
        SCOPED_TRACE("elector running: the delete completes and leaves nothing behind");
        const auto at = std::chrono::steady_clock::now();
        auto deleted = env_->kubectl({"delete", "eg", "gone", "-n", ns_, "--timeout=30s"});
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - at).count();
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        RecordProperty("group_delete_seconds", fmt::format("{:.3f}", took));
        EXPECT_LT(took, allowance(15.0));
        EXPECT_TRUE(not_found("eg", "gone"));
        // Cleaned up before the finalizer went: checked at once.
        EXPECT_TRUE(labelled("gone").empty()) << fmt::format("{}", fmt::join(labelled("gone"), ","));
        EXPECT_TRUE(annotated("gone").empty()) << fmt::format("{}", fmt::join(annotated("gone"), ","));
        EXPECT_TRUE(not_found("lease", "gone")) << env_->kubectl({"get", "lease", "gone", "-n", ns_}).out;
        EXPECT_EQ(pods("app=gone").size(), 3u);  // the workload itself is untouched
    }
    {
        SCOPED_TRACE("elector stopped: the delete stays pending until the finalizer is cleared");
        const std::string leader = leader_of(group("kept"));
        EXPECT_EQ(stop_elector(), 0);
        auto deleted = env_->kubectl({"delete", "eg", "kept", "-n", ns_, "--wait=false"});
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        std::this_thread::sleep_for(3s);
        auto g = try_get({"get", "eg", "kept", "-n", ns_});
        ASSERT_TRUE(g.has_value()) << "the group went without elector";
        EXPECT_TRUE((*g)["metadata"].contains("deletionTimestamp"));
        EXPECT_EQ(labelled("kept"), std::set<std::string>{leader});
        auto patched = env_->kubectl(
            {"patch", "eg", "kept", "-n", ns_, "--type=merge", "-p", R"({"metadata":{"finalizers":null}})"});
        ASSERT_TRUE(patched.ok()) << patched.describe();
        EXPECT_TRUE(eventually(10s, [&] { return not_found("eg", "kept"); }));
    }
}

// ---- 6 Target changes -----------------------------------------------------

TEST_F(repair_test, a_missing_or_scaled_to_zero_target_waits_and_elects_when_pods_come) {
    start_elector();
    env_->apply(group_manifest("late", "late"));
    EXPECT_TRUE(eventually(10s, [&] {
        auto g = group("late");
        return condition(g, "Ready") == "False" && condition(g, "Ready", "reason") == "TargetNotFound" &&
               condition(g, "LeaderElected") == "False" && condition(g, "LeaderElected", "reason") == "TargetNotFound";
    })) << status_of(group("late")).dump();

    // The Deployment created later: a leader without help.
    env_->apply(deployment_manifest("late"));
    const std::string first = wait_ready("late");
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(pod_term(first), std::to_string(term_of(group("late"))));

    // Scaled to zero: nobody to lead.
    auto scaled = env_->kubectl({"scale", "deployment", "late", "-n", ns_, "--replicas=0"});
    ASSERT_TRUE(scaled.ok()) << scaled.describe();
    EXPECT_TRUE(eventually(20s, [&] {
        auto g = group("late");
        return condition(g, "LeaderElected") == "False" && condition(g, "LeaderElected", "reason") == "NoCandidates";
    })) << status_of(group("late")).dump();
    EXPECT_TRUE(eventually(10s, [&] { return pods("app=late").empty(); }));
    EXPECT_TRUE(labelled("late").empty());

    // Scaled back: a leader again.
    scaled = env_->kubectl({"scale", "deployment", "late", "-n", ns_, "--replicas=3"});
    ASSERT_TRUE(scaled.ok()) << scaled.describe();
    const std::string second = wait_ready("late");
    ASSERT_FALSE(second.empty());
    EXPECT_NE(second, first);  // every old pod is gone
    EXPECT_EQ(condition(group("late"), "LeaderElected"), "True");
}

TEST_F(repair_test, a_recreated_target_or_a_new_selector_gets_a_leader_among_its_new_pods) {
    start_elector();
    create_group("app");
    const std::string first = wait_ready("app");
    ASSERT_FALSE(first.empty());
    // Waits until the group is Ready and its leader, the only pod labelled,
    // is none of `old_pods`; `leader` is the last one seen.
    auto leader_among_new_pods = [&](const std::set<std::string>& old_pods, std::string& leader) {
        return eventually(40s, [&] {
            auto g = group("app");
            leader = leader_of(g);
            return condition(g, "Ready") == "True" && !leader.empty() && !old_pods.contains(leader) &&
                   labelled("app") == std::set<std::string>{leader};
        });
    };

    {
        SCOPED_TRACE("the Deployment deleted (cascade) and recreated");
        const auto old_pods = pods("app=app");
        auto deleted = env_->kubectl({"delete", "deployment", "app", "-n", ns_, "--timeout=30s"});
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        env_->apply(deployment_manifest("app"));
        std::string leader;
        EXPECT_TRUE(leader_among_new_pods(old_pods, leader)) << "no leader among the new pods: " << status_of(group("app")).dump();
        EXPECT_TRUE(eventually(20s, [&] {
            for (const auto& p : pods("app=app")) {
                if (old_pods.contains(p)) return false;
            }
            return true;
        }));
        EXPECT_EQ(labelled("app"), std::set<std::string>{leader});
    }
    {
        SCOPED_TRACE("the selector changed: deleted with --cascade=orphan, recreated with v=2");
        const std::string old_leader = leader_of(group("app"));
        ASSERT_FALSE(old_leader.empty());
        const auto old_pods = pods("app=app");
        auto deleted = env_->kubectl({"delete", "deployment", "app", "-n", ns_, "--cascade=orphan", "--timeout=30s"});
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        env_->apply(deployment_manifest("app", {.version = "2"}));
        std::string leader;
        EXPECT_TRUE(leader_among_new_pods(old_pods, leader)) << "no leader among the v=2 pods: " << status_of(group("app")).dump();
        EXPECT_EQ(label_of(pod(leader), "v"), "2");
        EXPECT_TRUE(label_of(pod(old_leader), "role").empty()) << "the orphaned old leader kept its label";
        EXPECT_TRUE(old_pods.contains(old_leader) && pods("app=app,!v").contains(old_leader))
            << "the orphaned pods should still exist";
        EXPECT_EQ(status_of(group("app")).value("candidates", json::object()).value("total", 0), 3);
        // The orphans go with their ReplicaSet; the leader stays.
        auto cleaned = env_->kubectl({"delete", "rs", "-n", ns_, "-l", "app=app,!v", "--wait=false"});
        EXPECT_TRUE(cleaned.ok()) << cleaned.describe();
        EXPECT_TRUE(eventually(20s, [&] { return pods("app=app,!v").empty(); }));
        EXPECT_EQ(labelled("app"), std::set<std::string>{leader});
        EXPECT_EQ(leader_of(group("app")), leader);
    }
}

// ---- 7 Conflicts ----------------------------------------------------------

TEST_F(repair_test, a_foreign_lease_is_left_alone_until_it_is_deleted) {
    start_elector();
    env_->apply(fmt::format(R"(apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: taken, namespace: {}}}
spec: {{holderIdentity: someone-else, leaseDurationSeconds: 3}}
)",
                            ns_));
    const std::string rv = lease("taken")["metadata"]["resourceVersion"];
    create_group("taken");
    EXPECT_TRUE(eventually(20s, [&] {
        auto g = group("taken");
        return condition(g, "Ready") == "False" && condition(g, "Ready", "reason") == "LeaseConflict" &&
               condition(g, "LeaderElected") == "False" && condition(g, "LeaderElected", "reason") == "LeaseConflict";
    })) << status_of(group("taken")).dump();
    ASSERT_TRUE(eventually(20s, [&] {
        return env_->get_json({"get", "deployment", "taken", "-n", ns_})["status"].value("readyReplicas", 0) == 3;
    }));
    std::this_thread::sleep_for(4s);  // more than the foreign Lease's duration
    auto l = lease("taken");
    EXPECT_EQ(l["metadata"]["resourceVersion"], rv) << "elector wrote to a Lease it does not own: " << l.dump();
    EXPECT_EQ(l["spec"]["holderIdentity"], "someone-else");
    EXPECT_TRUE(labelled("taken").empty());
    EXPECT_TRUE(annotated("taken").empty());
    EXPECT_EQ(condition(group("taken"), "Ready", "reason"), "LeaseConflict");

    // The foreign Lease deleted: the group elects within about leaseDuration.
    auto deleted = env_->kubectl({"delete", "lease", "taken", "-n", ns_});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    const double at = monotonic_now();
    auto leader = watch_->wait_for_leader("taken", "", 3s + 7s);
    ASSERT_TRUE(leader.has_value()) << "no leader after the foreign Lease was deleted";
    RecordProperty("elected_after_foreign_lease_deleted_seconds", fmt::format("{:.3f}", leader->mono - at));
    EXPECT_TRUE(eventually(5s, [&] {
        auto g = group("taken");
        return condition(g, "Ready") == "True" && leader_of(g) == leader->pod;
    })) << status_of(group("taken")).dump();
    l = lease("taken");
    EXPECT_EQ(l["spec"]["holderIdentity"], leader->pod);
    EXPECT_EQ(l["metadata"]["ownerReferences"][0]["kind"], "ElectionGroup");
}

TEST_F(repair_test, the_younger_of_two_groups_on_one_deployment_waits_for_the_older) {
    start_elector();
    env_->apply(deployment_manifest("shared") + "---\n" + group_manifest("first", "shared"));
    const std::string leader = wait_ready_on("first", "shared");
    ASSERT_FALSE(leader.empty());
    const auto transitions_before = transitions("first");

    env_->apply(group_manifest("second", "shared"));
    EXPECT_TRUE(eventually(10s, [&] {
        auto g = group("second");
        return condition(g, "Ready") == "False" && condition(g, "Ready", "reason") == "Conflict";
    })) << status_of(group("second")).dump();
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(condition(group("second"), "Ready", "reason"), "Conflict");
    EXPECT_TRUE(leader_of(group("second")).empty());
    EXPECT_TRUE(not_found("lease", "second")) << "the younger group wrote a Lease";
    // The older keeps its leader.
    auto first = group("first");
    EXPECT_EQ(leader_of(first), leader);
    EXPECT_EQ(condition(first, "Ready"), "True");
    EXPECT_EQ(transitions("first"), transitions_before);
    EXPECT_EQ(labelled("shared"), std::set<std::string>{leader});

    // The older deleted: the younger elects.
    auto deleted = env_->kubectl({"delete", "eg", "first", "-n", ns_, "--timeout=30s"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    std::string next;
    EXPECT_TRUE(eventually(15s, [&] {
        auto g = group("second");
        next = leader_of(g);
        return condition(g, "Ready") == "True" && !next.empty() && labelled("shared") == std::set<std::string>{next};
    })) << status_of(group("second")).dump();
    auto l = try_get({"get", "lease", "second", "-n", ns_});
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ((*l)["spec"].value("holderIdentity", ""), next);
    EXPECT_EQ(pod_term(next), std::to_string(term_of(group("second"))));
}

}  // namespace
}  // namespace elector::testing
