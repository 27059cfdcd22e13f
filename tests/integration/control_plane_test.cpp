// The local control plane itself (tests/env): a real kube-apiserver, etcd,
// kube-controller-manager and kube-scheduler with the node simulator standing
// in for kubelets, asserted through the kubectl built with them.
#include <signal.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "widgets.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class control_plane_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { env_ = std::make_unique<control_plane>(); }
    static void TearDownTestSuite() { env_.reset(); }

    static const control_plane& env() { return *env_; }

    static void create_namespace(const std::string& ns) {
        auto r = env().kubectl({"create", "namespace", ns});
        ASSERT_TRUE(r.ok()) << r.describe();
    }

    // kubectl create deployment + expose, as a user would.
    static void create_web(const std::string& ns, int replicas) {
        create_namespace(ns);
        auto r = env().kubectl({"create", "deployment", "web", "-n", ns, "--image=registry.invalid/web:1",
                                fmt::format("--replicas={}", replicas)});
        ASSERT_TRUE(r.ok()) << r.describe();
        r = env().kubectl({"expose", "deployment", "web", "-n", ns, "--port=80"});
        ASSERT_TRUE(r.ok()) << r.describe();
    }

    static json pods(const std::string& ns) { return env().get_json({"get", "pods", "-n", ns, "-l", "app=web"})["items"]; }

    static bool pod_ready(const json& pod) {
        if (pod["metadata"].contains("deletionTimestamp")) return false;
        for (const auto& c : pod["status"].value("conditions", json::array())) {
            if (c["type"] == "Ready") return c["status"] == "True";
        }
        return false;
    }

    static std::set<std::string> ready_pod_names(const std::string& ns) {
        std::set<std::string> names;
        for (const auto& p : pods(ns)) {
            if (pod_ready(p)) names.insert(p["metadata"]["name"]);
        }
        return names;
    }

    // The IPs in the Service's Endpoints: ready ones, or not-ready ones.
    static std::set<std::string> endpoint_ips(const std::string& ns, bool ready = true) {
        auto ep = env().get_json({"get", "endpoints", "web", "-n", ns});
        std::set<std::string> ips;
        for (const auto& subset : ep.value("subsets", json::array())) {
            for (const auto& a : subset.value(ready ? "addresses" : "notReadyAddresses", json::array())) {
                ips.insert(a["ip"]);
            }
        }
        return ips;
    }

    static json pod(const std::string& ns, const std::string& name) { return env().get_json({"get", "pod", name, "-n", ns}); }

    static json condition(const json& obj, const std::string& type) {
        for (const auto& c : obj["status"].value("conditions", json::array())) {
            if (c["type"] == type) return c;
        }
        return json::object();
    }

    static void wait_ready(const std::string& ns, std::size_t n, std::chrono::milliseconds timeout = 15s) {
        ASSERT_TRUE(eventually(timeout, [&] { return ready_pod_names(ns).size() == n && endpoint_ips(ns).size() == n; }))
            << "ready pods: " << fmt::format("{}", fmt::join(ready_pod_names(ns), ","))
            << "; endpoint IPs: " << fmt::format("{}", fmt::join(endpoint_ips(ns), ","));
    }

    static inline std::unique_ptr<control_plane> env_;
};

// Kubernetes 1.20 built with Go >= 1.18 and the vendored reflect2 unfixed
// dies (SIGSEGV in mapiterinit) at the first custom resource; this proves the
// fix in tests/env/patches is in the binaries.
TEST_F(control_plane_test, custom_resources_create_list_and_watch_keep_the_api_server_up) {
    constexpr int count = 300;
    create_namespace("crs");
    install_widget_crd(env());
    run_result r;

    const std::string watch_out = env().dir() + "/widgets.watch";
    child_process watcher({env().info()["kubectl"], "--kubeconfig", env().kubeconfig(), "get", "widgets", "-n", "crs",
                           "--watch", "-o", "name"},
                          watch_out, watch_out + ".err");
    ASSERT_TRUE(eventually(10s, [&] { return std::filesystem::exists(watch_out); }));
    std::this_thread::sleep_for(1s);  // let the watch open before the first create

    // kubectl 1.20 throttles itself to 5 requests per second: create the
    // widgets through 10 kubectl processes at once.
    constexpr int writers = 10;
    std::array<std::string, writers> manifests;
    for (int i = 0; i < count; ++i) {
        manifests[i % writers] += fmt::format(
            "---\napiVersion: test.elector.dev/v1\nkind: Widget\nmetadata: {{name: w-{}, labels: {{batch: one}}}}\n"
            "spec: {{size: {}, labels: {{a: \"x{}\", b: \"y\", c: \"z\"}}}}\n",
            i, i, i);
    }
    std::vector<std::future<run_result>> creates;
    for (const auto& m : manifests) {
        creates.push_back(std::async(std::launch::async, [&] {
            return env().kubectl({"create", "-n", "crs", "-f", "-"}, {.timeout = 120s, .input = m});
        }));
    }
    for (auto& c : creates) {
        auto created = c.get();
        ASSERT_TRUE(created.ok()) << created.describe();
    }

    auto listed = env().get_json({"get", "widgets", "-n", "crs", "--chunk-size=50"});
    ASSERT_EQ(listed["items"].size(), count);
    for (const auto& w : listed["items"]) {
        const std::string name = w["metadata"]["name"];
        EXPECT_EQ(w["spec"]["labels"]["a"], "x" + name.substr(2)) << w.dump();
    }
    auto selected = env().get_json({"get", "widgets", "-n", "crs", "-l", "batch=one"});
    EXPECT_EQ(selected["items"].size(), count);

    r = env().kubectl({"patch", "widget", "w-3", "-n", "crs", "--type=merge", "-p", R"({"spec":{"size":42}})"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(env().get_json({"get", "widget", "w-3", "-n", "crs"})["spec"]["size"], 42);

    auto watched_names = [&] {
        std::ifstream in(watch_out);
        std::set<std::string> names;
        for (std::string line; std::getline(in, line);) names.insert(line);
        return names;
    };
    EXPECT_TRUE(eventually(30s, [&] { return watched_names().size() == count; }))
        << "the watch saw " << watched_names().size() << " of " << count << " widgets";
    EXPECT_TRUE(watcher.running()) << "kubectl get --watch ended";

    EXPECT_TRUE(process_alive(env().pid("apiserver")));
    r = env().kubectl({"get", "--raw", "/readyz"});
    EXPECT_TRUE(r.ok()) << r.describe();
    // Deleting the CRD deletes every widget on the server side.
    r = env().kubectl({"delete", "crd", "widgets.test.elector.dev", "--timeout=60s"}, {.timeout = 90s});
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(process_alive(env().pid("apiserver")));
}

TEST_F(control_plane_test, deployment_and_service_get_three_ready_pods_and_endpoints_within_15s) {
    const auto started = std::chrono::steady_clock::now();
    create_web("deploy", 3);
    wait_ready("deploy", 3, 15s);
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    RecordProperty("ready_seconds", fmt::format("{:.1f}", took));

    auto ips = endpoint_ips("deploy");
    for (const auto& p : pods("deploy")) {
        EXPECT_EQ(p["status"]["phase"], "Running");
        EXPECT_TRUE(ips.contains(p["status"]["podIP"])) << p["status"]["podIP"];
        const auto& cs = p["status"]["containerStatuses"][0];
        EXPECT_TRUE(cs["state"].contains("running"));
        EXPECT_EQ(cs["restartCount"], 0);
        EXPECT_EQ(p["status"]["hostIP"].get<std::string>().rfind("192.0.2.", 0), 0u);
    }
}

TEST_F(control_plane_test, a_deleted_pod_gets_a_ready_replacement) {
    create_web("replace", 3);
    wait_ready("replace", 3);
    const std::string victim = *ready_pod_names("replace").begin();
    auto r = env().kubectl({"delete", "pod", victim, "-n", "replace", "--wait=false"});
    ASSERT_TRUE(r.ok()) << r.describe();
    // The simulator finalizes the graceful deletion; the ReplicaSet replaces it.
    auto victim_gone = [&] {
        auto got = env().kubectl({"get", "pod", victim, "-n", "replace"});
        return !got.ok() && got.err.find("NotFound") != std::string::npos;
    };
    EXPECT_TRUE(eventually(15s, [&] {
        auto ready = ready_pod_names("replace");
        return victim_gone() && ready.size() == 3 && !ready.contains(victim) && endpoint_ips("replace").size() == 3;
    })) << "ready pods: " << fmt::format("{}", fmt::join(ready_pod_names("replace"), ","));
}

TEST_F(control_plane_test, a_not_ready_pod_leaves_the_endpoints_and_comes_back) {
    create_web("ready", 3);
    wait_ready("ready", 3);
    const std::string name = *ready_pod_names("ready").begin();
    const std::string ip = pod("ready", name)["status"]["podIP"];

    auto ack = env().sim().not_ready("ready", name);
    EXPECT_TRUE(ack.contains("resourceVersion")) << ack.dump();
    EXPECT_EQ(condition(pod("ready", name), "Ready")["status"], "False");
    EXPECT_TRUE(eventually(10s, [&] { return !endpoint_ips("ready").contains(ip) && endpoint_ips("ready", false).contains(ip); }))
        << "NotReady pod " << name << " still in Endpoints";
    // Still NotReady a moment later: the simulator does not undo the override.
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(condition(pod("ready", name), "Ready")["status"], "False");

    env().sim().ready("ready", name);
    EXPECT_EQ(condition(pod("ready", name), "Ready")["status"], "True");
    EXPECT_TRUE(eventually(10s, [&] { return endpoint_ips("ready").contains(ip); })) << name << " not back in Endpoints";
}

TEST_F(control_plane_test, a_crashed_container_reports_the_kubelet_status_sequence_then_runs_again) {
    create_web("crash", 3);
    wait_ready("crash", 3);
    const std::string name = *ready_pod_names("crash").begin();
    const auto before = pod("crash", name)["status"]["containerStatuses"][0];
    const int restarts = before["restartCount"];

    auto ack = env().sim().crash("crash", name, 3.0);
    ASSERT_TRUE(ack.contains("ackMonotonic")) << ack.dump();

    auto crashed = pod("crash", name);
    const auto& cs = crashed["status"]["containerStatuses"][0];
    EXPECT_EQ(cs["restartCount"], restarts + 1);
    EXPECT_EQ(cs["state"]["waiting"]["reason"], "CrashLoopBackOff") << cs.dump();
    EXPECT_EQ(cs["lastState"]["terminated"]["reason"], "Error") << cs.dump();
    EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 1);
    EXPECT_EQ(cs["lastState"]["terminated"]["containerID"], before["containerID"]);
    EXPECT_EQ(cs["ready"], false);
    EXPECT_EQ(condition(crashed, "Ready")["status"], "False");
    EXPECT_EQ(condition(crashed, "ContainersReady")["status"], "False");
    EXPECT_EQ(crashed["status"]["phase"], "Running");

    // After the back-off: running and Ready again, with a new container.
    EXPECT_TRUE(eventually(10s, [&] { return pod_ready(pod("crash", name)); }));
    const auto after = pod("crash", name)["status"]["containerStatuses"][0];
    EXPECT_TRUE(after["state"].contains("running")) << after.dump();
    EXPECT_EQ(after["restartCount"], restarts + 1);
    EXPECT_NE(after["containerID"], before["containerID"]);
    EXPECT_EQ(after["lastState"]["terminated"]["reason"], "Error");
}

TEST_F(control_plane_test, a_frozen_node_goes_not_ready_within_20s_and_thaws) {
    create_web("freeze", 3);
    wait_ready("freeze", 3);
    const std::string node = env().node_names().front();
    auto node_ready = [&] { return condition(env().get_json({"get", "node", node}), "Ready").value("status", ""); };
    ASSERT_EQ(node_ready(), "True");

    env().sim().freeze(node);
    const auto frozen_at = std::chrono::steady_clock::now();
    // --node-monitor-grace-period=16s, checked every 2s.
    ASSERT_TRUE(eventually(25s, [&] { return node_ready() != "True"; }, 500ms)) << "node " << node << " still Ready";
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen_at).count();
    RecordProperty("not_ready_after_seconds", fmt::format("{:.1f}", took));
    // At least the 16 s grace minus the 4 s between lease renewals, a little less for scheduling.
    EXPECT_GE(took, 11.0) << "NotReady before the grace period: was the node heartbeat ever renewed?";
    EXPECT_LE(took, 22.0);
    EXPECT_EQ(node_ready(), "Unknown");  // the node controller's verdict on a silent kubelet

    env().sim().thaw(node);
    EXPECT_TRUE(eventually(15s, [&] { return node_ready() == "True"; })) << "node " << node << " not Ready after thaw";
    // Pods the node controller marked NotReady are Ready again, as a kubelet would report.
    wait_ready("freeze", 3, 15s);
}

TEST_F(control_plane_test, two_environments_run_at_once_and_down_stops_every_process) {
    std::vector<pid_t> pids;
    std::string dir;
    std::string etcd_data;
    {
        control_plane second({.nodes = 1});
        dir = second.dir();
        etcd_data = second.info()["etcd_data_dir"];
        EXPECT_NE(second.info()["ports"]["apiserver"], env().info()["ports"]["apiserver"]);
        auto nodes_a = env().get_json({"get", "nodes"})["items"];
        auto nodes_b = second.get_json({"get", "nodes"})["items"];
        ASSERT_EQ(nodes_a.size(), 3u);
        ASSERT_EQ(nodes_b.size(), 1u);
        EXPECT_EQ(nodes_b[0]["metadata"]["name"], second.node_names()[0]);
        auto r = second.kubectl({"create", "namespace", "only-in-second"});
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_FALSE(env().kubectl({"get", "namespace", "only-in-second"}).ok());
        for (const char* c : {"etcd", "apiserver", "controller_manager", "scheduler", "node_simulator"}) {
            pids.push_back(second.pid(c));
            EXPECT_TRUE(process_alive(second.pid(c))) << c;
        }
        second.down();
    }
    for (pid_t p : pids) EXPECT_FALSE(process_alive(p)) << "pid " << p << " still running after down";
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_FALSE(std::filesystem::exists(etcd_data));
    // The first environment is untouched.
    auto r = env().kubectl({"get", "--raw", "/readyz"});
    EXPECT_TRUE(r.ok()) << r.describe();
}

TEST_F(control_plane_test, the_watchdog_stops_an_environment_whose_owner_died) {
    // Stands in for a test process that crashed without running down.
    child_process owner({"sleep", "600"}, "/dev/null", "/dev/null");
    std::vector<pid_t> pids;
    std::string dir;
    {
        control_plane orphan({.nodes = 1, .owner_pid = owner.pid()});
        dir = orphan.dir();
        for (const char* c : {"etcd", "apiserver", "controller_manager", "scheduler", "node_simulator"}) {
            pids.push_back(orphan.pid(c));
        }
        owner.signal(SIGKILL);
        ASSERT_TRUE(owner.wait(5s).has_value());
        EXPECT_TRUE(eventually(20s, [&] {
            for (pid_t p : pids) {
                if (process_alive(p)) return false;
            }
            return !std::filesystem::exists(dir);
        })) << "environment " << dir << " still running after its owner died";
    }  // down() again here is harmless
}

// Ports in LISTEN state on any address, from /proc/net/tcp and tcp6.
std::set<int> listening_ports() {
    std::set<int> ports;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            if (state == "0A") ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
        }
    }
    return ports;
}

// Installing etcd-server (and later prometheus) must not leave the
// package's own daemon running: every port here is an environment's own.
TEST(installed_packages, leave_no_daemon_listening_on_their_default_ports) {
    auto ports = listening_ports();
    EXPECT_FALSE(ports.contains(2379)) << "something listens on etcd's default client port 2379";
    EXPECT_FALSE(ports.contains(2380)) << "something listens on etcd's default peer port 2380";
    EXPECT_FALSE(ports.contains(9090)) << "something listens on Prometheus' default port 9090";
}

}  // namespace
}  // namespace elector::testing
