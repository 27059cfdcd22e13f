// The ElectionGroup controller on a real control plane (etcd, kube-apiserver,
// controller-manager, scheduler, node simulator), asserted with kubectl: one
// labelled leader whose Service endpoint follows it, failover on deletion,
// crash and NotReady under both policies, recovery after elector dies in the
// middle of a handover, no transition when elector restarts, a client-go
// reader that agrees with the Lease, the /leader endpoint, and the
// conditions of groups that cannot run. In every test a watch on the pods
// (leader_watch) fails the test if two pods of one group carry the label at
// the same time.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "leadership.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class election_test : public election_fixture {
protected:
    election_test()
        : election_fixture({.ns_prefix = "election",
                            .group_defaults = {.lease_duration = "3s",
                                               .renew_deadline = "2s",
                                               .retry_period = "1s",
                                               .policy = "WaitForLeaseExpiry"},
                            .leader_service = true,
                            .ready_timeout = 20s}) {}

    static void SetUpTestSuite() {
        auto version = run({elector_binary(), "--version"});
        hooks_ = version.out.find("test hooks") != std::string::npos;
        election_fixture::SetUpTestSuite();
    }

    std::set<std::string> endpoints(const std::string& service) const {
        std::set<std::string> out;
        auto e = env_->get_json({"get", "endpoints", service, "-n", ns_});
        for (const auto& s : e.value("subsets", json::array())) {
            for (const auto& a : s.value("addresses", json::array())) out.insert(a["targetRef"]["name"].get<std::string>());
        }
        return out;
    }

    static inline bool hooks_ = false;
};

// A scrape's sample lines that start with `prefix` (name and labels).
std::vector<std::string> samples(const std::string& scrape, const std::string& prefix) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < scrape.size()) {
        const auto end = scrape.find('\n', at);
        const std::string line = scrape.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.starts_with(prefix)) out.push_back(line);
        if (end == std::string::npos) break;
        at = end + 1;
    }
    return out;
}

TEST_F(election_test, metrics_follow_the_election_and_pass_promtool) {
    start_elector({}, {"--metrics-bind-address=127.0.0.1:0"});
    create_group("measured");
    const std::string first = wait_ready("measured");
    ASSERT_FALSE(first.empty());
    httplib::Client metrics("127.0.0.1", wait_for_port("metrics"));
    const std::string where = fmt::format("namespace=\"{}\",group=\"measured\"", ns_);
    const auto scrape = [&] {
        auto r = metrics.Get("/metrics");
        return r && r->status == 200 ? r->body : std::string();
    };
    std::string text;
    ASSERT_TRUE(eventually(5s, [&] {
        text = scrape();
        return samples(text, "elector_group_leader{" + where).size() == 1;
    })) << text;
    EXPECT_EQ(samples(text, "elector_group_leader{" + where),
              std::vector<std::string>{fmt::format("elector_group_leader{{{},pod=\"{}\"}} 1", where, first)});
    // Every reason's series exists from the start, at 0 but for the initial election.
    const auto reasons = samples(text, "elector_leader_transitions_total{" + where);
    EXPECT_EQ(reasons.size(), 12u) << text;
    for (const auto& line : reasons) {
        EXPECT_TRUE(line.ends_with(line.find("reason=\"initial\"") != std::string::npos ? "} 1" : "} 0")) << line;
    }
    EXPECT_EQ(samples(text, "elector_group_term{" + where), std::vector<std::string>{fmt::format("elector_group_term{{{}}} 1", where)});
    EXPECT_EQ(samples(text, "elector_group_has_leader{" + where),
              std::vector<std::string>{fmt::format("elector_group_has_leader{{{}}} 1", where)});
    EXPECT_EQ(samples(text, "elector_group_candidates{" + where + ",state=\"eligible\"}"),
              std::vector<std::string>{fmt::format("elector_group_candidates{{{},state=\"eligible\"}} 3", where)});
    EXPECT_EQ(samples(text, "leader_election_master_status{").size(), 1u) << text;
    EXPECT_FALSE(samples(text, "process_resident_memory_bytes ").empty()) << text;
    EXPECT_EQ(samples(text, "elector_ready "), std::vector<std::string>{"elector_ready 1"}) << text;
    EXPECT_FALSE(samples(text, "elector_api_requests_total{verb=\"patch\",code=\"200\"}").empty()) << text;
    EXPECT_FALSE(samples(text, "elector_workqueue_adds_total ").empty()) << text;
    EXPECT_EQ(samples(text, "elector_group_leaderless_seconds_total{" + where).size(), 1u) << text;

    // A deletion: the leader gauge follows, the counter agrees with the Lease.
    env_->kubectl({"delete", "pod", first, "-n", ns_, "--wait=false"});
    auto second = watch_->wait_for_leader("measured", first, 10s);
    ASSERT_TRUE(second.has_value());
    ASSERT_TRUE(eventually(5s, [&] {
        text = scrape();
        const auto leaders = samples(text, "elector_group_leader{" + where);
        return leaders.size() == 1 && leaders[0].find(second->pod) != std::string::npos;
    })) << text;
    double total = 0;
    for (const auto& line : samples(text, "elector_leader_transitions_total{" + where)) {
        total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    EXPECT_EQ(total, static_cast<double>(transitions("measured") + 1)) << "the initial election and every transition\n"
                                                                        << text;

    // The scrape passes promtool (installed by scripts/install-deps), in both formats' negotiation.
    const std::string file = fmt::format("{}/scrape-{}.txt", env_->dir(), ns_);
    {
        std::ofstream(file) << text;
    }
    auto checked = run({"sh", "-c", "promtool check metrics < " + file});
    EXPECT_TRUE(checked.ok() && checked.out.empty() && checked.err.empty()) << checked.describe();
    auto om = metrics.Get("/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}});
    ASSERT_TRUE(om);
    EXPECT_TRUE(om->get_header_value("Content-Type").starts_with("application/openmetrics-text")) << om->get_header_value("Content-Type");
    EXPECT_TRUE(om->body.ends_with("# EOF\n")) << om->body.substr(om->body.size() > 200 ? om->body.size() - 200 : 0);

    // The group's series go with the group.
    auto deleted = env_->kubectl({"delete", "eg", "measured", "-n", ns_, "--timeout=30s"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    EXPECT_TRUE(eventually(5s, [&] {
        text = scrape();
        return text.find(where) == std::string::npos && !text.empty();
    })) << text;
}

TEST_F(election_test, elects_one_leader_that_status_lease_service_and_leader_api_agree_on) {
    start_elector();
    create_group("web");
    // Within 2 s of the pods being Ready, exactly one is labelled.
    ASSERT_TRUE(eventually(20s, [&] {
        return env_->get_json({"get", "deployment", "web", "-n", ns_})["status"].value("readyReplicas", 0) == 3;
    }));
    auto first = watch_->wait_for_leader("web", "", 2s);
    ASSERT_TRUE(first.has_value()) << "no pod labelled within 2 s of the Deployment being ready";
    const std::string leader = wait_ready("web");
    ASSERT_EQ(leader, first->pod);
    EXPECT_EQ(labelled(), std::set<std::string>{leader});
    EXPECT_EQ(pod(leader)["metadata"]["annotations"].value("elector.dev/term", ""), "1");

    auto g = group("web");
    EXPECT_EQ(g["status"]["term"], 1);
    EXPECT_EQ(g["status"]["leaseName"], "web");
    EXPECT_EQ(g["status"]["candidatesReady"], "3/3");
    EXPECT_EQ(g["status"]["lastTransitionReason"], "Elected");
    EXPECT_EQ(g["status"]["observedGeneration"], g["metadata"]["generation"]);
    EXPECT_EQ(condition(g, "LeaderElected"), "True");
    EXPECT_EQ(condition(g, "InvalidSpec"), "False");
    EXPECT_EQ(g["status"]["conditions"][0]["observedGeneration"], g["metadata"]["generation"]);

    // kubectl get eg: NAME TARGET LEADER TERM READY AGE.
    auto table = env_->kubectl({"get", "eg", "web", "-n", ns_, "--no-headers"});
    ASSERT_TRUE(table.ok()) << table.describe();
    EXPECT_NE(table.out.find(leader), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("3/3"), std::string::npos) << table.out;
    // kubectl wait works on the Ready condition.
    auto waited = env_->kubectl({"wait", "--for=condition=Ready", "eg/web", "-n", ns_, "--timeout=5s"});
    EXPECT_TRUE(waited.ok()) << waited.describe();

    // The Lease, as client-go writes it, owned by the group.
    auto l = lease("web");
    EXPECT_EQ(l["spec"]["holderIdentity"], leader);
    EXPECT_EQ(l["spec"]["leaseDurationSeconds"], 3);
    EXPECT_EQ(l["spec"]["leaseTransitions"], 0);
    EXPECT_TRUE(l["spec"].contains("acquireTime") && l["spec"].contains("renewTime"));
    EXPECT_EQ(l["metadata"]["ownerReferences"][0]["kind"], "ElectionGroup");
    EXPECT_EQ(l["metadata"]["ownerReferences"][0]["uid"], g["metadata"]["uid"]);
    // Renewed every retryPeriod while the holder is healthy.
    const std::string renewed = l["spec"]["renewTime"];
    EXPECT_TRUE(eventually(3s, [&] { return lease("web")["spec"]["renewTime"] != renewed; }));

    // The Service routes only to the leader.
    EXPECT_TRUE(eventually(5s, [&] { return endpoints("web") == std::set<std::string>{leader}; }))
        << fmt::format("{}", fmt::join(endpoints("web"), ","));

    // The leader API.
    httplib::Client api("127.0.0.1", wait_for_port("leader API"));
    auto answer = api.Get(fmt::format("/leader/{}/web", ns_));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 200) << answer->body;
    auto body = json::parse(answer->body);
    EXPECT_EQ(body["name"], leader);
    EXPECT_EQ(body["term"], 1);
    auto unknown = api.Get(fmt::format("/leader/{}/nope", ns_));
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    auto bad = api.Get("/leader/only-namespace");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);

    // An Event records the election.
    auto events = env_->get_json({"get", "events", "-n", ns_, "--field-selector", "involvedObject.kind=ElectionGroup"});
    bool elected_event = false;
    for (const auto& e : events["items"]) elected_event |= e["reason"] == "Elected";
    EXPECT_TRUE(elected_event) << events.dump();
}

TEST_F(election_test, deleting_the_leader_moves_leadership_and_the_endpoint_at_once) {
    start_elector();
    create_group("db");
    const std::string first = wait_ready("db");
    ASSERT_FALSE(first.empty());
    auto deleted = env_->kubectl({"delete", "pod", first, "-n", ns_, "--wait=false"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    const double at = monotonic_now();
    auto next = watch_->wait_for_leader("db", first, 5s);
    ASSERT_TRUE(next.has_value()) << "no new leader after deleting the leader";
    EXPECT_LT(next->mono - at, 1.0);
    EXPECT_EQ(next->term, "2");
    EXPECT_TRUE(eventually(5s, [&] { return endpoints("db") == std::set<std::string>{next->pod}; }));
    auto g = group("db");
    EXPECT_TRUE(eventually(3s, [&] {
        g = group("db");
        return status_of(g).value("leader", "") == next->pod;
    }));
    EXPECT_EQ(g["status"]["term"], 2);
    EXPECT_EQ(g["status"]["lastTransitionReason"], "LeaderTerminating");
    EXPECT_EQ(transitions("db"), 1);
}

TEST_F(election_test, a_crashed_leader_container_hands_over_at_once) {
    start_elector();
    create_group("cache");
    const std::string first = wait_ready("cache");
    ASSERT_FALSE(first.empty());
    auto ack = env_->sim().crash(ns_, first, 3.0);
    auto next = watch_->wait_for_leader("cache", first, 5s);
    ASSERT_TRUE(next.has_value()) << "no new leader after a crash";
    EXPECT_LT(next->mono - ack["ackMonotonic"].get<double>(), 1.0);
    EXPECT_TRUE(eventually(3s, [&] { return status_of(group("cache")).value("lastTransitionReason", "") == "LeaderCrashed"; }));
    // The crashed pod comes back but stays a follower.
    EXPECT_TRUE(eventually(10s, [&] { return status_of(group("cache")).value("candidates", json::object()).value("ready", 0) == 3; }));
    EXPECT_EQ(labelled(), std::set<std::string>{next->pod});
}

TEST_F(election_test, a_leader_that_opts_out_hands_over_at_once_and_is_never_chosen_again) {
    start_elector();
    create_group("optout");
    const std::string first = wait_ready("optout");
    ASSERT_FALSE(first.empty());
    auto annotated = env_->kubectl({"annotate", "pod", first, "-n", ns_, "elector.dev/candidate=false"});
    ASSERT_TRUE(annotated.ok()) << annotated.describe();
    auto next = watch_->wait_for_leader("optout", first, 5s);
    ASSERT_TRUE(next.has_value()) << "no handover after the leader opted out";
    EXPECT_TRUE(eventually(3s, [&] {
        auto g = group("optout");
        return status_of(g).value("lastTransitionReason", "") == "LeaderOptedOut" &&
               status_of(g).value("candidates", json::object()).value("ready", 0) == 2;
    }));
    // Deleting the new leader moves leadership to the third pod, not back.
    env_->kubectl({"delete", "pod", next->pod, "-n", ns_, "--wait=false"});
    auto third = watch_->wait_for_leader("optout", next->pod, 5s);
    ASSERT_TRUE(third.has_value());
    EXPECT_NE(third->pod, first);
}

TEST_F(election_test, a_not_ready_leader_keeps_leading_until_its_lease_expires) {
    start_elector();
    create_group("queue", {.lease_duration = "3s", .renew_deadline = "2s", .retry_period = "1s"});
    const std::string first = wait_ready("queue");
    ASSERT_FALSE(first.empty());
    auto ack = env_->sim().not_ready(ns_, first);
    const double at = ack["ackMonotonic"].get<double>();
    // Possibly alive: elector stops renewing and waits for expiry.
    EXPECT_TRUE(eventually(2s, [&] {
        return condition(group("queue"), "LeaderElected", "reason") == "WaitingForLeaseExpiry";
    }));
    auto next = watch_->wait_for_leader("queue", first, 8s);
    ASSERT_TRUE(next.has_value()) << "no takeover after the lease expired";
    const double after = next->mono - at;
    RecordProperty("not_ready_takeover_seconds", fmt::format("{:.3f}", after));
    EXPECT_GE(after, 3.0);
    EXPECT_LE(after, 3.0 + 1.0 + 1.0);
    EXPECT_TRUE(eventually(3s, [&] { return status_of(group("queue")).value("lastTransitionReason", "") == "LeaseExpired"; }));
    EXPECT_TRUE(pod(first)["metadata"].value("labels", json::object()).value("role", "") != "leader");
}

TEST_F(election_test, a_not_ready_leader_is_replaced_at_once_under_the_immediate_policy) {
    start_elector();
    create_group("front", {.policy = "Immediate"});
    const std::string first = wait_ready("front");
    ASSERT_FALSE(first.empty());
    auto ack = env_->sim().not_ready(ns_, first);
    auto next = watch_->wait_for_leader("front", first, 5s);
    ASSERT_TRUE(next.has_value());
    EXPECT_LT(next->mono - ack["ackMonotonic"].get<double>(), 1.0);
    EXPECT_TRUE(eventually(3s, [&] { return status_of(group("front")).value("lastTransitionReason", "") == "LeaderNotReady"; }));
}

TEST_F(election_test, elector_killed_after_each_handover_step_is_completed_by_the_next_run) {
    if (!hooks_) GTEST_SKIP() << "elector was built without ELECTOR_TEST_HOOKS";
    // A lease that outlives elector's restarts (slow under sanitizers): an
    // expired Lease re-acquired for the same holder is a Lease write that is
    // not a renewal, and the hook would stop elector there instead of in the
    // crash's handover. A crash is handed over at once whatever the lease.
    create_group("steps", {.lease_duration = "15s", .renew_deadline = "10s", .retry_period = "2s"});
    start_elector();
    std::string leader = wait_ready("steps");
    ASSERT_FALSE(leader.empty());
    for (int step = 1; step <= 3; ++step) {
        SCOPED_TRACE(fmt::format("exit after step {}", step));
        EXPECT_EQ(stop_elector(), 0);
        start_elector({fmt::format("ELECTOR_TEST_EXIT_AFTER_STEP={}", step)});
        ASSERT_TRUE(eventually(5s, [&] { return read_text(log_).find("caches synced") != std::string::npos; }));
        const auto term_before = status_of(group("steps")).value("term", 0);
        const auto transitions_before = transitions("steps");
        // The container stays down until the next run has seen the crash
        // (a running container with no restart baseline is eligible again).
        env_->sim().crash(ns_, leader, allowance(2.0));
        auto status = elector_->wait(10s);
        ASSERT_TRUE(status.has_value()) << "elector did not exit at the test hook";
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3);
        elector_.reset();
        // What each step left behind.
        const auto l = lease("steps");
        if (step == 1) {
            EXPECT_TRUE(labelled().empty());
            EXPECT_EQ(l["spec"]["holderIdentity"], leader);
        } else if (step == 2) {
            EXPECT_TRUE(labelled().empty());
            EXPECT_NE(l["spec"]["holderIdentity"], leader);
            EXPECT_EQ(transitions("steps"), transitions_before + 1);
        } else {
            EXPECT_EQ(labelled(), std::set<std::string>{l["spec"]["holderIdentity"].get<std::string>()});
            EXPECT_EQ(status_of(group("steps")).value("term", 0), term_before);  // status not written yet
        }
        // The next run completes the handover from the Lease.
        start_elector();
        auto next = watch_->wait_for_leader("steps", leader, 10s);
        ASSERT_TRUE(next.has_value()) << "the restarted elector did not complete the handover";
        EXPECT_TRUE(eventually(5s, [&] {
            auto g = group("steps");
            return status_of(g).value("leader", "") == next->pod && status_of(g).value("term", 0) == term_before + 1;
        }));
        EXPECT_EQ(transitions("steps"), transitions_before + 1);
        EXPECT_EQ(next->term, std::to_string(term_before + 1));
        leader = wait_ready("steps");
        ASSERT_EQ(leader, next->pod);
    }
}

TEST_F(election_test, restarting_elector_with_a_healthy_leader_changes_nothing) {
    start_elector();
    create_group("stable");
    const std::string leader = wait_ready("stable");
    ASSERT_FALSE(leader.empty());
    const auto before = lease("stable")["spec"];
    kill_elector();
    start_elector();
    // A few renewals by the new process.
    const std::string renewed = lease("stable")["spec"]["renewTime"];
    ASSERT_TRUE(eventually(5s, [&] { return lease("stable")["spec"]["renewTime"] != renewed; }));
    std::this_thread::sleep_for(2s);
    const auto after = lease("stable")["spec"];
    EXPECT_EQ(after["holderIdentity"], before["holderIdentity"]);
    EXPECT_EQ(after["leaseTransitions"], before["leaseTransitions"]);
    EXPECT_EQ(after["acquireTime"], before["acquireTime"]);
    EXPECT_EQ(group("stable")["status"]["term"], 1);
    EXPECT_EQ(labelled(), std::set<std::string>{leader});
    // No pod label or annotation was touched.
    EXPECT_EQ(read_text(log_).find("event=promoted"), std::string::npos);
    EXPECT_EQ(read_text(log_).find("event=demoted"), std::string::npos);
}

TEST_F(election_test, a_client_go_reader_sees_a_valid_lease_held_by_the_leader) {
    auto built = run({source_dir() + "/tests/peer/build"}, {.timeout = 10min});
    ASSERT_TRUE(built.ok()) << built.describe();
    std::string peer = built.out;
    peer.erase(peer.find_last_not_of('\n') + 1);
    peer = peer.substr(peer.rfind('\n') + 1);

    start_elector();
    create_group("shared");
    const std::string leader = wait_ready("shared");
    ASSERT_FALSE(leader.empty());
    // client-go's elector with the group's timings: it must see the leader
    // and never find the Lease expired while elector renews it.
    const std::string peer_log = fmt::format("{}/peer-{}.log", env_->dir(), ns_);
    {
        child_process reader({peer, "--kubeconfig", env_->kubeconfig(), "--id", "client-go-reader", "--lease-name",
                              "shared", "--lease-namespace", ns_, "--lease-duration=3s", "--renew-deadline=2s",
                              "--retry-period=1s"},
                             peer_log, peer_log + ".err");
        EXPECT_TRUE(eventually(5s, [&] {
            return read_text(peer_log).find("event=new-leader id=client-go-reader leader=" + leader) != std::string::npos;
        })) << read_text(peer_log) << read_text(peer_log + ".err");
        std::this_thread::sleep_for(7s);  // more than two lease durations
        reader.signal(SIGTERM);
        reader.wait(5s);
    }
    EXPECT_EQ(read_text(peer_log).find("event=started-leading"), std::string::npos) << read_text(peer_log);
    EXPECT_EQ(lease("shared")["spec"]["holderIdentity"], leader);
    EXPECT_EQ(labelled(), std::set<std::string>{leader});
}

TEST_F(election_test, no_eligible_candidate_keeps_the_label_until_a_pod_is_ready) {
    start_elector();
    create_group("solo", {.replicas = 1, .policy = "Immediate"});
    const std::string leader = wait_ready("solo", 1);
    ASSERT_FALSE(leader.empty());
    env_->sim().not_ready(ns_, leader);
    ASSERT_TRUE(eventually(3s, [&] { return condition(group("solo"), "LeaderElected", "reason") == "NoEligibleCandidate"; }));
    auto g = group("solo");
    EXPECT_EQ(condition(g, "Ready"), "False");
    EXPECT_EQ(g["status"]["leader"], leader);
    EXPECT_EQ(labelled(), std::set<std::string>{leader});  // a NotReady pod is out of Endpoints anyway
    httplib::Client api("127.0.0.1", wait_for_port("leader API"));
    auto answer = api.Get(fmt::format("/leader/{}/solo", ns_));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 503) << answer->body;
    EXPECT_EQ(json::parse(answer->body)["reason"], "NoEligibleCandidate");
    // A second pod: it is elected as soon as it is Ready.
    env_->kubectl({"scale", "deployment", "solo", "-n", ns_, "--replicas=2"});
    auto next = watch_->wait_for_leader("solo", leader, 20s);
    ASSERT_TRUE(next.has_value());
    EXPECT_TRUE(eventually(3s, [&] { return condition(group("solo"), "Ready") == "True"; }));
}

TEST_F(election_test, a_deleted_lease_is_restored_for_the_leader_in_its_term) {
    start_elector();
    create_group("fenced");
    std::string leader = wait_ready("fenced");
    ASSERT_FALSE(leader.empty());
    env_->kubectl({"delete", "pod", leader, "-n", ns_, "--wait=false"});
    auto second = watch_->wait_for_leader("fenced", leader, 5s);
    ASSERT_TRUE(second.has_value());
    ASSERT_TRUE(eventually(3s, [&] { return status_of(group("fenced")).value("term", 0) == 2; }));
    const std::string uid = lease("fenced")["metadata"].value("uid", "");
    auto deleted = env_->kubectl({"delete", "lease", "fenced", "-n", ns_});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    // elector writes a new Lease (another uid) for the same leader, in the
    // same term: a repair, not a transition.
    ASSERT_TRUE(eventually(5s, [&] {
        auto l = env_->kubectl({"get", "lease", "fenced", "-n", ns_, "-o", "jsonpath={.metadata.uid}"});
        return l.ok() && !l.out.empty() && l.out != uid;
    }));
    const json l = lease("fenced");
    EXPECT_EQ(l["spec"].value("leaseTransitions", -1), 1);
    EXPECT_EQ(l["spec"].value("holderIdentity", ""), second->pod);
    EXPECT_EQ(status_of(group("fenced")).value("term", 0), 2);
    EXPECT_EQ(pod(second->pod)["metadata"].value("annotations", json::object()).value("elector.dev/term", ""), "2");
    EXPECT_EQ(labelled(), std::set<std::string>{second->pod});
}

TEST_F(election_test, groups_that_cannot_run_say_why_in_their_conditions) {
    start_elector();
    // No such Deployment.
    env_->apply(fmt::format("apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\nmetadata: {{name: orphan, namespace: {}}}\n"
                            "spec: {{targetRef: {{name: missing}}}}\n", ns_));
    EXPECT_TRUE(eventually(5s, [&] { return condition(group("orphan"), "Ready", "reason") == "TargetNotFound"; }));
    // Timings that break leaseDuration > renewDeadline > 1.2 x retryPeriod.
    create_group("timing", {.lease_duration = "2s", .renew_deadline = "3s", .retry_period = "1s"});
    EXPECT_TRUE(eventually(5s, [&] { return condition(group("timing"), "InvalidSpec") == "True"; }));
    EXPECT_NE(condition(group("timing"), "InvalidSpec", "message").find("spec.renewDeadline"), std::string::npos);
    EXPECT_EQ(condition(group("timing"), "Ready"), "False");
    // A leader label key the Deployment's selector uses.
    create_group("clash");
    env_->kubectl({"patch", "eg", "clash", "-n", ns_, "--type=merge", "-p", R"({"spec":{"leaderLabel":{"key":"app"}}})"});
    EXPECT_TRUE(eventually(10s, [&] { return condition(group("clash"), "InvalidSpec", "reason") == "LeaderLabelConflict"; }));
    auto events = env_->get_json({"get", "events", "-n", ns_, "--field-selector", "type=Warning"});
    std::set<std::string> reasons;
    for (const auto& e : events["items"]) reasons.insert(e["reason"].get<std::string>());
    EXPECT_TRUE(reasons.contains("TargetNotFound") && reasons.contains("InvalidSpec")) << events.dump();
    // Nothing of the invalid groups was labelled or leased.
    EXPECT_FALSE(env_->kubectl({"get", "lease", "timing", "-n", ns_}).ok());
    EXPECT_TRUE(labelled().empty() || labelled().size() == 1);  // "clash" may have elected before the patch
}

TEST_F(election_test, system_namespaces_are_ignored_unless_named_and_namespace_restricts) {
    create_group("scoped");
    // The same workload in kube-public, a system namespace.
    const std::string system_ns = "kube-public";
    const std::string system_group = ns_ + "-sys";
    env_->apply(deployment_manifest(system_group, {.ns = system_ns, .replicas = 1}) + fmt::format(R"(---
apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata: {{name: {0}, namespace: {1}}}
spec: {{targetRef: {{name: {0}}}}}
)",
                            system_group, system_ns));
    auto system_leader = [&] {
        return status_of(env_->get_json({"get", "eg", system_group, "-n", system_ns})).value("leader", "");
    };
    // Another namespace only: nothing here is touched.
    start_elector({}, {"--namespace=somewhere-else"});
    ASSERT_TRUE(eventually(5s, [&] { return read_text(log_).find("caches synced") != std::string::npos; }));
    std::this_thread::sleep_for(2s);
    EXPECT_FALSE(status_of(group("scoped")).contains("leader"));
    EXPECT_TRUE(labelled().empty());
    stop_elector();
    // The default: every namespace but the system ones.
    start_elector();
    EXPECT_FALSE(wait_ready("scoped").empty());
    EXPECT_EQ(system_leader(), "");
    stop_elector();
    // A system namespace named explicitly.
    start_elector({}, {"--namespace=" + system_ns});
    EXPECT_TRUE(eventually(10s, [&] { return !system_leader().empty(); }));
    env_->kubectl({"delete", "deployment,electiongroup,lease", system_group, "-n", system_ns, "--wait=false"});
}

}  // namespace
}  // namespace elector::testing
