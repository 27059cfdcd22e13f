#include "election_fixture.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include <fmt/format.h>

namespace elector::testing {

using namespace std::chrono_literals;
using nlohmann::json;

void election_fixture::start_environment(const control_plane_options& options) {
    env_ = std::make_unique<control_plane>(options);
    auto applied = env_->kubectl({"apply", "-f", source_dir() + "/crds/elector.dev_electiongroups.yaml"});
    ASSERT_TRUE(applied.ok()) << applied.describe();
    auto established =
        env_->kubectl({"wait", "--for=condition=established", "--timeout=30s", "crd/electiongroups.elector.dev"});
    ASSERT_TRUE(established.ok()) << established.describe();
}

void election_fixture::SetUp() {
    ASSERT_TRUE(env_) << "no control plane: SetUpTestSuite failed";
    static std::atomic<int> counter{0};
    ns_ = fmt::format("{}-{}", options_.ns_prefix, ++counter);
    env_->apply(fmt::format("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {}}}\n", ns_));
    watch_ = std::make_unique<leader_watch>(env_->kubeconfig(), ns_, "role", "leader", options_.group_label);
}

void election_fixture::TearDown() {
    if (!env_) return;
    stop_processes();
    if (watch_) {
        std::vector<std::string> violations;
        for (auto& v : watch_->violations()) {
            if (!tolerated(v)) violations.push_back(std::move(v));
        }
        EXPECT_TRUE(violations.empty()) << "two pods labelled at once: " << fmt::format("{}", fmt::join(violations, "; "));
        watch_.reset();
    }
    // ASan and UBSan abort elector, which a test may not notice; TSan only
    // reports and goes on: any report in any of this test's logs fails it.
    for (const auto& log : scanned_logs_) {
        auto reports = sanitizer_reports(log);
        EXPECT_TRUE(reports.empty()) << log << ": " << fmt::format("{}", fmt::join(reports, "\n"));
    }
    scanned_logs_.clear();
    if (HasFailure()) {
        print_logs();
        print_state();
    }
    if (!ns_.empty()) env_->kubectl({"delete", "namespace", ns_, "--wait=false"});
}

void election_fixture::stop_processes() {
    if (elector_) stop_elector();
}

void election_fixture::scan_log(const std::string& path) { scanned_logs_.push_back(path); }

bool election_fixture::tolerated(const std::string&) const { return false; }

void election_fixture::print_logs() const {
    if (log_.empty()) return;
    fmt::print(stderr, "--- elector log ({}):\n{}\n", log_, run({"tail", "-n", "80", log_}).out);
}

void election_fixture::print_state() const {
    fmt::print(stderr, "--- pods:\n{}\n",
               env_->kubectl({"get", "pods", "-n", ns_, "-L", options_.pod_columns, "-o", "wide"}).out);
    fmt::print(stderr, "--- groups:\n{}\n", env_->kubectl({"get", "eg", "-n", ns_, "-o", "yaml"}).out);
    fmt::print(stderr, "--- leases:\n{}\n", env_->kubectl({"get", "lease", "-n", ns_, "-o", "yaml"}).out);
    fmt::print(stderr, "--- events:\n{}\n", env_->kubectl({"get", "events", "-n", ns_}).out);
}

std::vector<std::string> election_fixture::elector_argv(const std::vector<std::string>& extra_args) const {
    std::vector<std::string> argv{elector_binary(),
                                  "--kubeconfig",
                                  env_->kubeconfig(),
                                  "--leader-api-bind-address=" + options_.leader_api_bind_address,
                                  "--metrics-bind-address=0",
                                  "--health-probe-bind-address=0"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    return argv;
}

void election_fixture::start_elector(const std::vector<std::string>& extra_env,
                                     const std::vector<std::string>& extra_args) {
    log_ = fmt::format("{}/elector-{}-{}.log", env_->dir(), ns_, ++starts_);
    scan_log(log_);
    elector_ = std::make_unique<child_process>(elector_argv(extra_args), log_, log_, extra_env);
}

int election_fixture::stop_elector() {
    elector_->signal(SIGTERM);
    auto status = elector_->wait(10s);
    elector_.reset();
    return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

void election_fixture::kill_elector() {
    elector_->signal(SIGKILL);
    elector_->wait(5s);
    elector_.reset();
}

std::string election_fixture::deployment_manifest(const std::string& name, const deployment_options& o) const {
    const std::string labels = o.version.empty()
                                   ? fmt::format("{}: {}", options_.group_label, name)
                                   : fmt::format("{}: {}, v: \"{}\"", options_.group_label, name, o.version);
    return fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}, namespace: {1}}}
spec:
  replicas: {2}
{3}  selector: {{matchLabels: {{{4}}}}}
  template:
    metadata: {{labels: {{{4}}}}}
    spec:
      containers: [{{name: app, image: registry.invalid/app:1}}]
)",
                       name, o.ns.empty() ? ns_ : o.ns, o.replicas, o.spec, labels);
}

std::string election_fixture::group_manifest(const std::string& name, const std::string& target,
                                             const group_options& o) const {
    const auto& d = options_.group_defaults;
    auto or_default = [](const std::string& value, const std::string& fallback) {
        return value.empty() ? fallback : value;
    };
    std::string out = fmt::format(R"(apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata: {{name: {0}, namespace: {1}}}
spec:
  targetRef: {{name: {2}}}
  leaseDuration: {3}
  renewDeadline: {4}
  retryPeriod: {5}
)",
                                  name, ns_, target, or_default(o.lease_duration, d.lease_duration),
                                  or_default(o.renew_deadline, d.renew_deadline),
                                  or_default(o.retry_period, d.retry_period));
    const std::string policy = or_default(o.policy, d.policy);
    if (!policy.empty()) out += fmt::format("  notReadyPolicy: {}\n", policy);
    return out;
}

void election_fixture::create_group(const std::string& name, const group_options& o) {
    std::string manifest = deployment_manifest(name, {.replicas = o.replicas, .spec = o.deployment_spec});
    if (options_.leader_service) {
        manifest += fmt::format(R"(---
apiVersion: v1
kind: Service
metadata: {{name: {0}, namespace: {1}}}
spec:
  selector: {{{2}: {0}, role: leader}}
  ports: [{{port: 80}}]
)",
                                name, ns_, options_.group_label);
    }
    env_->apply(manifest + "---\n" + group_manifest(name, name, o));
}

json election_fixture::group(const std::string& name) const { return env_->get_json({"get", "eg", name, "-n", ns_}); }
json election_fixture::lease(const std::string& name) const { return env_->get_json({"get", "lease", name, "-n", ns_}); }
json election_fixture::pod(const std::string& name) const { return env_->get_json({"get", "pod", name, "-n", ns_}); }

std::string election_fixture::condition(const json& g, const std::string& type, const std::string& field) {
    const auto conditions = g.value("status", json::object()).value("conditions", json::array());
    for (const auto& c : conditions) {
        if (c.value("type", "") == type && c.contains(field) && c[field].is_string()) return c[field];
    }
    return "";
}

json election_fixture::status_of(const json& g) { return g.value("status", json::object()); }

std::set<std::string> election_fixture::labelled(const std::string& group_name, const std::string& extra) const {
    std::string selector = "role=leader";
    if (!group_name.empty()) selector += fmt::format(",{}={}{}", options_.group_label, group_name, extra);
    std::set<std::string> out;
    const json pods = env_->get_json({"get", "pods", "-n", ns_, "-l", selector});
    for (const auto& p : pods["items"]) out.insert(p["metadata"]["name"].get<std::string>());
    return out;
}

std::vector<std::string> election_fixture::live_pods(const std::string& group_name) const {
    std::vector<std::string> out;
    const json pods = env_->get_json({"get", "pods", "-n", ns_, "-l", options_.group_label + "=" + group_name});
    for (const auto& p : pods["items"]) {
        if (!p["metadata"].contains("deletionTimestamp")) out.push_back(p["metadata"]["name"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string election_fixture::wait_ready(const std::string& name, int ready) { return wait_ready_on(name, name, ready); }

std::string election_fixture::wait_ready_on(const std::string& name, const std::string& pod_group, int ready) {
    std::string leader;
    eventually(options_.ready_timeout, [&] {
        auto g = group(name);
        if (status_of(g).value("candidates", json::object()).value("ready", 0) != ready) return false;
        if (condition(g, "Ready") != "True") return false;
        leader = status_of(g).value("leader", "");
        return !leader.empty() && labelled(pod_group) == std::set<std::string>{leader};
    });
    return leader;
}

int announced_port(const std::string& log_path, const std::string& server) {
    const std::string text = read_text(log_path);
    const std::string marker = "serving the " + server + " on 127.0.0.1:";
    const auto at = text.find(marker);
    return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + marker.size());
}

int election_fixture::wait_for_port(const std::string& server) const {
    int port = 0;
    eventually(std::chrono::seconds(10), [&] { return (port = announced_port(log_, server)) > 0; },
               std::chrono::milliseconds(20));
    return port;
}

std::int64_t election_fixture::transitions(const std::string& lease_name) const {
    return lease(lease_name)["spec"].value("leaseTransitions", std::int64_t{-1});
}

}  // namespace elector::testing
