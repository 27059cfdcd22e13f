// Fault controls of the local control plane (tests/env/ctl): components
// restarted, frozen, killed and started again, etcd compacted, all on
// purpose, asserted through the kubectl built with them.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool ready(const json& obj) {
    if (obj["metadata"].contains("deletionTimestamp")) return false;
    for (const auto& c : obj["status"].value("conditions", json::array())) {
        if (c["type"] == "Ready") return c["status"] == "True";
    }
    return false;
}

bool readyz(const control_plane& env) {
    return env.kubectl({"get", "--raw", "/readyz", "--request-timeout=2s"}, {.timeout = 10s}).ok();
}

std::string cmdline(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
    std::string line;
    for (std::string arg; std::getline(in, arg, '\0');) line += arg + ' ';
    return line;
}

class env_faults_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { env_ = std::make_unique<control_plane>(control_plane_options{.nodes = 2}); }
    static void TearDownTestSuite() { env_.reset(); }

    static control_plane& env() { return *env_; }

    static void kubectl_ok(const std::vector<std::string>& args) {
        auto r = env().kubectl(args);
        ASSERT_TRUE(r.ok()) << r.describe();
    }

    static inline std::unique_ptr<control_plane> env_;
};

TEST_F(env_faults_test, a_restarted_api_server_keeps_its_objects_and_takes_new_writes) {
    kubectl_ok({"create", "namespace", "restart"});
    kubectl_ok({"create", "configmap", "before", "-n", "restart", "--from-literal=k=v"});
    const pid_t old_pid = env().pid("apiserver");

    env().restart("apiserver");

    EXPECT_NE(env().pid("apiserver"), old_pid);
    EXPECT_FALSE(process_alive(old_pid));
    EXPECT_TRUE(process_alive(env().pid("apiserver")));
    EXPECT_EQ(env().get_json({"get", "configmap", "before", "-n", "restart"})["data"]["k"], "v");
    kubectl_ok({"create", "configmap", "after", "-n", "restart", "--from-literal=k=w"});
    const auto listed = env().get_json({"get", "configmaps", "-n", "restart"});
    std::set<std::string> names;
    for (const auto& cm : listed["items"]) names.insert(cm["metadata"]["name"].get<std::string>());
    EXPECT_TRUE(names.count("before") == 1 && names.count("after") == 1) << fmt::format("{}", fmt::join(names, ","));
}

TEST_F(env_faults_test, a_stopped_api_server_answers_nothing_until_continued) {
    const pid_t pid = env().pid("apiserver");
    env().stop("apiserver");
    auto r = env().kubectl({"get", "--raw", "/readyz", "--request-timeout=2s"}, {.timeout = 10s});
    env().cont("apiserver");  // before asserting: the next tests need it

    EXPECT_FALSE(r.ok()) << "a stopped API server answered: " << r.describe();
    EXPECT_FALSE(r.timed_out) << "kubectl did not give up by itself after 2 s";
    EXPECT_TRUE(eventually(10s, [] { return readyz(env()); })) << "no /readyz after SIGCONT";
    EXPECT_EQ(env().pid("apiserver"), pid);
}

TEST_F(env_faults_test, compacting_etcd_returns_the_revision_and_the_api_server_keeps_serving) {
    const std::int64_t revision = env().compact_etcd();
    EXPECT_GT(revision, 0);
    kubectl_ok({"get", "pods", "-A"});
    // Nothing (or little) written since: compacting again is no error.
    EXPECT_GE(env().compact_etcd(), revision);
}

TEST_F(env_faults_test, a_restarted_node_simulator_keeps_nodes_ready_and_pods_coming) {
    const pid_t old_pid = env().pid("node_simulator");

    env().restart("node-simulator");

    EXPECT_NE(env().pid("node_simulator"), old_pid);
    EXPECT_FALSE(process_alive(old_pid));
    EXPECT_EQ(env().info()["simulator_url"],
              fmt::format("http://127.0.0.1:{}", env().info()["ports"]["node_simulator"].get<int>()));
    const auto nodes = env().get_json({"get", "nodes"});
    ASSERT_EQ(nodes["items"].size(), 2u);
    for (const auto& node : nodes["items"]) {
        EXPECT_TRUE(ready(node)) << node["metadata"]["name"] << " not Ready after the simulator restarted";
    }

    kubectl_ok({"create", "namespace", "sim-restart"});
    kubectl_ok({"create", "deployment", "web", "-n", "sim-restart", "--image=registry.invalid/web:1", "--replicas=2"});
    json pods;
    ASSERT_TRUE(eventually(30s, [&] {
        pods = env().get_json({"get", "pods", "-n", "sim-restart", "-l", "app=web"})["items"];
        return pods.size() == 2 && ready(pods[0]) && ready(pods[1]);
    })) << pods.dump();
    // sim() follows the simulator to its new port.
    EXPECT_NO_THROW(env().sim().ready("sim-restart", pods[0]["metadata"]["name"]));
}

TEST_F(env_faults_test, a_killed_scheduler_starts_again) {
    const pid_t old_pid = env().pid("scheduler");
    env().kill("scheduler");
    EXPECT_FALSE(process_alive(old_pid));
    EXPECT_THROW(env().kill("scheduler"), std::runtime_error);

    env().start("scheduler");

    EXPECT_NE(env().pid("scheduler"), old_pid);
    EXPECT_TRUE(process_alive(env().pid("scheduler")));
    EXPECT_THROW(env().start("scheduler"), std::runtime_error) << "a second scheduler started";
}

TEST_F(env_faults_test, unknown_components_are_refused) {
    EXPECT_THROW(env().stop("kubelet"), std::runtime_error);
}

TEST_F(env_faults_test, down_after_a_stop_leaves_no_process) {
    control_plane second({.nodes = 1});
    std::vector<pid_t> pids;
    for (const char* c : {"etcd", "apiserver", "controller_manager", "scheduler", "node_simulator"}) {
        pids.push_back(second.pid(c));
    }
    second.stop("apiserver");
    second.stop("etcd");

    const auto started = std::chrono::steady_clock::now();
    second.down();
    const auto took = std::chrono::steady_clock::now() - started;

    for (pid_t p : pids) EXPECT_FALSE(process_alive(p)) << "pid " << p << " still running after down";
    // SIGTERM reaches a stopped process once continued: no waiting for the SIGKILL at 10 s.
    EXPECT_LT(took, 9s);
}

TEST_F(env_faults_test, without_watch_cache_the_api_server_serves_watches_from_etcd) {
    control_plane direct({.nodes = 1, .watch_cache = false});
    EXPECT_NE(cmdline(direct.pid("apiserver")).find("--watch-cache=false"), std::string::npos);

    auto r = direct.kubectl({"create", "configmap", "c", "--from-literal=k=1", "-o", "jsonpath={.metadata.resourceVersion}"});
    ASSERT_TRUE(r.ok()) << r.describe();
    const std::string created = r.out;
    for (const char* k : {"2", "3"}) {
        r = direct.kubectl({"patch", "configmap", "c", "-p", fmt::format(R"({{"data":{{"k":"{}"}}}})", k)});
        ASSERT_TRUE(r.ok()) << r.describe();
    }
    auto listed = direct.get_json({"get", "configmaps"})["items"];
    ASSERT_TRUE(std::any_of(listed.begin(), listed.end(), [](const json& cm) {
        return cm["metadata"]["name"] == "c" && cm["data"]["k"] == "3";
    })) << listed.dump();

    // A watch cache would still hold these events; etcd, compacted, does not.
    EXPECT_GT(direct.compact_etcd(), std::stoll(created));
    r = direct.kubectl({"get", "--raw",
                        fmt::format("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={}&timeoutSeconds=2",
                                    created),
                        "--request-timeout=5s"},
                       {.timeout = 10s});
    EXPECT_NE(r.out.find(R"("code":410)"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace elector::testing
