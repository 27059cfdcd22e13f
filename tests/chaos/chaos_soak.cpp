// Chaos soak of elector: N groups on one local control plane (tests/env: 3
// simulated nodes, kube-apiserver without watch cache, so that an etcd
// compaction makes a watch that resumes from an older resourceVersion end in
// 410 Gone), elector as 2 replicas with --leader-elect, while a seeded fault
// driver injects one fault every few seconds:
//
//   pod-delete         the leader pod of a random group is deleted
//   leader-crash       its container crashes (node simulator; CrashLoopBackOff 1-8 s)
//   readiness-flap     the leader (70 %) or another pod goes NotReady, Ready again after 0.5-20 s
//   node-freeze        a node stops (no heartbeats, no pod status) for 25-60 s, then thaws; one at a time
//   elector-sigterm    the leading elector replica is SIGTERMed, started again after 1-5 s
//   elector-sigkill    the leading (80 %) or standby replica is SIGKILLed, started again after 1-5 s
//   apiserver-restart  kube-apiserver is restarted (tests/env/ctl restart apiserver)
//   etcd-compaction    etcd is compacted at its current revision
//
// A checker (tests/chaos/checker.hpp) with its own watches of pods, Leases,
// ElectionGroups and Nodes reports, after the faults and a settle window:
//
//   1. states with two pods of a group labelled role=leader (must be 0)
//   2. intervals without a ready leader (no labelled, Ready, not terminating
//      pod), per fault kind: count, p50, p99, max; an interval counts for an
//      API server restart or an elector fault when it began while the API
//      server was away or no elector replica led, else for the latest fault
//      aimed at the group before it began
//   3. groups not recovered at the end of the settle window: exactly one
//      labelled Ready pod, holding the Lease (renewed within leaseDuration),
//      equal to status.leader, its term = status.term = leaseTransitions + 1
//      (must be 0)
//   4. terms that went down: a labelled pod's elector.dev/term, status.term,
//      the Lease's leaseTransitions (must be 0)
//   5. elector crashes: a replica exiting unless the driver signalled it,
//      not exiting 0 after SIGTERM, or a sanitizer report in its log (must be 0)
//   6. workload transitions caused: Lease holder changes whose old holder was
//      eligible in [change - 2 s, change + 1 s] by the checker's view of pods
//      and nodes, with no fault aimed at it or its node in effect within
//      leaseDuration + 20 s before (must be 0); and all holder changes per
//      fault kind.
//
// Exit 1 when a must-be-0 figure is not 0 or a fault kind never ran; 2 on
// setup errors; 130 when interrupted.
//
//   build/bench/tests/chaos/chaos_soak [--duration 30m] [--groups 50] [--seed N] [--smoke] [--elector PATH]
//       [--settle 60s] [--min-gap S] [--max-gap S] [--run-dir DIR] [--markdown FILE] [--keep-env]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench_support.hpp"
#include "checker.hpp"
#include "control_plane.hpp"
#include "elector_replicas.hpp"
#include "kube/client.hpp"
#include "kube/time.hpp"
#include "leader_watch.hpp"
#include "leadership.hpp"
#include "object_watch.hpp"
#include "stream_watch.hpp"

namespace {

using namespace elector;
using namespace std::chrono_literals;
using bench::member;
using bench::string_at;
using nlohmann::json;

const std::string ns = "chaos";
const std::string elector_lease_ns = "elector-system";
const std::string elector_lease_name = "elector-leader";
const std::vector<std::string> elector_ids{"elector-a", "elector-b"};
constexpr int replicas = 3;
constexpr double transition_slack = 20;  // seconds after a fault's effect within which a holder change is its doing

const std::string k_delete = "pod-delete";
const std::string k_crash = "leader-crash";
const std::string k_flap = "readiness-flap";
const std::string k_freeze = "node-freeze";
const std::string k_term = "elector-sigterm";
const std::string k_kill = "elector-sigkill";
const std::string k_apiserver = "apiserver-restart";
const std::string k_compact = "etcd-compaction";
const std::vector<std::string> fault_kinds{k_delete, k_crash, k_flap, k_freeze, k_term, k_kill, k_apiserver, k_compact};
// Relative frequency of each kind in the random part of the sequence.
// An API server restart keeps kube-apiserver away for 15-30 s here (and
// blocks the driver meanwhile): about one every 2-3 minutes.
const std::map<std::string, int> weights{{k_delete, 18}, {k_crash, 18}, {k_flap, 22},     {k_freeze, 6},
                                         {k_term, 6},    {k_kill, 6},   {k_apiserver, 2}, {k_compact, 8}};

std::atomic<bool> interrupted{false};
void on_interrupt(int) { interrupted = true; }

// --- command line ------------------------------------------------------------------

struct options {
    double duration = 30 * 60;  // seconds of faults
    int groups = 50;
    std::uint64_t seed = 0;
    bool smoke = false;
    std::string elector;
    double settle = 60;
    double min_gap = 2, max_gap = 5;
    double freeze_min = 25, freeze_max = 60;
    std::string run_dir;
    std::string markdown;
    bool keep_env = false;
    std::vector<std::string> argv;
};

const bench::flag_spec flags{
    .program = "chaos_soak",
    .usage = "usage: chaos_soak [--duration 30m] [--groups 50] [--seed N] [--smoke] [--elector PATH] [--settle 60s] "
             "[--min-gap S] [--max-gap S] [--run-dir DIR] [--markdown FILE] [--keep-env]\n",
    .switches = {"--smoke", "--keep-env"},
    .help = true};

// "30m", "90s", "1h", "1.5m" or plain seconds.
double parse_duration(const std::string& text) {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    const std::string unit = text.substr(used);
    double seconds = 0;
    if (unit.empty() || unit == "s") {
        seconds = v;
    } else if (unit == "m") {
        seconds = v * 60;
    } else if (unit == "h") {
        seconds = v * 3600;
    } else {
        throw std::invalid_argument("unit");
    }
    if (seconds <= 0) throw std::invalid_argument("not positive");
    return seconds;
}

options parse(int argc, char** argv) {
    options o;
    o.argv.assign(argv, argv + argc);
    o.elector = bench::default_elector(ELECTOR_BUILD_BINARY);
    o.seed = static_cast<std::uint64_t>(std::time(nullptr));
    std::set<std::string> given;
    bench::parse_flags(argc, argv, flags, [&](const std::string& name, const std::string& value) {
        given.insert(name);
        if (name == "--smoke") {
            o.smoke = true;
        } else if (name == "--keep-env") {
            o.keep_env = true;
        } else if (name == "--duration") {
            o.duration = parse_duration(value);
        } else if (name == "--settle") {
            o.settle = parse_duration(value);
        } else if (name == "--groups") {
            o.groups = std::stoi(value);
        } else if (name == "--seed") {
            o.seed = std::stoull(value);
        } else if (name == "--min-gap") {
            o.min_gap = std::stod(value);
        } else if (name == "--max-gap") {
            o.max_gap = std::stod(value);
        } else if (name == "--elector") {
            o.elector = value;
        } else if (name == "--run-dir") {
            o.run_dir = value;
        } else if (name == "--markdown") {
            o.markdown = value;
        } else {
            return false;
        }
        return true;
    });
    if (o.smoke) {
        if (!given.contains("--duration")) o.duration = 90;
        if (!given.contains("--groups")) o.groups = 10;
        if (!given.contains("--min-gap")) o.min_gap = 1.5;
        if (!given.contains("--max-gap")) o.max_gap = 3;
        o.freeze_min = 22;
        o.freeze_max = 26;
    }
    if (o.groups < 1 || o.groups > 1000) bench::usage_error(flags, "--groups must be 1..1000");
    if (o.min_gap <= 0 || o.max_gap < o.min_gap) bench::usage_error(flags, "need 0 < --min-gap <= --max-gap");
    // Every kind must be able to run, and a frozen node must thaw before the end.
    if (o.duration < 60) bench::usage_error(flags, "--duration must be at least 60s");
    return o;
}

// --- output ------------------------------------------------------------------------------

template <class... Args>
void say(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print("{}", fmt::format(f, std::forward<Args>(args)...));
    std::fflush(stdout);
}

std::string fmt_ms(double seconds) { return fmt::format("{:.1f}", seconds * 1000); }

// --- the workload ------------------------------------------------------------------------

struct group_spec {
    std::string name;
    std::string policy;  // notReadyPolicy
    int lease = 15, renew = 10;
    std::string retry = "2s";
};

// Half Immediate, half WaitForLeaseExpiry; within each, half 6s/4s/1s and half elector's defaults 15s/10s/2s.
std::vector<group_spec> make_groups(int n) {
    std::vector<group_spec> out;
    for (int i = 0; i < n; ++i) {
        group_spec g;
        g.name = fmt::format("g{:02}", i);
        g.policy = i % 2 == 0 ? "Immediate" : "WaitForLeaseExpiry";
        if ((i / 2) % 2 == 0) {
            g.lease = 6;
            g.renew = 4;
            g.retry = "1s";
        }
        out.push_back(g);
    }
    return out;
}

std::string manifests(const std::vector<group_spec>& groups) {
    std::string out;
    for (const auto& g : groups) {
        out += fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {0}
  namespace: {1}
spec:
  replicas: {2}
  selector:
    matchLabels: {{app: {0}}}
  template:
    metadata:
      labels: {{app: {0}}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {{app: {0}}}
      containers:
      - name: app
        image: registry.example/chaos/app:1
---
apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata:
  name: {0}
  namespace: {1}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {0}}}
  leaseDuration: {3}s
  renewDeadline: {4}s
  retryPeriod: {5}
  notReadyPolicy: {6}
)",
                           g.name, ns, replicas, g.lease, g.renew, g.retry, g.policy);
    }
    return out;
}

// --- faults ---------------------------------------------------------------------------------

struct fault {
    int index = 0;
    std::string kind;
    double start = 0;  // CLOCK_MONOTONIC just before the request or signal
    double end = 0;    // its effect undone (Ready again, thawed, restarted, the request answered); 0 while in effect
    std::string group, pod, node, replica;
    std::set<std::string> groups;  // the groups it is aimed at
    bool on_leader = false;        // elector faults: the victim held elector's Lease
    std::string detail;
};

// A replica the driver (or a crash) stopped, and when it starts again.
struct replica_state {
    int signal = 0;  // the driver's signal; 0: none sent
    double signalled_at = 0;
    double restart_at = 0;
    int fault = -1;
    bool down = false;
    bool reported = false;  // the SIGTERM timeout was reported
};

struct elector_exit {
    std::string id;
    double mono = 0;
    std::string status;
    std::string log;
    bool by_design = false;  // lost elector's Lease while the API server restarted: exits 1 to compete afresh
};

// While the API server or elector's leading replica was down: from the
// fault to the API server's readiness, or to the next `started-leading`.
struct outage {
    std::string kind;
    double from = 0, to = 0;
};

struct settle_result {
    std::map<std::string, std::string> failing;  // group -> why
    std::string electors_why;                    // "" when settled
    double took = -1;                            // seconds until all was well; -1: never
};

class soak {
public:
    explicit soak(options o) : o_(std::move(o)), rng_(o_.seed) {}
    int run();

private:
    double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    [[nodiscard]] double rel(double mono) const { return mono - t0_; }
    void at(double when, std::function<void()> action) { actions_.emplace(when, std::move(action)); }

    void setup();
    void wait_steady();
    void fault_phase();
    void finish_faults();
    settle_result settle();
    int report(const settle_result& settled);

    bool inject(const std::string& kind);
    bool pod_fault(const std::string& kind);
    bool node_fault();
    bool elector_fault(const std::string& kind);
    void make_ready(const std::string& pod, int index);
    void thaw(const std::string& node, int index);
    bool server_fault(const std::string& kind);
    fault& record(fault f);
    void run_due(double now);
    void poll_replicas();
    void progress(double now);
    void poll_api_restart(bool wait);
    void stop_electors();

    settle_result check_groups();
    void check_events();
    std::string attribute(const chaos::leaderless_interval& li, const std::vector<outage>& outages) const;

    options o_;
    std::mt19937_64 rng_;
    std::vector<group_spec> specs_;
    std::map<std::string, group_spec> spec_of_;
    std::string run_dir_;
    bool run_dir_given_ = false;

    std::unique_ptr<testing::control_plane> env_;
    std::unique_ptr<kube::client> client_;
    std::unique_ptr<chaos::checker> checker_;
    std::vector<std::unique_ptr<chaos::stream_watch>> streams_;
    std::unique_ptr<testing::leader_watch> leader_watch_;
    std::unique_ptr<bench::object_watch> elector_lease_;
    std::unique_ptr<bench::elector_replicas> electors_;
    std::map<std::string, replica_state> replica_;
    std::string elector_version_, load_at_start_;

    double t0_ = 0;         // the fault phase's start
    double faults_end_ = 0;  // the fault phase's end (before undoing the last faults)
    std::vector<fault> faults_;
    std::map<std::string, int> not_possible_;  // kind -> times it could not be injected when chosen
    std::multimap<double, std::function<void()>> actions_;
    std::map<std::string, double> crashing_;   // pod -> end of its back-off
    std::map<std::string, int> flapped_;       // pod -> fault index, while NotReady
    std::string frozen_;                       // node, while frozen
    std::vector<elector_exit> exits_;
    std::vector<std::string> sigterm_failures_;
    double last_progress_ = 0;
    std::future<testing::run_result> api_restart_;  // while kube-apiserver restarts
    int api_restart_index_ = -1;
    std::size_t handover_events_ = 0;            // handover Events (counting repeats)
    std::vector<std::string> reported_twice_;    // group and term with more than one handover Event
};

// --- setup -----------------------------------------------------------------------------------

void soak::setup() {
    auto version = testing::run({o_.elector, "--version"}, {.timeout = 10s});
    if (!version.ok()) throw std::runtime_error("cannot run " + o_.elector + " --version: " + version.describe());
    elector_version_ = version.out.substr(0, version.out.find('\n'));
    specs_ = make_groups(o_.groups);
    std::set<std::string> names;
    for (const auto& g : specs_) {
        spec_of_[g.name] = g;
        names.insert(g.name);
    }

    run_dir_given_ = !o_.run_dir.empty();
    run_dir_ = run_dir_given_ ? o_.run_dir
                              : fmt::format("/tmp/elector-chaos/{}-seed{}", static_cast<long>(std::time(nullptr)), o_.seed);
    std::filesystem::create_directories(run_dir_);

    say("chaos soak: {} ({}); seed {}; {} groups; {:.0f} s of faults every {}-{} s; settle window {:.0f} s\n",
        elector_version_, o_.elector, o_.seed, o_.groups, o_.duration, o_.min_gap, o_.max_gap, o_.settle);
    say("logs in {}\n", run_dir_);

    env_ = std::make_unique<testing::control_plane>(
        testing::control_plane_options{.nodes = 3, .pod_grace_seconds = 0.5, .watch_cache = false});
    load_at_start_ = bench::load_average();
    say("control plane {}: 3 simulated nodes, kube-apiserver without watch cache, {} cores, load average {}\n",
        env_->dir(), std::thread::hardware_concurrency(), load_at_start_);
    client_ = std::make_unique<kube::client>(bench::make_client(env_->kubeconfig(), "elector-chaos-soak", 30s));

    auto r = env_->kubectl({"apply", "-f", testing::source_dir() + "/crds/elector.dev_electiongroups.yaml"});
    if (!r.ok()) throw std::runtime_error("apply CRD: " + r.describe());
    r = env_->kubectl({"wait", "--for", "condition=established", "crd/electiongroups.elector.dev", "--timeout=60s"});
    if (!r.ok()) throw std::runtime_error("CRD not established: " + r.describe());
    for (const auto& n : {ns, elector_lease_ns}) {
        r = env_->kubectl({"create", "namespace", n});
        if (!r.ok()) throw std::runtime_error("create namespace " + n + ": " + r.describe());
    }

    checker_ = std::make_unique<chaos::checker>(names);
    const std::string kc = env_->kubeconfig();
    streams_.push_back(std::make_unique<chaos::stream_watch>(kc, kube::resources::pods, ns, checker_->pods()));
    streams_.push_back(std::make_unique<chaos::stream_watch>(kc, kube::resources::leases, ns, checker_->leases()));
    streams_.push_back(
        std::make_unique<chaos::stream_watch>(kc, kube::resources::electiongroups, ns, checker_->groups()));
    streams_.push_back(std::make_unique<chaos::stream_watch>(kc, kube::resources::nodes, "", checker_->nodes()));
    // The benchmarks' detector of two labelled pods, as a second opinion.
    leader_watch_ = std::make_unique<testing::leader_watch>(kc, ns);
    elector_lease_ = std::make_unique<bench::object_watch>(kc, kube::resources::leases, elector_lease_ns,
                                                           bench::lease_summary,
                                                           bench::watch_options{.field_selector = "metadata.name=" +
                                                                                                  elector_lease_name});

    electors_ = std::make_unique<bench::elector_replicas>(bench::elector_replicas{.binary = o_.elector,
                                                                                  .kubeconfig = kc,
                                                                                  .log_dir = run_dir_,
                                                                                  .lease_ns = elector_lease_ns,
                                                                                  .lease_name = elector_lease_name,
                                                                                  .ids = elector_ids,
                                                                                  .slots = {}});
    for (const auto& id : elector_ids) {
        electors_->start(id);
        replica_[id] = {};
    }
    std::string why;
    if (!testing::eventually(90s, [&] { return electors_->settled(*elector_lease_, why); }, 200ms)) {
        throw std::runtime_error("elector replicas not up within 90 s: " + why);
    }
    say("elector replicas up: {} leads\n", bench::holder_of(*elector_lease_, elector_lease_name));
    // kubectl apply writes the objects one by one: on a busy machine 100 of them take over a minute.
    r = env_->kubectl({"apply", "-f", "-"}, {.timeout = 10min, .input = manifests(specs_)});
    if (!r.ok()) throw std::runtime_error("kubectl apply: " + r.describe());
}

void soak::wait_steady() {
    const auto started = std::chrono::steady_clock::now();
    std::string why;
    const auto steady = [&] {
        for (const auto& g : specs_) {
            if (checker_->leader_of(g.name).empty()) {
                why = g.name + " has no single labelled pod";
                return false;
            }
            if (checker_->ready_pods(g.name) != static_cast<std::size_t>(replicas)) {
                why = fmt::format("{} has {} Ready pods", g.name, checker_->ready_pods(g.name));
                return false;
            }
        }
        if (auto l = checker_->leaderless_now(); !l.empty()) {
            why = fmt::format("without a ready leader: {}", fmt::join(l, ", "));
            return false;
        }
        return true;
    };
    const auto timeout = std::chrono::seconds(120 + o_.groups);
    if (!testing::eventually(timeout, steady, 250ms)) {
        throw std::runtime_error(fmt::format("not every group led within {} s: {}", timeout.count(), why));
    }
    say("{} groups of {} pods, each with a leader, after {:.1f} s\n", o_.groups, replicas,
        testing::seconds_since(started));
}

// --- the fault driver ------------------------------------------------------------------------

fault& soak::record(fault f) {
    f.index = static_cast<int>(faults_.size()) + 1;
    faults_.push_back(std::move(f));
    fault& r = faults_.back();
    std::string target = r.replica;
    if (!r.pod.empty()) target = fmt::format("{}/{} on {}", r.group, r.pod, r.node);
    if (r.pod.empty() && !r.node.empty()) target = r.node;
    say("[{:7.1f}s] #{} {} {} {}\n", rel(r.start), r.index, r.kind, target, r.detail);
    return r;
}

bool soak::inject(const std::string& kind) {
    if (kind == k_delete || kind == k_crash || kind == k_flap) return pod_fault(kind);
    if (kind == k_freeze) return node_fault();
    if (kind == k_term || kind == k_kill) return elector_fault(kind);
    return server_fault(kind);
}

bool soak::pod_fault(const std::string& kind) {
    if (api_restart_.valid()) return false;  // the API server is away: no pod can be touched
    std::vector<std::string> order;
    for (const auto& g : specs_) order.push_back(g.name);
    std::shuffle(order.begin(), order.end(), rng_);
    const double now = testing::monotonic_now();
    int refused = 0;
    for (const auto& g : order) {
        if (refused >= 3) break;
        const std::string leader = checker_->leader_of(g);
        if (leader.empty()) continue;
        std::string target = leader;
        if (kind == k_flap && uniform(0, 1) >= 0.7) {
            auto pods = checker_->pods_of(g);
            std::erase(pods, leader);
            if (!pods.empty()) target = pods[pick(pods.size())];
        }
        const std::string node = checker_->node_of(target);
        if (kind != k_delete && !frozen_.empty() && node == frozen_) continue;  // the simulator refuses
        if (kind == k_crash && crashing_.contains(target) && crashing_[target] > now) continue;
        if (kind == k_flap && flapped_.contains(target)) continue;
        fault f{.kind = kind, .group = g, .pod = target, .node = node, .groups = {g}};
        f.start = testing::monotonic_now();
        try {
            if (kind == k_delete) {
                auto done = client_->remove(kube::resources::pods, ns, target);
                if (!done) throw std::runtime_error(done.error().to_string());
                f.end = testing::monotonic_now();
                f.detail = "(the leader)";
            } else if (kind == k_crash) {
                const double backoff = uniform(1, 8);
                env_->sim().crash(ns, target, backoff);
                f.end = f.start + backoff;
                crashing_[target] = f.end;
                f.detail = fmt::format("(the leader; back-off {:.1f} s)", backoff);
            } else {
                env_->sim().not_ready(ns, target);
                const double back = uniform(0.5, 20);
                f.detail = fmt::format("({}; Ready again in {:.1f} s)", target == leader ? "the leader" : "not the leader",
                                       back);
                const int index = static_cast<int>(faults_.size());  // record() puts it there
                flapped_[target] = index;
                at(f.start + back, [this, target, index] { make_ready(target, index); });
            }
        } catch (const std::exception& e) {
            if (kind == k_flap) flapped_.erase(target);
            say("[{:7.1f}s] {} {}/{} refused: {}\n", rel(f.start), kind, g, target, e.what());
            ++refused;
            continue;
        }
        record(std::move(f));
        return true;
    }
    return false;
}

void soak::make_ready(const std::string& pod, int index) {
    try {
        env_->sim().ready(ns, pod);
    } catch (const std::exception& e) {
        if (std::string(e.what()).find("not on a simulated node") == std::string::npos) {
            // Its node is frozen, or the API server restarts: again in a second.
            at(testing::monotonic_now() + 1, [this, pod, index] { make_ready(pod, index); });
            return;
        }
        // Deleted meanwhile: nothing to make Ready.
    }
    faults_[static_cast<std::size_t>(index)].end = testing::monotonic_now();
    flapped_.erase(pod);
}

bool soak::node_fault() {
    if (!frozen_.empty()) return false;
    const auto nodes = env_->node_names();
    const std::string node = nodes[pick(nodes.size())];
    fault f{.kind = k_freeze, .node = node, .groups = checker_->groups_on(node)};
    const double length = uniform(o_.freeze_min, o_.freeze_max);
    f.start = testing::monotonic_now();
    try {
        env_->sim().freeze(node);
    } catch (const std::exception& e) {
        say("[{:7.1f}s] {} {} refused: {}\n", rel(f.start), k_freeze, node, e.what());
        return false;
    }
    f.detail = fmt::format("({} groups with a pod there; thawed in {:.1f} s)", f.groups.size(), length);
    frozen_ = node;
    const int index = static_cast<int>(faults_.size());
    record(std::move(f));
    at(faults_.back().start + length, [this, node, index] { thaw(node, index); });
    return true;
}

void soak::thaw(const std::string& node, int index) {
    try {
        env_->sim().thaw(node);
    } catch (const std::exception& e) {
        // The API server may be restarting: again in a second.
        say("[{:7.1f}s] thaw {}: {} (again in 1 s)\n", rel(testing::monotonic_now()), node, e.what());
        at(testing::monotonic_now() + 1, [this, node, index] { thaw(node, index); });
        return;
    }
    faults_[static_cast<std::size_t>(index)].end = testing::monotonic_now();
    frozen_.clear();
    say("[{:7.1f}s] node {} thawed\n", rel(testing::monotonic_now()), node);
}

bool soak::elector_fault(const std::string& kind) {
    for (const auto& [id, st] : replica_) {
        if (st.down || st.signal != 0) return false;  // one replica is being restarted
    }
    // One replica leading and the other a ready standby (caches synced).
    std::string why;
    if (!electors_->settled(*elector_lease_, why)) return false;
    const std::string holder = bench::holder_of(*elector_lease_, elector_lease_name);
    if (std::find(elector_ids.begin(), elector_ids.end(), holder) == elector_ids.end()) return false;
    const std::string other = holder == elector_ids[0] ? elector_ids[1] : elector_ids[0];
    const bool kill = kind == k_kill;
    const std::string victim = kill && uniform(0, 1) >= 0.8 ? other : holder;
    const double delay = uniform(1, 5);
    fault f{.kind = kind, .replica = victim, .on_leader = victim == holder};
    f.detail = fmt::format("({}; started again in {:.1f} s)", victim == holder ? "leading" : "standby", delay);
    f.start = testing::monotonic_now();
    electors_->slots.at(victim).proc->signal(kill ? SIGKILL : SIGTERM);
    auto& st = replica_[victim];
    st.signal = kill ? SIGKILL : SIGTERM;
    st.signalled_at = f.start;
    st.restart_at = f.start + delay;
    st.fault = static_cast<int>(faults_.size());
    record(std::move(f));
    return true;
}

bool soak::server_fault(const std::string& kind) {
    fault f{.kind = kind};
    f.start = testing::monotonic_now();
    if (kind == k_compact) {
        std::int64_t revision = 0;
        try {
            revision = env_->compact_etcd();
        } catch (const std::exception& e) {
            say("[{:7.1f}s] {} failed: {}\n", rel(f.start), kind, e.what());
            return false;
        }
        f.end = testing::monotonic_now();
        f.detail = fmt::format("(at revision {})", revision);
        record(std::move(f));
        return true;
    }
    if (api_restart_.valid()) return false;
    // On a thread of its own (15-30 s here), so that the driver goes on: the
    // undoing of earlier faults retries until the API server answers again.
    // tests/env/ctl itself rather than control_plane::restart(), which would
    // reload the simulator's address under the driver's feet (the simulator
    // does not move).
    api_restart_index_ = static_cast<int>(faults_.size());
    api_restart_ = std::async(std::launch::async, [dir = env_->dir()] {
        return testing::run({testing::source_dir() + "/tests/env/ctl", dir, "restart", "apiserver"}, {.timeout = 150s});
    });
    f.detail = "(restarting)";
    record(std::move(f));
    return true;
}

void soak::poll_api_restart(bool wait) {
    if (!api_restart_.valid()) return;
    if (!wait && api_restart_.wait_for(0s) != std::future_status::ready) return;
    const auto result = api_restart_.get();
    if (!result.ok()) {
        // tests/env/ctl gives it 60 s to be ready; on a busy machine it may
        // need longer: wait, and start it if it is not running at all.
        say("[{:7.1f}s] restarting the API server: {}\n", rel(testing::monotonic_now()), result.describe());
        const auto ready = [&] {
            return env_->kubectl({"get", "--raw", "/readyz", "--request-timeout=5s"}, {.timeout = 10s}).ok();
        };
        if (!testing::eventually(120s, ready, 1s)) {
            auto started = testing::run({testing::source_dir() + "/tests/env/ctl", env_->dir(), "start", "apiserver"},
                                        {.timeout = 150s});
            if (!started.ok() && !ready()) {
                throw std::runtime_error("the API server did not come back: " + started.describe());
            }
        }
    }
    auto& f = faults_[static_cast<std::size_t>(api_restart_index_)];
    f.end = testing::monotonic_now();
    f.detail = fmt::format("(ready again after {:.1f} s)", f.end - f.start);
    say("[{:7.1f}s] API server ready again after {:.1f} s\n", rel(f.end), f.end - f.start);
}

void soak::run_due(double now) {
    while (!actions_.empty() && actions_.begin()->first <= now) {
        auto action = std::move(actions_.begin()->second);
        actions_.erase(actions_.begin());
        action();
    }
}

void soak::poll_replicas() {
    const double now = testing::monotonic_now();
    for (const auto& id : elector_ids) {
        auto& st = replica_[id];
        auto& slot = electors_->slots.at(id);
        if (!st.down) {
            auto status = slot.proc->wait(0ms);
            if (!status) {
                if (st.signal == SIGTERM && now - st.signalled_at > 20 && !st.reported) {
                    st.reported = true;
                    sigterm_failures_.push_back(fmt::format("{} still running 20 s after SIGTERM (log {})", id, slot.log));
                    say("[{:7.1f}s] ELECTOR {} still running 20 s after SIGTERM: SIGKILL\n", rel(now), id);
                    slot.proc->signal(SIGKILL);
                }
                continue;
            }
            st.down = true;
            std::string how = WIFEXITED(*status)     ? fmt::format("exit {}", WEXITSTATUS(*status))
                              : WIFSIGNALED(*status) ? fmt::format("signal {}", WTERMSIG(*status))
                                                     : "exited";
            if (st.signal == 0) {
                elector_exit e{.id = id, .mono = now, .status = how, .log = slot.log};
                // elector exits 1 by design when it could not renew its own
                // Lease within the renew deadline (a fresh start competes
                // again), or cannot reach the API server when it starts: both
                // expected while kube-apiserver restarts.
                const std::string text = testing::read_text(slot.log);
                const bool api_away = text.find("leader election lost") != std::string::npos ||
                                      text.find("cannot reach the Kubernetes API") != std::string::npos;
                for (const auto& f : faults_) {
                    const bool during = now >= f.start && (f.end == 0 || now <= f.end + 15);
                    if (f.kind == k_apiserver && api_away && how == "exit 1" && during) e.by_design = true;
                }
                say("[{:7.1f}s] {} elector {} exited on its own: {} (log {})\n", rel(now),
                    e.by_design ? "by design (the API server restarts):" : "CRASH:", id, how, slot.log);
                exits_.push_back(e);
                st.restart_at = now + 2;
            } else if (st.signal == SIGTERM && how != "exit 0") {
                sigterm_failures_.push_back(fmt::format("{} ended with {} after SIGTERM (log {})", id, how, slot.log));
                say("[{:7.1f}s] ELECTOR {} ended with {} after SIGTERM\n", rel(now), id, how);
            }
        }
        if (st.down && now >= st.restart_at) {
            electors_->start(id);
            if (st.fault >= 0) faults_[static_cast<std::size_t>(st.fault)].end = now;
            st = {};
        }
    }
}

void soak::progress(double now) {
    const double every = o_.smoke ? 15 : 30;
    if (now - last_progress_ < every) return;
    now = testing::monotonic_now();
    last_progress_ = now;
    std::map<std::string, int> by_kind;
    for (const auto& f : faults_) by_kind[f.kind]++;
    std::vector<std::string> parts;
    for (const auto& k : fault_kinds) parts.push_back(fmt::format("{} {}", k, by_kind[k]));
    say("[{:7.1f}s] progress: {} faults ({}); without a ready leader now: {}; two-leader states: {}; holder "
        "changes: {}; elector exits on their own: {}{}\n",
        rel(now), faults_.size(), fmt::join(parts, ", "), checker_->leaderless_now().size(),
        checker_->two_leader_count(), checker_->holder_changes().size(), exits_.size(),
        api_restart_.valid() ? "; the API server is restarting" : "");
}

void soak::fault_phase() {
    // Every kind once, in a random order, then random kinds by weight.
    std::vector<std::string> forced = fault_kinds;
    std::shuffle(forced.begin(), forced.end(), rng_);
    std::vector<std::string> pool;
    for (const auto& [kind, w] : weights) {
        // A smoke run restarts the API server once (15-30 s away): more would leave little time for the rest.
        if (o_.smoke && kind == k_apiserver) continue;
        pool.insert(pool.end(), static_cast<std::size_t>(w), kind);
    }

    t0_ = testing::monotonic_now();
    checker_->start_tracking(t0_);
    last_progress_ = t0_;
    const double end = t0_ + o_.duration;
    double next = t0_ + uniform(o_.min_gap, o_.max_gap);
    say("[{:7.1f}s] faults start (CLOCK_MONOTONIC {:.3f}, as elector's logs write mono=)\n", 0.0, t0_);
    while (!interrupted) {
        const double now = testing::monotonic_now();
        run_due(now);
        poll_replicas();
        poll_api_restart(false);
        if (now >= end) break;
        if (now >= next) {
            bool done = false;
            // A forced kind that cannot run now (a node already frozen, a
            // replica being restarted) stays first in line.
            if (!forced.empty()) {
                if (inject(forced.front())) {
                    forced.erase(forced.begin());
                    done = true;
                } else {
                    not_possible_[forced.front()]++;
                }
            }
            for (int tries = 0; !done && tries < 8; ++tries) {
                const std::string kind = pool[pick(pool.size())];
                done = inject(kind);
                if (!done) not_possible_[kind]++;
            }
            next = testing::monotonic_now() + uniform(o_.min_gap, o_.max_gap);
        }
        progress(now);
        std::this_thread::sleep_for(50ms);
    }
    faults_end_ = testing::monotonic_now();
}

void soak::finish_faults() {
    // Undo what is still in effect: thaw, make Ready, start replicas again.
    say("[{:7.1f}s] faults end; undoing those still in effect\n", rel(testing::monotonic_now()));
    {
        const double now = testing::monotonic_now();
        std::multimap<double, std::function<void()>> now_due;
        for (auto& [when, action] : actions_) now_due.emplace(now, std::move(action));
        actions_ = std::move(now_due);
    }
    poll_api_restart(true);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        run_due(testing::monotonic_now());
        for (auto& [id, st] : replica_) st.restart_at = std::min(st.restart_at, testing::monotonic_now());
        poll_replicas();
        bool pending = !actions_.empty();
        for (const auto& [id, st] : replica_) pending |= st.down || st.signal != 0;
        if (!pending) return;
        std::this_thread::sleep_for(200ms);
    }
    say("some faults could not be undone within 60 s\n");
}

// --- settling and checking ---------------------------------------------------------------------

settle_result soak::check_groups() {
    settle_result out;
    auto pods = client_->list_all(kube::resources::pods, ns, {.limit = 500});
    auto leases = client_->list_all(kube::resources::leases, ns, {.limit = 500});
    auto groups = client_->list_all(kube::resources::electiongroups, ns, {.limit = 500});
    if (!pods || !leases || !groups) {
        for (const auto& g : specs_) out.failing[g.name] = "cannot list pods, Leases or groups";
        return out;
    }
    std::map<std::string, std::vector<json>> labelled;
    std::map<std::string, json> lease_of, group_of;
    for (const auto& p : pods->items) {
        const json& meta = member(p, "metadata");
        if (string_at(member(meta, "labels"), "role") == "leader") {
            labelled[string_at(member(meta, "labels"), "app")].push_back(p);
        }
    }
    for (const auto& l : leases->items) lease_of[string_at(member(l, "metadata"), "name")] = l;
    for (const auto& g : groups->items) group_of[string_at(member(g, "metadata"), "name")] = g;
    const auto now = std::chrono::system_clock::now();
    for (const auto& spec : specs_) {
        const std::string& g = spec.name;
        const auto& l = labelled[g];
        if (l.size() != 1) {
            out.failing[g] = fmt::format("{} labelled pods", l.size());
            continue;
        }
        const json& pod = l.front();
        const std::string name = string_at(member(pod, "metadata"), "name");
        const std::string term = string_at(member(member(pod, "metadata"), "annotations"), "elector.dev/term");
        const json& lspec = member(lease_of[g], "spec");
        const json& status = member(group_of[g], "status");
        const std::string holder = string_at(lspec, "holderIdentity");
        const std::int64_t transitions = lspec.value("leaseTransitions", std::int64_t{-1});
        const std::int64_t status_term = status.value("term", std::int64_t{-1});
        const auto renewed = kube::parse_time(string_at(lspec, "renewTime"));
        const double renew_age = renewed ? std::chrono::duration<double>(now - *renewed).count() : 1e9;
        std::vector<std::string> why;
        if (!bench::pod_ready(pod)) why.push_back("the labelled pod " + name + " is not Ready (or terminating)");
        if (holder != name) why.push_back(fmt::format("Lease holder {} != labelled pod {}", holder, name));
        if (string_at(status, "leader") != name) {
            why.push_back(fmt::format("status.leader {} != labelled pod {}", string_at(status, "leader"), name));
        }
        if (term != std::to_string(status_term) || status_term != transitions + 1) {
            why.push_back(fmt::format("term annotation {}, status.term {}, leaseTransitions {}", term, status_term,
                                      transitions));
        }
        if (renew_age > spec.lease) why.push_back(fmt::format("Lease renewed {:.1f} s ago", renew_age));
        if (!why.empty()) out.failing[g] = fmt::format("{}", fmt::join(why, "; "));
    }
    return out;
}

settle_result soak::settle() {
    const auto started = std::chrono::steady_clock::now();
    settle_result last;
    while (true) {
        last = check_groups();
        last.electors_why.clear();
        std::string why;
        if (!electors_->settled(*elector_lease_, why)) last.electors_why = why;
        if (last.failing.empty() && last.electors_why.empty()) {
            last.took = testing::seconds_since(started);
            say("[{:7.1f}s] settled: every group led as it should be, elector replicas leading and standby, "
                "after {:.1f} s\n",
                rel(testing::monotonic_now()), last.took);
            return last;
        }
        if (testing::seconds_since(started) > o_.settle || interrupted) break;
        poll_replicas();
        std::this_thread::sleep_for(1s);
    }
    say("[{:7.1f}s] NOT settled within {:.0f} s: {} groups failing{}\n", rel(testing::monotonic_now()), o_.settle,
        last.failing.size(), last.electors_why.empty() ? "" : "; elector replicas: " + last.electors_why);
    for (const auto& [g, why] : last.failing) say("  {}: {}\n", g, why);
    return last;
}

// Every handover is one Event, "FROM → TO (term N): why", on the group: a
// term with more than one is a handover reported twice.
void soak::check_events() {
    auto events = client_->list_all(kube::resources::events, ns,
                                    {.field_selector = "involvedObject.kind=ElectionGroup", .limit = 500});
    if (!events) {
        say("cannot list Events: {}\n", events.error().to_string());
        return;
    }
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_term;
    for (const auto& e : events->items) {
        const std::string message = string_at(e, "message");
        const auto at = message.find(" (term ");
        if (message.find(" → ") == std::string::npos || at == std::string::npos) continue;
        const std::string term = message.substr(at + 7, message.find(')', at) - at - 7);
        const std::int64_t count = e.value("count", std::int64_t{1});
        handover_events_ += static_cast<std::size_t>(count);
        auto& reasons = by_term[{string_at(member(e, "involvedObject"), "name"), term}];
        for (std::int64_t i = 0; i < count; ++i) reasons.push_back(string_at(e, "reason"));
    }
    for (const auto& [key, reasons] : by_term) {
        if (reasons.size() > 1) {
            reported_twice_.push_back(fmt::format("{} term {}: {}", key.first, key.second, fmt::join(reasons, ", ")));
        }
    }
}

// --- the report --------------------------------------------------------------------------------

std::string soak::attribute(const chaos::leaderless_interval& li, const std::vector<outage>& outages) const {
    // The group lost its leader while elector could not act: the outage.
    for (const auto& o : outages) {
        if (o.from <= li.from && li.from <= o.to) return o.kind;
    }
    // Else the last fault aimed at the group, while it could still have an effect.
    const fault* latest = nullptr;
    for (const auto& f : faults_) {
        if (!f.groups.contains(li.group) || f.start > li.from) continue;
        const double effect_end = f.end > 0 ? f.end : li.from;
        if (li.from <= effect_end + spec_of_.at(li.group).lease + transition_slack) latest = &f;
    }
    if (latest != nullptr) return latest->kind;
    // Shortly after an API server restart: kube-controller-manager marks the
    // nodes Unknown (their heartbeats stopped for longer than its grace period)
    // and their pods NotReady.
    for (const auto& o : outages) {
        if (o.kind == k_apiserver && o.to <= li.from && li.from <= o.to + 15) return o.kind;
    }
    return "unexplained";
}

int soak::report(const settle_result& settled) {
    const double now = testing::monotonic_now();
    // Every start's log, read once.
    std::map<std::string, std::string> logs;
    for (const auto& path : electors_->all_logs()) logs[path] = testing::read_text(path);

    // When elector had no leading replica after a fault on the leading one:
    // until the next `started-leading` in any replica's log.
    std::vector<double> started_leading;
    for (const auto& [path, text] : logs) {
        for (const auto& e : testing::read_leadership_events(path)) {
            if (e.started) started_leading.push_back(e.mono);
        }
    }
    std::sort(started_leading.begin(), started_leading.end());
    std::vector<outage> outages;
    std::vector<double> takeovers;
    for (const auto& f : faults_) {
        if (f.kind == k_apiserver) outages.push_back({f.kind, f.start, f.end});
        if ((f.kind == k_term || f.kind == k_kill) && f.on_leader) {
            auto it = std::upper_bound(started_leading.begin(), started_leading.end(), f.start);
            const double to = it == started_leading.end() ? now : *it;
            outages.push_back({f.kind, f.start, to});
            takeovers.push_back(to - f.start);
        }
    }

    // 2. Intervals without a ready leader, per fault kind and policy.
    std::map<std::string, std::map<std::string, std::vector<double>>> gaps;  // kind -> policy -> seconds
    std::map<std::string, std::map<std::string, chaos::leaderless_interval>> longest;  // kind -> policy -> interval
    std::vector<std::string> unexplained;
    const auto intervals = checker_->leaderless(now);
    for (const auto& li : intervals) {
        const std::string kind = attribute(li, outages);
        const std::string& policy = spec_of_[li.group].policy;
        gaps[kind][policy].push_back(li.to - li.from);
        auto& l = longest[kind][policy];
        if (l.group.empty() || li.to - li.from > l.to - l.from) l = li;
        if (kind == "unexplained") {
            unexplained.push_back(fmt::format("{} [+{:.3f}, +{:.3f}] s{}", li.group, rel(li.from), rel(li.to),
                                              li.open ? " (still open)" : ""));
        }
    }

    // 6. Lease holder changes.
    std::map<std::string, int> changes_by_kind;
    std::vector<std::string> caused, ineligible_unaimed, api_node_unknown;
    for (const auto& c : checker_->holder_changes()) {
        if (c.from.empty()) {
            changes_by_kind["first election"]++;
            continue;
        }
        const std::string node = checker_->node_of(c.from);
        const double lease = spec_of_[c.group].lease;
        const fault* aimed = nullptr;
        for (const auto& f : faults_) {
            const bool at_it = f.pod == c.from || (f.kind == k_freeze && !node.empty() && f.node == node);
            const double effect_end = f.end > 0 ? f.end : c.mono;
            if (at_it && f.start <= c.mono && c.mono <= effect_end + lease + transition_slack) aimed = &f;
        }
        if (aimed != nullptr) {
            changes_by_kind[aimed->kind]++;
            continue;
        }
        auto ineligible = checker_->ineligible_during(c.from, c.mono - 2, c.mono + 1);
        std::vector<std::string> before;
        for (const auto& f : faults_) {
            if (f.start >= c.mono - 30 && f.start <= c.mono) {
                before.push_back(fmt::format("#{} {} {}{}{} at +{:.1f} s", f.index, f.kind, f.group,
                                             f.pod.empty() ? "" : "/" + f.pod, f.node.empty() ? f.replica : " " + f.node,
                                             rel(f.start)));
            }
        }
        std::string said;
        for (const auto& [path, text] : logs) {
            std::istringstream in(text);
            for (std::string line; std::getline(in, line);) {
                if (line.find("event=leader-changed group=" + ns + "/" + c.group + " ") != std::string::npos &&
                    line.find(fmt::format(" to={} term={} ", c.to, c.transitions + 1)) != std::string::npos) {
                    said = line;
                }
            }
        }
        const std::string text = fmt::format("+{:.3f} s {}: {} -> {} (leaseTransitions {}); elector: {}; faults in "
                                             "the 30 s before: {}",
                                             rel(c.mono), c.group, c.from, c.to, c.transitions,
                                             said.empty() ? "-" : said, before.empty() ? "none" : fmt::format("{}", fmt::join(before, ", ")));
        bool after_api = false;
        for (const auto& o : outages) after_api |= o.kind == k_apiserver && o.from <= c.mono && c.mono <= o.to + 30;
        if (ineligible && after_api) {
            // kube-controller-manager marked the nodes Unknown after the outage.
            changes_by_kind[k_apiserver]++;
            api_node_unknown.push_back(*ineligible + ": " + text);
        } else if (ineligible) {
            changes_by_kind["holder ineligible, no fault aimed at it"]++;
            ineligible_unaimed.push_back(*ineligible + ": " + text);
        } else {
            changes_by_kind["CAUSED (holder eligible, no fault aimed at it)"]++;
            caused.push_back(text);
        }
    }

    // 5. elector crashes.
    std::vector<std::string> crashes = sigterm_failures_;
    int by_design = 0;
    for (const auto& e : exits_) {
        if (e.by_design) {
            ++by_design;
        } else {
            crashes.push_back(fmt::format("{} exited on its own at +{:.1f} s: {} (log {})", e.id, rel(e.mono), e.status,
                                          e.log));
        }
    }
    for (const auto& [path, text] : logs) {
        for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                                   "WARNING: ThreadSanitizer"}) {
            if (text.find(marker) != std::string::npos) crashes.push_back(fmt::format("{} in {}", marker, path));
        }
    }

    // Watches broken by compaction: relists after 410 Gone.
    std::size_t elector_relists = 0;
    for (const auto& [path, text] : logs) {
        for (auto at = text.find("watch expired, listing again"); at != std::string::npos;
             at = text.find("watch expired, listing again", at + 1)) {
            ++elector_relists;
        }
    }
    std::size_t checker_gone = 0;
    for (const auto& s : streams_) checker_gone += s->gone();

    const auto two = checker_->two_leader_states(t0_);
    const auto second_opinion = leader_watch_->violations();
    const auto terms = checker_->term_decreases(t0_);
    std::map<std::string, int> injected;
    for (const auto& f : faults_) injected[f.kind]++;
    std::vector<std::string> never_ran;
    for (const auto& k : fault_kinds) {
        if (injected[k] == 0) never_ran.push_back(k);
    }

    // --- print ---
    say("\nfaults injected ({} in {:.0f} s; seed {}):\n", faults_.size(), faults_end_ - t0_, o_.seed);
    say("{:<20} {:>9} {:>14} {:>16}\n", "kind", "injected", "not possible", "holder changes");
    for (const auto& k : fault_kinds) {
        say("{:<20} {:>9} {:>14} {:>16}\n", k, injected[k], not_possible_[k], changes_by_kind[k]);
    }
    if (!takeovers.empty()) {
        const auto t = bench::summarize(takeovers);
        say("elector takeover after a fault on the leading replica (to the next started-leading): n {}, p50 {} ms, "
            "max {} ms\n",
            t.n, fmt_ms(t.p50), fmt_ms(t.max));
    }

    say("\nintervals without a ready leader (labelled, Ready, not terminating), by cause (ms):\n");
    say("{:<20} {:<20} {:>6} {:>10} {:>10} {:>10}\n", "cause", "notReadyPolicy", "count", "p50", "p99", "max");
    std::vector<std::string> kinds_with_gaps = fault_kinds;
    kinds_with_gaps.push_back("unexplained");
    struct gap_row {
        std::string kind, policy;
        bench::summary s;
    };
    std::vector<gap_row> gap_rows;
    for (const auto& k : kinds_with_gaps) {
        if (!gaps.contains(k)) continue;
        for (const auto& [policy, v] : gaps[k]) {
            gap_rows.push_back({k, policy, bench::summarize(v)});
            const auto& s = gap_rows.back().s;
            const auto& l = longest[k][policy];
            say("{:<20} {:<20} {:>6} {:>10} {:>10} {:>10}   longest: {} [+{:.1f}, +{:.1f}] s\n", k, policy, s.n,
                fmt_ms(s.p50), fmt_ms(s.p99), fmt_ms(s.max), l.group, rel(l.from), rel(l.to));
        }
    }
    for (const auto& u : unexplained) say("  unexplained: {}\n", u);

    {
        std::vector<std::string> parts;
        for (const auto& [cause, n] : changes_by_kind) parts.push_back(fmt::format("{} {}", cause, n));
        say("\nLease holder changes by cause: {}\n", fmt::join(parts, ", "));
    }
    for (const auto& line : ineligible_unaimed) say("  holder ineligible without a fault: {}\n", line);
    if (!api_node_unknown.empty()) {
        say("  after an API server restart, holders ineligible (nodes Unknown or pods NotReady by "
            "kube-controller-manager): {}\n",
            api_node_unknown.size());
    }
    say("410 Gone relists: elector {} (its logs), checker {}; checker lists {}\n", elector_relists, checker_gone,
        [&] {
            std::vector<std::string> v;
            for (const auto& s : streams_) v.push_back(std::to_string(s->lists()));
            return fmt::format("{}", fmt::join(v, "/"));
        }());
    if (by_design > 0) {
        say("elector exits by design (exit 1 during an API server restart: own Lease lost, or the API unreachable "
            "at start; started again): {}\n",
            by_design);
    }
    for (const auto& a : checker_->anomalies()) say("  anomaly: {}\n", a);
    say("handover Events: {}; terms with more than one (a handover reported twice): {}\n", handover_events_,
        reported_twice_.size());
    for (const auto& line : reported_twice_) say("  reported twice: {}\n", line);

    struct figure {
        std::string name;
        std::size_t value;
        std::vector<std::string> details;
    };
    const std::vector<figure> figures{
        {"states with two pods of a group labelled leader", two.size() + second_opinion.size(),
         [&] {
             auto v = two;
             for (const auto& s : second_opinion) v.push_back("(leader_watch) " + s);
             return v;
         }()},
        {"groups not recovered after the settle window", settled.failing.size(),
         [&] {
             std::vector<std::string> v;
             for (const auto& [g, why] : settled.failing) v.push_back(g + ": " + why);
             return v;
         }()},
        {"terms that went down", terms.size(), terms},
        {"elector crashes", crashes.size(), crashes},
        {"workload transitions caused (holder eligible, no fault aimed at it)", caused.size(), caused},
    };
    say("\nmust be 0:\n");
    for (const auto& f : figures) {
        say("  {:<70} {:>5}\n", f.name, f.value);
        for (const auto& d : f.details) say("    {}\n", d);
    }
    if (!never_ran.empty()) say("fault kinds that never ran: {}\n", fmt::join(never_ran, ", "));
    if (!settled.electors_why.empty()) say("elector replicas not settled at the end: {}\n", settled.electors_why);

    bool failed = !never_ran.empty() || !settled.electors_why.empty();
    for (const auto& f : figures) failed |= f.value != 0;

    if (!o_.markdown.empty()) {
        std::ofstream md(o_.markdown);
        md << "## Chaos soak\n\n";
        md << fmt::format(
            "elector as 2 replicas with `--leader-elect` ({}) running {} groups (a 3-replica Deployment and an "
            "ElectionGroup each; half `notReadyPolicy: Immediate`, half `WaitForLeaseExpiry`; half 6s/4s/1s, half "
            "15s/10s/2s) on the local control plane (tests/env: kube-apiserver 1.20.2 without watch cache, so that an "
            "etcd compaction ends resumed watches with 410 Gone; 3 simulated nodes), while a seeded driver injected a "
            "fault every {}-{} s for {:.0f} s (seed {}): leader pod deleted, leader container crashed, readiness "
            "flapped (leader or not, 0.5-20 s), a node frozen {:.0f}-{:.0f} s, the leading elector replica SIGTERMed "
            "or SIGKILLed (sometimes the standby; started again after 1-5 s), kube-apiserver restarted, etcd "
            "compacted. Then every fault still in effect was undone and the groups had {:.0f} s to settle. A checker "
            "with its own watches (pods, Leases, ElectionGroups, Nodes; relisting after 410) timed every state by "
            "the arrival of its event on CLOCK_MONOTONIC. An interval without a ready leader (no labelled, Ready, "
            "not terminating pod) counts for an API server restart or an elector fault when it began while "
            "kube-apiserver was away (until ready again) or no elector replica led (until the next one logged "
            "started-leading), else for the last fault aimed at the group (its pod, or its pod's node) before it "
            "began, else for an API server restart that ended less than 15 s before (kube-controller-manager then "
            "marks nodes Unknown). A workload transition is *caused* when a Lease's holder "
            "changes while the old holder was eligible (Running, Ready, not terminating, containers running, node "
            "Ready) throughout [change - 2 s, change + 1 s] and no fault aimed at it or its node was in effect "
            "within leaseDuration + 20 s before. {} cores, load average {} at the start and {} at the end; "
            "{}.\n\n",
            elector_version_, o_.groups, o_.min_gap, o_.max_gap, faults_end_ - t0_, o_.seed, o_.freeze_min,
            o_.freeze_max, o_.settle, std::thread::hardware_concurrency(), load_at_start_, bench::load_average(),
            o_.smoke ? "a smoke run (short, few groups): not a measurement" : "one run");
        md << "```sh\n" << bench::command_line(o_.argv) << "\n```\n\n";
        md << "| fault kind | injected | Lease holder changes it caused |\n| --- | ---: | ---: |\n";
        for (const auto& k : fault_kinds) md << fmt::format("| {} | {} | {} |\n", k, injected[k], changes_by_kind[k]);
        md << "\n| without a ready leader, cause | notReadyPolicy | count | p50 (ms) | p99 (ms) | max (ms) |\n"
              "| --- | --- | ---: | ---: | ---: | ---: |\n";
        for (const auto& r : gap_rows) {
            md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.kind, r.policy, r.s.n, fmt_ms(r.s.p50),
                              fmt_ms(r.s.p99), fmt_ms(r.s.max));
        }
        md << "\n| must be 0 | measured |\n| --- | ---: |\n";
        for (const auto& f : figures) md << fmt::format("| {} | {} |\n", f.name, f.value);
        md << fmt::format("\nSettled {}. Relists after 410 Gone: elector {}, checker {}. ",
                          settled.took >= 0 ? fmt::format("{:.1f} s after the last fault was undone", settled.took)
                                            : fmt::format("NOT within {:.0f} s", o_.settle),
                          elector_relists, checker_gone);
        md << fmt::format("Handover Events: {}, of which terms reported more than once: {}. ", handover_events_,
                          reported_twice_.size());
        if (by_design > 0) {
            md << fmt::format("elector replicas that exited 1 by design during an API server restart (own Lease lost, "
                              "or the API unreachable at start) and were started again: {}. ",
                              by_design);
        }
        md << "\n\nTargets:\n\n";
        for (const auto& f : figures) md << fmt::format("- {}: 0 ({}): {}\n", f.name, f.value, f.value == 0 ? "met" : "NOT met");
        md << fmt::format("- every fault kind injected at least once: {}\n",
                          never_ran.empty() ? "met" : "NOT met (" + fmt::format("{}", fmt::join(never_ran, ", ")) + ")");
        say("markdown section written to {}\n", o_.markdown);
    }

    // The fault log.
    {
        std::ofstream out(run_dir_ + "/faults.tsv");
        out << "index\tkind\tstart_s\tend_s\tgroup\tpod\tnode\treplica\tdetail\n";
        for (const auto& f : faults_) {
            out << fmt::format("{}\t{}\t{:.3f}\t{:.3f}\t{}\t{}\t{}\t{}\t{}\n", f.index, f.kind, rel(f.start),
                               f.end > 0 ? rel(f.end) : -1.0, f.group, f.pod, f.node, f.replica, f.detail);
        }
    }
    say("\n{}\n", failed ? "FAILED" : "passed");
    return failed ? 1 : 0;
}

void soak::stop_electors() {
    // Stopping the replicas is part of the check: each must exit 0 on SIGTERM.
    for (const auto& id : elector_ids) {
        auto& st = replica_[id];
        if (st.down) continue;
        st.signal = SIGTERM;
        st.signalled_at = testing::monotonic_now();
        st.restart_at = 1e18;  // never
        electors_->slots.at(id).proc->signal(SIGTERM);
    }
    const auto deadline = std::chrono::steady_clock::now() + 25s;
    while (std::chrono::steady_clock::now() < deadline) {
        poll_replicas();
        bool all_down = true;
        for (const auto& id : elector_ids) all_down &= replica_[id].down;
        if (all_down) return;
        std::this_thread::sleep_for(50ms);
    }
}

int soak::run() {
    setup();
    wait_steady();
    std::string aborted;
    try {
        fault_phase();
        if (interrupted) {
            say("interrupted\n");
            return 130;
        }
        finish_faults();
    } catch (const std::exception& e) {
        // The control plane broke (the API server did not come back): report
        // what the checker saw so far, without the settle check.
        aborted = e.what();
        say("ABORTED: {}\n", aborted);
        if (faults_end_ == 0) faults_end_ = testing::monotonic_now();
    }
    settle_result settled;
    if (aborted.empty()) {
        settled = settle();
        check_events();
    } else {
        settled.failing["(every group)"] = "not checked: the run aborted (" + aborted + ")";
    }
    if (!o_.keep_env) stop_electors();
    int code = report(settled);
    if (!aborted.empty()) code = 2;
    if (o_.keep_env) {
        say("--keep-env: the control plane and elector keep running; source {}/env.sh; Ctrl-C ends\n", env_->dir());
        while (!interrupted) std::this_thread::sleep_for(200ms);
    }
    if (code == 0 && !run_dir_given_) {
        std::error_code ec;
        std::filesystem::remove_all(run_dir_, ec);
    } else {
        say("logs kept in {}\n", run_dir_);
    }
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    try {
        soak s(o);
        return s.run();
    } catch (const std::exception& e) {
        fmt::print(stderr, "chaos_soak: {}\n", e.what());
        return 2;
    }
}
