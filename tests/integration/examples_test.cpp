// The examples of examples/ on a real control plane (etcd, kube-apiserver,
// controller-manager, scheduler, node simulator), applied as a user applies
// them, with kubectl into the test's namespace:
//   - every example (quickstart, single-active with -k, rolling-update,
//     switchover) passes a server-side dry run and applies cleanly, lands in
//     that namespace, and its group elects one leader: one pod labelled, the
//     Lease's holder, status.leader, and the only endpoint of its role=leader
//     Service;
//   - single-active's app.sh runs for real on this host against elector's
//     leader API, with downward API files the test writes from the pods'
//     real labels: the leader's copy works, the others stand by; the leader
//     stops at once on SIGTERM; after the leader pod is deleted the new
//     leader's copy waits for its label, then works;
//   - rolling-update: `kubectl rollout restart` moves leadership exactly
//     once, to the new ReplicaSet, with reason Rollout;
//   - switchover: spec.preferredLeader hands over to a follower at once
//     (reason Preferred); clearing it changes nothing.
// The pods never run their images here (there is no container runtime):
// the node simulator makes them Running and Ready with a pod IP.
// ELECTOR_TEST_APP_PATH=DIR runs app.sh with DIR/sh and DIR first in its PATH
// (e.g. a directory of busybox applets: sh, wget, timeout, sed, date, ...).
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool write_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) return false;
    }
    std::error_code error;
    std::filesystem::rename(tmp, path, error);  // atomic, as the kubelet swaps its files
    return !error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// kubectl 1.20's --dry-run=server looks the CRD of a custom resource up
// through apiextensions.k8s.io/v1beta1, and the API server warns about that
// API; any other line is the example's.
std::string without_kubectl_dry_run_warning(const std::string& err) {
    const std::string known = "Warning: apiextensions.k8s.io/v1beta1 CustomResourceDefinition is deprecated";
    std::string out;
    for (std::size_t at = 0; at < err.size();) {
        auto end = err.find('\n', at);
        if (end == std::string::npos) end = err.size();
        const std::string line = err.substr(at, end - at);
        if (!line.starts_with(known)) out += line + "\n";
        at = end + 1;
    }
    return out;
}

// The number of lines of TEXT that contain PART.
int count_lines(const std::string& text, const std::string& part) {
    int n = 0;
    for (std::size_t at = 0; at < text.size();) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        if (std::string_view(text).substr(at, end - at).find(part) != std::string_view::npos) ++n;
        at = end + 1;
    }
    return n;
}

// One copy of app.sh, run as if in pod `pod`.
struct app_run {
    std::string pod;
    std::string dir;  // its PODINFO_DIR, stdout (app.log), stderr (app.err) and status file
    std::unique_ptr<child_process> process;
    [[nodiscard]] std::string log() const { return read_text(dir + "/app.log"); }
    [[nodiscard]] std::string status() const { return read_text(dir + "/status"); }
};

class examples_test : public election_fixture {
protected:
    examples_test() : election_fixture({.ns_prefix = "examples"}) {}

    static std::string example(const std::string& name) { return source_dir() + "/examples/" + name; }

    // kubectl apply --dry-run=server, then kubectl apply, of an example
    // directory (-f, or -k for a kustomization) into the test's namespace;
    // both succeed and print no warning.
    void apply_example(const std::string& name, bool kustomize = false) {
        SCOPED_TRACE("example " + name);
        const std::string flag = kustomize ? "-k" : "-f";
        auto dry = env_->kubectl({"apply", "--dry-run=server", "-n", ns_, flag, example(name)});
        ASSERT_TRUE(dry.ok()) << dry.describe();
        EXPECT_EQ(without_kubectl_dry_run_warning(dry.err), "");
        EXPECT_TRUE(contains(dry.out, "(server dry run)")) << dry.out;
        auto applied = env_->kubectl({"apply", "-n", ns_, flag, example(name)});
        ASSERT_TRUE(applied.ok()) << applied.describe();
        EXPECT_EQ(applied.err, "");
        EXPECT_TRUE(contains(applied.out, "electiongroup.elector.dev/" + name + " created")) << applied.out;
    }

    // The IPs of a Service's ready endpoints.
    std::set<std::string> endpoint_ips(const std::string& service) const {
        std::set<std::string> out;
        const json e = env_->get_json({"get", "endpoints", service, "-n", ns_});
        for (const auto& subset : e.value("subsets", json::array())) {
            for (const auto& a : subset.value("addresses", json::array())) out.insert(a.value("ip", ""));
        }
        return out;
    }

    // A settled group: status.leader is the Lease's holder and the only pod
    // labelled; with a Service, its only endpoint is the leader's pod IP.
    void expect_elected(const std::string& name, const std::string& service = "") {
        SCOPED_TRACE("group " + name);
        const std::string leader = wait_ready(name);
        ASSERT_FALSE(leader.empty()) << group(name).dump();
        EXPECT_EQ(lease(name)["spec"].value("holderIdentity", ""), leader);
        EXPECT_EQ(labelled(name), std::set<std::string>{leader});
        const auto g = group(name);
        EXPECT_EQ(condition(g, "LeaderElected"), "True");
        EXPECT_EQ(pod(leader)["metadata"].value("annotations", json::object()).value("elector.dev/term", ""),
                  std::to_string(status_of(g).value("term", std::int64_t{0})));
        if (service.empty()) return;
        const std::string ip = pod(leader).value("status", json::object()).value("podIP", "");
        ASSERT_FALSE(ip.empty()) << "the node simulator gave " << leader << " no pod IP";
        std::set<std::string> ips;
        EXPECT_TRUE(eventually(10s, [&] { return (ips = endpoint_ips(service)) == std::set<std::string>{ip}; }))
            << service << " has endpoints " << fmt::format("{}", fmt::join(ips, ",")) << ", want " << ip << " ("
            << leader << ")";
    }

    std::string reason_of(const std::string& name) const {
        return status_of(group(name)).value("lastTransitionReason", "");
    }
    std::int64_t term_of(const std::string& name) const { return status_of(group(name)).value("term", std::int64_t{0}); }

    // The group's Events with this reason.
    std::vector<json> events_of(const std::string& name, const std::string& reason) const {
        const json listed = env_->get_json({"get", "events", "-n", ns_, "--field-selector",
                                            "involvedObject.kind=ElectionGroup,involvedObject.name=" + name});
        std::vector<json> out;
        for (const auto& e : listed["items"]) {
            if (e.value("reason", "") == reason) out.push_back(e);
        }
        return out;
    }


    std::string owner_of(const std::string& pod_name) const {
        for (const auto& o : pod(pod_name)["metadata"].value("ownerReferences", json::array())) {
            if (o.value("kind", "") == "ReplicaSet") return o.value("name", "");
        }
        return "";
    }
    // The ReplicaSet of the Deployment's current revision.
    std::string current_replica_set(const std::string& name) const {
        const json d = env_->get_json({"get", "deployment", name, "-n", ns_});
        const std::string revision =
            d["metadata"].value("annotations", json::object()).value("deployment.kubernetes.io/revision", "");
        const json sets = env_->get_json({"get", "replicasets", "-n", ns_, "-l", "app=" + name});
        for (const auto& rs : sets["items"]) {
            if (rs["metadata"].value("annotations", json::object()).value("deployment.kubernetes.io/revision", "-") ==
                revision) {
                return rs["metadata"]["name"].get<std::string>();
            }
        }
        return "";
    }

    // The line of elector's /metrics that starts with `prefix` ("" if none).
    static std::string metric_line(int port, const std::string& prefix) {
        auto scraped = run({"curl", "-fsS", "-m", "5", fmt::format("http://127.0.0.1:{}/metrics", port)});
        if (!scraped.ok()) return "curl failed: " + scraped.describe();
        for (std::size_t at = 0; at < scraped.out.size();) {
            auto end = scraped.out.find('\n', at);
            if (end == std::string::npos) end = scraped.out.size();
            if (scraped.out.compare(at, prefix.size(), prefix) == 0) return scraped.out.substr(at, end - at);
            at = end + 1;
        }
        return "";
    }

    // --- single-active's app.sh, run on this host.

    // Writes the downward API files of every app whose pod still exists, as
    // the kubelet would: `labels` (key="value" lines, sorted) and `term`.
    void refresh_podinfo() {
        const json pods = env_->get_json({"get", "pods", "-n", ns_, "-l", "app=single-active"});
        for (const auto& p : pods["items"]) {
            const std::string name = p["metadata"].value("name", "");
            for (auto& a : apps_) {
                if (a.pod != name) continue;
                std::string labels;
                const auto object = p["metadata"].value("labels", json::object());
                std::map<std::string, std::string> sorted;
                for (auto it = object.begin(); it != object.end(); ++it) sorted[it.key()] = it.value().get<std::string>();
                for (const auto& [k, v] : sorted) labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : "\n", k, v);
                const std::string term =
                    p["metadata"].value("annotations", json::object()).value("elector.dev/term", "");
                EXPECT_TRUE(write_file(a.dir + "/labels", labels));
                EXPECT_TRUE(write_file(a.dir + "/term", term));
            }
        }
    }

    app_run& start_app(const std::string& pod_name, int leader_api_port) {
        app_run fresh{.pod = pod_name, .dir = fmt::format("{}/examples-{}/{}", env_->dir(), ns_, pod_name)};
        std::filesystem::create_directories(fresh.dir);
        apps_.push_back(std::move(fresh));
        refresh_podinfo();
        app_run& app = apps_.back();
        // ELECTOR_TEST_APP_PATH: a directory of other tools for app.sh (e.g.
        // busybox applets: sh, wget, timeout, sed, ...), put first in its PATH.
        const char* tools = std::getenv("ELECTOR_TEST_APP_PATH");
        const std::string shell = tools != nullptr && *tools != '\0' ? std::string(tools) + "/sh" : "sh";
        std::vector<std::string> env{"POD_NAME=" + pod_name,
                                     "POD_NAMESPACE=" + ns_,
                                     "GROUP=single-active",
                                     fmt::format("ELECTOR_URL=http://127.0.0.1:{}", leader_api_port),
                                     "PODINFO_DIR=" + app.dir,
                                     "INTERVAL=0.2",
                                     "STATUS_FILE=" + app.dir + "/status"};
        if (tools != nullptr && *tools != '\0') {
            const char* path = std::getenv("PATH");
            env.push_back(fmt::format("PATH={}:{}", tools, path != nullptr ? path : "/usr/bin:/bin"));
        }
        // timeout bounds its life should this test die without its TearDown.
        app.process = std::make_unique<child_process>(
            std::vector<std::string>{"timeout", "120", shell, example("single-active") + "/app.sh"},
            app.dir + "/app.log", app.dir + "/app.err", env);
        return app;
    }
    app_run* app_of(const std::string& pod_name) {
        for (auto& a : apps_) {
            if (a.pod == pod_name) return &a;
        }
        return nullptr;
    }
    // How many apps say they are active now (their status file).
    int active_apps() const {
        int n = 0;
        for (const auto& a : apps_) n += a.status().starts_with("active ") ? 1 : 0;
        return n;
    }

    void stop_processes() override {
        for (auto& a : apps_) {
            if (a.process && a.process->running()) {
                a.process->signal(SIGTERM);
                a.process->wait(3s);
            }
            a.process.reset();
        }
        election_fixture::stop_processes();
    }
    void print_logs() const override {
        election_fixture::print_logs();
        for (const auto& a : apps_) {
            fmt::print(stderr, "--- app.sh as {}:\n{}--- its stderr:\n{}\n", a.pod,
                       run({"tail", "-n", "30", a.dir + "/app.log"}).out, read_text(a.dir + "/app.err"));
        }
    }

    std::vector<app_run> apps_;
};

TEST_F(examples_test, every_example_applies_into_the_namespace_and_elects_one_leader) {
    const auto started = std::chrono::steady_clock::now();
    start_elector();
    apply_example("quickstart");
    apply_example("single-active", true);
    apply_example("rolling-update");
    apply_example("switchover");
    if (HasFatalFailure()) return;
    // Nothing landed in the default namespace.
    auto defaults = env_->get_json({"get", "deployments,services,electiongroups,configmaps", "-n", "default", "-l",
                                    "app in (quickstart,single-active,rolling-update,switchover)"});
    EXPECT_TRUE(defaults["items"].empty()) << defaults.dump();

    expect_elected("quickstart", "quickstart-leader");
    expect_elected("single-active", "single-active-leader");
    expect_elected("rolling-update", "rolling-update-leader");
    expect_elected("switchover");

    // kustomize's generated ConfigMap (name with a hash suffix) holds app.sh
    // and is the one the Deployment mounts.
    const json d = env_->get_json({"get", "deployment", "single-active", "-n", ns_});
    std::string mounted;
    for (const auto& v : d["spec"]["template"]["spec"].value("volumes", json::array())) {
        if (v.value("name", "") == "app") mounted = v.value("configMap", json::object()).value("name", "");
    }
    ASSERT_TRUE(mounted.starts_with("single-active-app-") && mounted.size() > std::string("single-active-app-").size())
        << "the Deployment mounts ConfigMap '" << mounted << "', not kustomize's generated one";
    const json cm = env_->get_json({"get", "configmap", mounted, "-n", ns_});
    EXPECT_EQ(cm.value("data", json::object()).value("app.sh", ""), read_text(example("single-active") + "/app.sh"));
    std::cout << fmt::format("[ figures  ] 4 examples dry-run, applied and elected in {:.1f} s\n", seconds_since(started));
}

TEST_F(examples_test, single_active_app_works_only_as_the_leader_and_follows_a_failover) {
    start_elector();
    apply_example("single-active", true);
    if (HasFatalFailure()) return;
    const std::string first = wait_ready("single-active");
    ASSERT_FALSE(first.empty());
    const int port = wait_for_port("leader API");
    ASSERT_GT(port, 0);
    const std::int64_t first_term = term_of("single-active");
    ASSERT_GE(first_term, 1);

    const auto pods = live_pods("single-active");
    ASSERT_EQ(pods.size(), 3u);
    for (const auto& p : pods) start_app(p, port);
    const std::string active_line = fmt::format("ACTIVE: elector names this pod and it is labelled role=leader: "
                                                "leader work starts (term {}, downward API term {})",
                                                first_term, first_term);
    const std::string standby_line = fmt::format("STANDBY: the leader is {} (term {})", first, first_term);
    EXPECT_TRUE(eventually(10s, [&] {
        for (const auto& a : apps_) {
            if (!contains(a.log(), a.pod == first ? active_line : standby_line)) return false;
        }
        return true;
    })) << "want the leader " << first << " active, the others standing by";
    // The leader works; the others never do.
    EXPECT_TRUE(eventually(5s, [&] { return count_lines(app_of(first)->log(), "working as leader") >= 3; }));
    for (const auto& a : apps_) {
        const std::string want = a.pod == first ? fmt::format("active pod={} term={}\n", first, first_term)
                                                : fmt::format("standby pod={} term={}\n", a.pod, first_term);
        EXPECT_TRUE(eventually(2s, [&] { return a.status() == want; })) << a.status() << " want " << want;
        if (a.pod != first) {
            EXPECT_EQ(count_lines(a.log(), "working as leader"), 0) << a.log();
            EXPECT_EQ(count_lines(a.log(), "ACTIVE"), 0) << a.log();
        }
    }
    EXPECT_EQ(active_apps(), 1);

    // The leader pod is deleted: the kubelet would SIGTERM its app, which
    // stops leader work at once; elector elects another pod.
    auto deleted = env_->kubectl({"delete", "pod", first, "-n", ns_, "--wait=false"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    const auto sigterm_at = std::chrono::steady_clock::now();
    app_of(first)->process->signal(SIGTERM);
    auto exit_status = app_of(first)->process->wait(5s);
    const double stopped_after = seconds_since(sigterm_at);
    ASSERT_TRUE(exit_status.has_value()) << "app.sh did not exit on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0) << *exit_status;
    EXPECT_LT(stopped_after, 1.0);
    const std::string old_log = app_of(first)->log();
    EXPECT_TRUE(contains(old_log, fmt::format("SIGTERM: stopping leader work now (term {})", first_term))) << old_log;
    const auto sigterm_line = old_log.find("SIGTERM");
    ASSERT_NE(sigterm_line, std::string::npos) << old_log;
    EXPECT_FALSE(contains(old_log.substr(sigterm_line), "working as leader")) << old_log;
    EXPECT_EQ(app_of(first)->status(), fmt::format("stopped pod={}\n", first));

    std::string second;
    ASSERT_TRUE(eventually(10s, [&] {
        const auto g = group("single-active");
        second = status_of(g).value("leader", "");
        return !second.empty() && second != first && condition(g, "LeaderElected") == "True";
    })) << group("single-active").dump();
    const std::int64_t second_term = term_of("single-active");
    EXPECT_EQ(second_term, first_term + 1);
    // Terminating or already gone when elector saw it: handed over at once either way.
    const std::string reason = reason_of("single-active");
    EXPECT_TRUE(reason == "LeaderTerminating" || reason == "LeaderDeleted") << reason;

    app_run* next = app_of(second);
    if (next == nullptr) {
        // A pod created after the first copies started (not expected: pods
        // Ready the longest come first): its app starts with its labels.
        next = &start_app(second, port);
    } else {
        // Until the kubelet refreshes its downward API files, elector alone
        // names it: it keeps standing by.
        const std::string waiting = fmt::format(
            "STANDBY: elector names this pod (term {}); waiting for the downward API label role=leader", second_term);
        EXPECT_TRUE(eventually(5s, [&] { return contains(next->log(), waiting); })) << next->log();
        EXPECT_TRUE(eventually(2s, [&] { return next->status() == fmt::format("standby pod={} term={}\n", second, second_term); }))
            << next->status();
        EXPECT_EQ(count_lines(next->log(), "working as leader"), 0);
    }
    const auto refreshed_at = std::chrono::steady_clock::now();
    refresh_podinfo();
    const std::string second_active = fmt::format("ACTIVE: elector names this pod and it is labelled role=leader: "
                                                  "leader work starts (term {}, downward API term {})",
                                                  second_term, second_term);
    EXPECT_TRUE(eventually(5s, [&] { return contains(next->log(), second_active); })) << next->log();
    const double active_after = seconds_since(refreshed_at);
    EXPECT_TRUE(eventually(5s, [&] { return count_lines(next->log(), "working as leader") >= 2; }));
    for (const auto& a : apps_) {
        if (a.pod == first || a.pod == second) continue;
        EXPECT_TRUE(eventually(5s, [&] {
            return contains(a.log(), fmt::format("STANDBY: the leader is {} (term {})", second, second_term));
        })) << a.pod << ": " << a.log();
        EXPECT_EQ(count_lines(a.log(), "working as leader"), 0) << a.log();
    }
    EXPECT_EQ(active_apps(), 1);
    EXPECT_EQ(next->status(), fmt::format("active pod={} term={}\n", second, second_term));
    std::cout << fmt::format(
        "[ figures  ] single-active app.sh: SIGTERM -> exit in {:.0f} ms; labels file refreshed -> active in {:.2f} s "
        "(INTERVAL 0.2 s)\n",
        stopped_after * 1000, active_after);
}

TEST_F(examples_test, rolling_update_moves_leadership_once_to_the_new_replica_set) {
    start_elector({}, {"--metrics-bind-address=127.0.0.1:0"});
    apply_example("rolling-update");
    if (HasFatalFailure()) return;
    const std::string first = wait_ready("rolling-update");
    ASSERT_FALSE(first.empty());
    const int metrics_port = wait_for_port("metrics");
    ASSERT_GT(metrics_port, 0);
    const std::string rollouts = fmt::format(
        R"(elector_leader_transitions_total{{namespace="{}",group="rolling-update",reason="rollout"}} )", ns_);
    EXPECT_EQ(metric_line(metrics_port, rollouts), rollouts + "0");
    const std::int64_t before = transitions("rolling-update");
    const std::string old_set = owner_of(first);
    ASSERT_FALSE(old_set.empty());
    watch_->reset_ready_gap("rolling-update");

    const auto started = std::chrono::steady_clock::now();
    auto restarted = env_->kubectl({"rollout", "restart", "deployment/rolling-update", "-n", ns_});
    ASSERT_TRUE(restarted.ok()) << restarted.describe();
    auto status =
        env_->kubectl({"rollout", "status", "deployment/rolling-update", "-n", ns_, "--timeout=60s"}, {.timeout = 70s});
    ASSERT_TRUE(status.ok()) << status.describe();
    const double rollout_seconds = seconds_since(started);
    const std::string new_set = current_replica_set("rolling-update");
    ASSERT_FALSE(new_set.empty());
    ASSERT_NE(new_set, old_set);

    std::string leader;
    EXPECT_TRUE(eventually(10s, [&] {
        leader = status_of(group("rolling-update")).value("leader", "");
        return !leader.empty() && leader != first && owner_of(leader) == new_set &&
               live_pods("rolling-update").size() == 3u;
    })) << "leader " << leader << ", new ReplicaSet " << new_set;
    std::this_thread::sleep_for(1s);  // nothing else moves
    EXPECT_EQ(transitions("rolling-update"), before + 1);
    EXPECT_EQ(status_of(group("rolling-update")).value("leader", ""), leader);
    EXPECT_EQ(reason_of("rolling-update"), "Rollout");
    EXPECT_EQ(events_of("rolling-update", "Rollout").size(), 1u);
    expect_elected("rolling-update", "rolling-update-leader");
    EXPECT_EQ(metric_line(metrics_port, rollouts), rollouts + "1");
    const double gap = watch_->longest_ready_gap("rolling-update").count();
    EXPECT_LT(gap, 2.0);
    std::cout << fmt::format(
        "[ figures  ] rolling-update: rollout restart completed in {:.1f} s (minReadySeconds 3), leadership {} -> {} "
        "once, longest time without a Ready leader {:.3f} s\n",
        rollout_seconds, first, leader, gap);
}

TEST_F(examples_test, switchover_hands_over_to_the_preferred_pod_and_clearing_it_changes_nothing) {
    start_elector();
    apply_example("switchover");
    if (HasFatalFailure()) return;
    const std::string first = wait_ready("switchover");
    ASSERT_FALSE(first.empty());
    const std::int64_t before = transitions("switchover");
    auto pods = live_pods("switchover");
    pods.erase(std::remove(pods.begin(), pods.end(), first), pods.end());
    ASSERT_EQ(pods.size(), 2u);
    const std::string preferred = pods[0];

    const auto patched_at = std::chrono::steady_clock::now();
    auto patched = env_->kubectl({"patch", "eg", "switchover", "-n", ns_, "--type=merge", "-p",
                                  fmt::format(R"({{"spec":{{"preferredLeader":"{}"}}}})", preferred)});
    ASSERT_TRUE(patched.ok()) << patched.describe();
    auto moved = watch_->wait_for_leader("switchover", first, 5s);
    const double moved_after = seconds_since(patched_at);
    ASSERT_TRUE(moved.has_value()) << "no switchover to " << preferred;
    EXPECT_EQ(moved->pod, preferred);
    EXPECT_TRUE(eventually(5s, [&] {
        return status_of(group("switchover")).value("leader", "") == preferred && reason_of("switchover") == "Preferred";
    })) << group("switchover").dump();
    EXPECT_TRUE(eventually(3s, [&] { return lease("switchover")["spec"].value("holderIdentity", "") == preferred; }));
    EXPECT_EQ(transitions("switchover"), before + 1);
    EXPECT_EQ(events_of("switchover", "Preferred").size(), 1u);
    expect_elected("switchover");
    const std::int64_t term = term_of("switchover");

    // Clearing the field changes nothing.
    auto cleared = env_->kubectl(
        {"patch", "eg", "switchover", "-n", ns_, "--type=merge", "-p", R"({"spec":{"preferredLeader":null}})"});
    ASSERT_TRUE(cleared.ok()) << cleared.describe();
    EXPECT_EQ(group("switchover")["spec"].value("preferredLeader", ""), "");
    auto changed = watch_->wait_for_leader("switchover", preferred, 3s);
    EXPECT_FALSE(changed.has_value()) << "leadership moved to " << changed->pod << " after clearing preferredLeader";
    EXPECT_EQ(transitions("switchover"), before + 1);
    EXPECT_EQ(term_of("switchover"), term);
    EXPECT_EQ(lease("switchover")["spec"].value("holderIdentity", ""), preferred);
    EXPECT_EQ(labelled("switchover"), std::set<std::string>{preferred});
    std::cout << fmt::format("[ figures  ] switchover: {} -> {} {:.0f} ms after the patch (leaseDuration 15s)\n", first,
                             preferred, moved_after * 1000);
}

}  // namespace
}  // namespace elector::testing
