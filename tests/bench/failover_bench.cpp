// Failover latency of elector against client-go's leader election, on one
// local control plane (tests/env, 3 simulated nodes), in one run. Three
// tracks run at the same time so that the slow, timer-bound trials do not
// serialize the whole run:
//
//   fast      (main thread) namespace bench: a 3-replica Deployment, a Service
//             selecting role=leader and an ElectionGroup (15s/10s/2s,
//             notReadyPolicy Immediate). Rounds alternate:
//               deletion  DELETE of the leader pod; fault instant = the DELETE's answer
//               crash     the node simulator crashes the leader's container
//                         (CrashLoopBackOff, Ready=False); instant = that write's ackMonotonic
//               notready  the simulator marks the leader NotReady; instant = its
//                         ackMonotonic; then it is made Ready again
//             then rollouts (RollingUpdate, maxSurge 1, maxUnavailable 0):
//             the longest interval with no Ready, labelled, not terminating
//             pod, and the Lease transitions per rollout (must be exactly 1).
//   wait      (own thread) namespace bench-wait, its own Deployment and
//             group, notReadyPolicy WaitForLeaseExpiry: NotReady rounds,
//             ack -> new leader's label (about leaseDuration).
//   client-go (own thread) namespace bench-clientgo: 3 elector-peer processes
//             (tests/peer, client-go's leaderelection, 15s/10s/2s,
//             ReleaseOnCancel) on one Lease; the holder is SIGKILLed or
//             SIGTERMed (fault instant: CLOCK_MONOTONIC just before kill(2)),
//             end instant: arrival at the bench's own Lease watch of the event
//             naming another peer. The stopped peer is started again.
// The end instant of every workload round is the arrival, at the bench's own
// pod watch (tests/support/leader_watch), of the event showing the new
// leader's label, on CLOCK_MONOTONIC, the clock of the fault instants too.
//
// elector runs as two replicas with --leader-elect (its default timings)
// from the start, cluster-wide. After tracks fast and wait, the HA phase
// SIGTERMs and then SIGKILLs the replica that holds elector's own Lease:
// takeover = signal -> arrival of the Lease event naming the other replica;
// workload transitions caused (Lease holder/leaseTransitions of every
// workload group before vs after kill + takeover + 2 s, and any leader label
// or term change on any workload pod during the phase) must be 0.
//
// Exit 1 on two pods labelled leader at once, a round without a new leader
// (or takeover), workload transitions caused by elector restarts, or a
// rollout with Lease transitions != 1; exit 2 on setup errors.
//
//   build/bench/tests/failover_bench [--smoke] [--deletions N] [--crashes N] [--notready N]
//       [--rollouts N] [--elector-kills N] [--clientgo N] [--elector PATH] [--stable-seconds S]
//       [--backoff S] [--save-log PATH] [--csv PATH] [--markdown FILE]
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench_support.hpp"
#include "control_plane.hpp"
#include "elector_replicas.hpp"
#include "kube/client.hpp"
#include "leader_watch.hpp"
#include "leadership.hpp"
#include "object_watch.hpp"

namespace {

using namespace elector;
using namespace std::chrono_literals;
using bench::elector_replicas;
using bench::holder_of;
using bench::pod_ready;
using bench::process_slot;
using bench::start_process;
using bench::wait_exit;
using bench::summarize;
using bench::summary;
using nlohmann::json;

constexpr int replicas = 3;
constexpr double group_lease_seconds = 15;  // the groups' leaseDuration

struct workload {
    std::string ns;
    std::string group;   // the pods' app label, the Deployment and the ElectionGroup
    std::string policy;  // notReadyPolicy
    [[nodiscard]] std::string key() const { return ns + "/" + group; }
};
const workload fast_workload{"bench", "bench", "Immediate"};
const workload wait_workload{"bench-wait", "bench-wait", "WaitForLeaseExpiry"};

const std::string elector_lease_ns = "elector-system";
const std::string elector_lease_name = "elector-leader";
const std::vector<std::string> elector_ids{"elector-a", "elector-b"};

const std::string clientgo_ns = "bench-clientgo";
const std::string clientgo_lease = "clientgo";
const std::vector<std::string> peer_ids{"peer-a", "peer-b", "peer-c"};
const std::vector<std::string> peer_timings{"--lease-duration=15s", "--renew-deadline=10s", "--retry-period=2s",
                                            "--release-on-cancel=true"};

// Round kinds.
const std::string k_deletion = "deletion";
const std::string k_crash = "crash";
const std::string k_notready_immediate = "notready-immediate";
const std::string k_notready_wait = "notready-wait";
const std::string k_rollout = "rollout";
const std::string k_elector_term = "elector-sigterm";
const std::string k_elector_kill = "elector-sigkill";
const std::string k_clientgo_kill = "clientgo-sigkill";
const std::string k_clientgo_term = "clientgo-sigterm";

struct options {
    int deletions = 50;
    int crashes = 50;
    int notready = 50;  // per policy
    int rollouts = 50;
    int elector_kills = 50;  // per signal
    int clientgo = 50;       // per signal
    bool smoke = false;
    std::string elector;
    double stable_seconds = 30;
    double backoff = 0.5;
    std::string save_log;
    std::string csv;
    std::string markdown;
    std::vector<std::string> argv;
};

const bench::flag_spec flags{
    .program = "failover_bench",
    .usage = "usage: failover_bench [--smoke] [--deletions N] [--crashes N] [--notready N] [--rollouts N] "
             "[--elector-kills N] [--clientgo N] [--elector PATH] [--stable-seconds S] [--backoff S] [--save-log PATH] "
             "[--csv PATH] [--markdown FILE]\n",
    .switches = {"--smoke"},
    .help = true};

options parse(int argc, char** argv) {
    options o;
    o.argv.assign(argv, argv + argc);
    o.elector = bench::default_elector(ELECTOR_BUILD_BINARY);
    std::set<std::string> given;
    const std::map<std::string, int*> counts{{"--deletions", &o.deletions},     {"--crashes", &o.crashes},
                                             {"--notready", &o.notready},       {"--rollouts", &o.rollouts},
                                             {"--elector-kills", &o.elector_kills}, {"--clientgo", &o.clientgo}};
    const std::map<std::string, std::string*> texts{
        {"--elector", &o.elector}, {"--save-log", &o.save_log}, {"--csv", &o.csv}, {"--markdown", &o.markdown}};
    const std::map<std::string, double*> seconds{{"--stable-seconds", &o.stable_seconds}, {"--backoff", &o.backoff}};
    bench::parse_flags(argc, argv, flags, [&](const std::string& a, const std::string& value) {
        if (a == "--smoke") {
            o.smoke = true;
            return true;
        }
        given.insert(a);
        if (auto c = counts.find(a); c != counts.end()) {
            *c->second = std::stoi(value);
        } else if (auto t = texts.find(a); t != texts.end()) {
            *t->second = value;
        } else if (auto d = seconds.find(a); d != seconds.end()) {
            *d->second = std::stod(value);
        } else {
            return false;
        }
        return true;
    });
    if (o.smoke) {
        for (const auto& [flag, count] : counts) {
            if (!given.contains(flag)) *count = 2;
        }
        if (!given.contains("--stable-seconds")) o.stable_seconds = 5;
    }
    for (const auto& [flag, count] : counts) {
        if (*count < 0) bench::usage_error(flags, "counts must not be negative: " + flag);
    }
    if (o.stable_seconds <= 0) bench::usage_error(flags, "--stable-seconds must be positive");
    return o;
}

// Output from several tracks: whole lines, flushed at once.
std::mutex& output_mutex() {
    static std::mutex m;
    return m;
}

template <class... Args>
void say(fmt::format_string<Args...> f, Args&&... args) {
    std::string text = fmt::format(f, std::forward<Args>(args)...);
    std::lock_guard lock(output_mutex());
    fmt::print("{}", text);
    std::fflush(stdout);
}

kube::client make_client(const std::string& kubeconfig) {
    return bench::make_client(kubeconfig, "elector-failover-bench", 30s);
}

std::string manifests(const workload& w) {
    return fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {0}
  namespace: {1}
  labels: {{app: {0}}}
spec:
  replicas: {2}
  selector:
    matchLabels: {{app: {0}}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: {0}}}
    spec:
      containers:
      - name: app
        image: registry.example/bench/app:1
        ports:
        - containerPort: 80
        readinessProbe:
          httpGet: {{path: /, port: 80}}
---
apiVersion: v1
kind: Service
metadata:
  name: {0}-leader
  namespace: {1}
spec:
  selector: {{app: {0}, role: leader}}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata:
  name: {0}
  namespace: {1}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {0}}}
  leaseDuration: 15s
  renewDeadline: 10s
  retryPeriod: 2s
  notReadyPolicy: {3}
  leaderLabel: {{key: role, value: leader}}
)",
                       w.group, w.ns, replicas, w.policy);
}

double wall_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "2026-11-21T04:39:00.382123Z" -> seconds since the epoch (0 if unreadable).
double wall_seconds(const std::string& rfc3339) {
    std::tm tm{};
    double seconds = 0;
    if (std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &seconds) < 6) {
        return 0;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + seconds;
}

// 3 pods, all Ready and none terminating; the group's status counts 3 of 3
// eligible and names a leader; the watch sees exactly that pod labelled.
struct steady_state {
    bool ok = false;
    std::string why;
    std::string leader;
};

steady_state check_steady(const kube::client& c, const testing::leader_watch& watch, const workload& w) {
    auto eg = c.get(kube::resources::electiongroups, w.ns, w.group);
    if (!eg) return {false, "get group: " + eg.error().to_string(), ""};
    const json status = eg->value("status", json::object());
    const json cand = status.value("candidates", json::object());
    const int ready = cand.value("ready", -1);
    const int total = cand.value("total", -1);
    const std::string leader = status.value("leader", "");
    auto pods = c.list(kube::resources::pods, w.ns, {.label_selector = "app=" + w.group});
    if (!pods) return {false, "list pods: " + pods.error().to_string(), ""};
    int ready_pods = 0;
    for (const auto& p : pods->items) ready_pods += pod_ready(p) ? 1 : 0;
    const auto labelled = watch.labelled(w.group);
    steady_state s;
    s.leader = leader;
    s.why = fmt::format("{}: status ready {}/{} leader '{}'; {} pods, {} Ready; labelled [{}]", w.key(), ready, total,
                        leader, pods->items.size(), ready_pods, fmt::join(labelled, ", "));
    s.ok = ready == replicas && total == replicas && !leader.empty() &&
           pods->items.size() == static_cast<std::size_t>(replicas) && ready_pods == replicas &&
           labelled.size() == 1 && *labelled.begin() == leader;
    return s;
}

// MODIFIED (and ADDED) events of one object over a window, by a watch from
// the current resourceVersion.
int count_writes(const kube::client& c, const kube::resource& r, const std::string& ns, const std::string& name,
                 std::chrono::milliseconds window) {
    auto listed = c.list(r, ns, {.field_selector = "metadata.name=" + name});
    if (!listed) throw std::runtime_error("list for write count: " + listed.error().to_string());
    std::stop_source stop;
    int writes = 0;
    const auto deadline = std::chrono::steady_clock::now() + window;
    std::jthread timer([&] {
        while (std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
        stop.request_stop();
    });
    std::string rv = listed->resource_version;
    while (!stop.stop_requested()) {
        auto w = c.watch(r, ns,
                         {.resource_version = rv, .field_selector = "metadata.name=" + name, .allow_bookmarks = true,
                          .stop = stop.get_token()},
                         [&](kube::watch_event&& e) {
                             if (auto v = e.object["metadata"].value("resourceVersion", ""); !v.empty()) rv = v;
                             if (e.type == kube::watch_event_type::modified || e.type == kube::watch_event_type::added) {
                                 ++writes;
                             }
                             return true;
                         });
        if (!w && !stop.stop_requested()) {
            throw std::runtime_error("watch for write count: " + w.error().to_string());
        }
    }
    return writes;
}

// One `election: event=...` line of elector's log.
struct election_line {
    std::string event;  // leader-changed, promoted, demoted
    std::string from, to, pod, term, reason;
    double mono = 0;
};

std::string field(const std::string& line, const std::string& key) {
    const std::string k = " " + key + "=";
    auto at = line.find(k);
    if (at == std::string::npos) return "";
    at += k.size();
    auto end = line.find_first_of(" :\n", at);
    return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::vector<election_line> election_lines(const std::string& log, const std::string& group_key) {
    std::vector<election_line> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        if (line.find("election: event=") == std::string::npos) continue;
        if (field(line, "group") != group_key) continue;
        election_line e;
        e.event = field(line, "event");
        e.from = field(line, "from");
        e.to = field(line, "to");
        e.pod = field(line, "pod");
        e.term = field(line, "term");
        e.reason = field(line, "reason");
        const std::string mono = field(line, "mono");
        e.mono = mono.empty() ? 0 : std::strtod(mono.c_str(), nullptr);
        out.push_back(std::move(e));
    }
    return out;
}

struct round_result {
    int index = 0;
    std::string kind;
    std::string group;  // workload key, or the Lease of elector / client-go
    std::string from;
    std::string to;
    std::string term;
    double before = 0;    // just before the request (or signal) was sent
    double ack = 0;       // the fault instant
    double answered = 0;  // when the answer (with the ack) was back
    double seen = 0;      // the end instant; 0: not observed
    // From elector's log (0 if not found).
    double demoted = 0;
    double changed = 0;
    std::string reason;
    double renew_age = -1;  // notready-wait: seconds since the Lease's last renewal at the fault
    std::string note;
    [[nodiscard]] double latency_ms() const { return (seen - ack) * 1000.0; }
};

void print_row(const std::string& what, const summary& s) {
    if (s.n == 0) {
        say("{:<56} {:>5}\n", what, 0);
        return;
    }
    say("{:<56} {:>5} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f}\n", what, s.n, s.p50, s.p95, s.p99, s.max, s.min);
}

void print_header() {
    say("{:<56} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "", "count", "p50", "p95", "p99", "max", "min");
}

// The last line of a program's output (tests/peer/build prints its binary there).
std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    auto at = text.rfind('\n');
    return at == std::string::npos ? text : text.substr(at + 1);
}

// ---------------------------------------------------------------------------
// Workload rounds: deletion, crash, NotReady (both policies).

struct workload_track {
    const testing::control_plane& env;
    const kube::client& c;
    testing::leader_watch& watch;
    const workload& w;
    const options& o;
    std::string previous_term;
    int failures = 0;
    int ack_outside = 0;
};

void give_up_after_failures(workload_track& t) {
    if (++t.failures >= 3) throw std::runtime_error(t.w.key() + ": giving up after 3 failed rounds");
}

round_result workload_round(workload_track& t, const std::string& kind, int index) {
    round_result rr;
    rr.index = index;
    rr.kind = kind;
    rr.group = t.w.key();
    steady_state last;
    if (!testing::eventually(90s, [&] { return (last = check_steady(t.c, t.watch, t.w)).ok; }, 50ms)) {
        rr.note = "not steady within 90 s before the fault: " + last.why;
        say("round {} ({}): {}\n", rr.index, rr.kind, rr.note);
        give_up_after_failures(t);
        return rr;
    }
    std::this_thread::sleep_for(100ms);  // let the last status writes settle
    auto current = t.watch.wait_for_leader(t.w.group, "", 5s);
    if (!current) {
        rr.note = "no single labelled leader before the fault";
        give_up_after_failures(t);
        return rr;
    }
    rr.from = current->pod;
    if (!t.previous_term.empty() && current->term != t.previous_term) {
        rr.note += fmt::format("term before the fault is {} (last observed {}); ", current->term, t.previous_term);
    }

    const bool notready = kind == k_notready_immediate || kind == k_notready_wait;
    rr.before = testing::monotonic_now();
    try {
        if (kind == k_crash || notready) {
            auto ack = kind == k_crash ? t.env.sim().crash(t.w.ns, rr.from, t.o.backoff)
                                       : t.env.sim().not_ready(t.w.ns, rr.from);
            rr.answered = testing::monotonic_now();
            rr.ack = ack.at("ackMonotonic").get<double>();
            if (rr.ack < rr.before || rr.ack > rr.answered) {
                ++t.ack_outside;
                rr.note += fmt::format("simulator ack {:.6f} outside [{:.6f}, {:.6f}]; ", rr.ack, rr.before, rr.answered);
            }
        } else {
            auto done = t.c.remove(kube::resources::pods, t.w.ns, rr.from);
            rr.ack = rr.answered = testing::monotonic_now();
            if (!done) throw std::runtime_error("delete " + rr.from + ": " + done.error().to_string());
        }
    } catch (const std::exception& e) {
        rr.note += std::string("fault not injected: ") + e.what();
        say("round {} ({}): {}\n", rr.index, rr.kind, rr.note);
        give_up_after_failures(t);
        return rr;
    }
    if (kind == k_notready_wait) {
        // How old the leader's last renewal was at the fault.
        if (auto lease = t.c.get(kube::resources::leases, t.w.ns, t.w.group); lease) {
            const double renewed = wall_seconds(lease->value("spec", json::object()).value("renewTime", ""));
            const double wall_at_ack = wall_now() - (testing::monotonic_now() - rr.ack);
            if (renewed > 0) rr.renew_age = wall_at_ack - renewed;
        }
    }
    const auto timeout = kind == k_notready_wait ? 60s : 40s;
    auto next = t.watch.wait_for_leader(t.w.group, rr.from, timeout);
    if (notready) {
        try {
            t.env.sim().ready(t.w.ns, rr.from);
        } catch (const std::exception& e) {
            rr.note += std::string("cannot make the old leader Ready again: ") + e.what() + "; ";
        }
    }
    if (!next) {
        rr.note += fmt::format("no new leader within {} s; labelled now [{}]", timeout.count(),
                               fmt::join(t.watch.labelled(t.w.group), ", "));
        say("round {} ({}): {}\n", rr.index, rr.kind, rr.note);
        give_up_after_failures(t);
        return rr;
    }
    rr.to = next->pod;
    rr.term = next->term;
    rr.seen = next->mono;
    if (!current->term.empty() && !next->term.empty() && std::stoll(next->term) != std::stoll(current->term) + 1) {
        rr.note += fmt::format("term {} -> {}; ", current->term, next->term);
    }
    t.previous_term = next->term;
    return rr;
}

struct rollout_results {
    std::vector<double> gaps;
    std::map<std::int64_t, int> transitions_per_rollout;
    int bad = 0;
};

rollout_results run_rollouts(workload_track& t, int count, const std::stop_token& abort) {
    rollout_results out;
    const auto transitions = [&] {
        auto l = t.c.get(kube::resources::leases, t.w.ns, t.w.group);
        return l ? l->value("spec", json::object()).value("leaseTransitions", std::int64_t{-1}) : -1;
    };
    steady_state last;
    for (int i = 1; i <= count && !abort.stop_requested(); ++i) {
        if (!testing::eventually(90s, [&] { return (last = check_steady(t.c, t.watch, t.w)).ok; }, 50ms)) {
            say("rollout {}: not steady within 90 s: {}\n", i, last.why);
            ++out.bad;
            continue;
        }
        std::this_thread::sleep_for(200ms);
        const auto before = transitions();
        t.watch.reset_ready_gap(t.w.group);
        auto patched = t.c.patch(
            kube::resources::deployments, t.w.ns, t.w.group, kube::patch_type::merge,
            {{"spec", {{"template", {{"metadata", {{"annotations", {{"bench/rollout", std::to_string(i)}}}}}}}}}});
        if (!patched) throw std::runtime_error("patch the Deployment: " + patched.error().to_string());
        auto done = t.env.kubectl({"rollout", "status", "deployment/" + t.w.group, "-n", t.w.ns, "--timeout=120s"},
                                  {.timeout = 150s});
        if (!done.ok()) {
            say("rollout {}: {}\n", i, done.describe());
            ++out.bad;
            continue;
        }
        testing::eventually(30s, [&] { return (last = check_steady(t.c, t.watch, t.w)).ok; }, 50ms);
        const auto moved = transitions() - before;
        out.gaps.push_back(t.watch.longest_ready_gap(t.w.group).count() * 1000);
        out.transitions_per_rollout[moved]++;
        if (moved != 1) {
            ++out.bad;
            say("rollout {}: {} Lease transitions (want 1)\n", i, moved);
        }
        if (i % 5 == 0) say("  [fast] {} rollouts done\n", i);
    }
    return out;
}

// ---------------------------------------------------------------------------
// Track client-go.

struct clientgo_results {
    std::vector<round_result> rounds;
    std::string setup_note;
};

clientgo_results run_clientgo(const testing::control_plane& env, const std::string& peer_binary, int per_signal,
                              const std::stop_token& abort) {
    clientgo_results out;
    bench::object_watch lease(env.kubeconfig(), kube::resources::leases, clientgo_ns, bench::lease_summary,
                              {.field_selector = "metadata.name=" + clientgo_lease});
    std::map<std::string, process_slot> peers;
    const auto start_peer = [&](const std::string& id) {
        std::vector<std::string> argv{peer_binary,     "--kubeconfig",      env.kubeconfig(), "--id",
                                      id,              "--lease-name",      clientgo_lease,   "--lease-namespace",
                                      clientgo_ns};
        argv.insert(argv.end(), peer_timings.begin(), peer_timings.end());
        auto& p = peers[id];
        p.id = id;
        start_process(p, env.dir(), argv, {});
    };
    for (const auto& id : peer_ids) start_peer(id);
    // Every peer runs, has observed a leader (client-go's OnNewLeader), and
    // the Lease names one of them.
    const auto settled = [&](std::string& why) {
        for (auto& [id, p] : peers) {
            if (!p.proc->running()) {
                why = id + " is not running: " + testing::read_text(p.log);
                return false;
            }
            if (testing::read_text(p.log).find("event=new-leader") == std::string::npos) {
                why = id + " has not observed a leader yet";
                return false;
            }
        }
        const std::string holder = holder_of(lease, clientgo_lease);
        if (!peers.contains(holder)) {
            why = "the Lease names '" + holder + "'";
            return false;
        }
        return true;
    };
    std::string why;
    if (!testing::eventually(60s, [&] { return settled(why); }, 50ms)) {
        throw std::runtime_error("client-go peers: no leader among 3 running peers within 60 s: " + why);
    }
    say("[client-go] 3 peers, first holder {}\n", holder_of(lease, clientgo_lease));

    int kills = 0, terms = 0, failures = 0;
    for (int i = 0; (kills < per_signal || terms < per_signal) && !abort.stop_requested(); ++i) {
        const bool kill = kills < per_signal && (terms >= per_signal || i % 2 == 0);
        (kill ? kills : terms)++;
        round_result rr;
        rr.index = static_cast<int>(out.rounds.size()) + 1;
        rr.kind = kill ? k_clientgo_kill : k_clientgo_term;
        rr.group = clientgo_ns + "/" + clientgo_lease;
        if (!testing::eventually(90s, [&] { return settled(why); }, 50ms)) {
            rr.note = "not settled within 90 s: " + why;
            say("[client-go] round {} ({}): {}\n", rr.index, rr.kind, rr.note);
            out.rounds.push_back(rr);
            if (++failures >= 3) throw std::runtime_error("client-go: giving up after 3 failed rounds");
            continue;
        }
        std::this_thread::sleep_for(200ms);
        rr.from = holder_of(lease, clientgo_lease);
        auto& victim = peers.at(rr.from);
        const std::size_t from_index = lease.size();
        rr.before = rr.ack = testing::monotonic_now();
        victim.proc->signal(kill ? SIGKILL : SIGTERM);
        rr.answered = testing::monotonic_now();
        const std::string old = rr.from;
        auto next = lease.wait_for(
            from_index,
            [&](const bench::watch_entry& e) {
                const std::string h = e.data.value("holder", "");
                return !h.empty() && h != old;
            },
            60s);
        const std::string exited = wait_exit(victim, kill ? 5s : 20s);
        if (!kill && exited != "exit 0") rr.note += "after SIGTERM the peer ended with " + exited + "; ";
        if (!kill) {
            // ReleaseOnCancel: the holder wrote an empty holderIdentity first.
            bool released = false;
            for (const auto& e : lease.entries(from_index)) {
                if (next && e.mono > next->mono) break;
                if (e.data.value("holder", "x").empty()) released = true;
            }
            if (!released) rr.note += "no release (empty holder) seen before the takeover; ";
        }
        if (!next) {
            rr.note += fmt::format("no new holder within 60 s (holder now '{}')", holder_of(lease, clientgo_lease));
            say("[client-go] round {} ({}): {}\n", rr.index, rr.kind, rr.note);
            if (++failures >= 3) {
                out.rounds.push_back(rr);
                throw std::runtime_error("client-go: giving up after 3 failed rounds");
            }
        } else {
            rr.to = next->data.value("holder", "");
            rr.seen = next->mono;
            rr.term = std::to_string(next->data.value("transitions", std::int64_t{-1}));
        }
        out.rounds.push_back(rr);
        start_peer(old);  // the same identity, a new log file
        if (out.rounds.size() % 5 == 0) {
            say("  [client-go] {} rounds done ({} SIGKILL, {} SIGTERM)\n", out.rounds.size(), kills, terms);
        }
    }
    for (auto& [id, p] : peers) p.proc->signal(SIGTERM);
    for (auto& [id, p] : peers) {
        if (wait_exit(p, 15s) == "still running") p.proc->signal(SIGKILL);
    }
    if (lease.breaks() > 0) say("[client-go] the Lease watch broke {} times (resumed)\n", lease.breaks());
    return out;
}

// ---------------------------------------------------------------------------
// The HA phase: elector replicas SIGTERMed, then SIGKILLed.

// Leadership of one workload group: its Lease's holder and transitions.
struct workload_lease {
    std::string holder;
    std::int64_t transitions = -1;
    bool operator==(const workload_lease&) const = default;
};

workload_lease read_workload_lease(const kube::client& c, const workload& w) {
    auto l = c.get(kube::resources::leases, w.ns, w.group);
    if (!l) return {"(" + l.error().to_string() + ")", -1};
    const json spec = l->value("spec", json::object());
    return {spec.value("holderIdentity", ""), spec.value("leaseTransitions", std::int64_t{-1})};
}

// Changes of any workload pod's leader label or term in a pod watch's entries.
int label_changes(const bench::object_watch& w, std::vector<std::string>& notes) {
    std::map<std::string, std::string> state;
    int changes = 0;
    for (const auto& e : w.entries()) {
        const std::string now =
            e.type == "DELETED" ? "/" : e.data.value("label", "") + "/" + e.data.value("term", "");
        auto it = state.find(e.name);
        if (it == state.end()) {
            state[e.name] = now;
            if (e.type != "LISTED" && now != "/") {
                ++changes;
                notes.push_back(fmt::format("pod {} appeared labelled ({})", e.name, now));
            }
            continue;
        }
        if (it->second != now) {
            ++changes;
            notes.push_back(fmt::format("pod {}: label/term {} -> {} (rv {})", e.name, it->second, now,
                                        e.resource_version));
        }
        it->second = now;
    }
    return changes;
}

struct ha_results {
    std::vector<round_result> rounds;
    int lease_changes = 0;
    int label_changes = 0;
    std::vector<std::string> notes;
    [[nodiscard]] int caused() const { return lease_changes + label_changes; }
};

ha_results run_ha(const testing::control_plane& env, elector_replicas& electors,
                  const bench::object_watch& elector_lease, const kube::client& c,
                  const std::map<std::string, const testing::leader_watch*>& watches, int per_signal,
                  const std::stop_token& abort) {
    ha_results out;
    std::vector<std::unique_ptr<bench::object_watch>> pod_watches;
    for (const workload* w : {&fast_workload, &wait_workload}) {
        pod_watches.push_back(std::make_unique<bench::object_watch>(env.kubeconfig(), kube::resources::pods, w->ns,
                                                                    bench::pod_label_summary("role")));
    }
    int failures = 0;
    const auto fail = [&](round_result& rr) {
        say("[ha] round {} ({}): {}\n", rr.index, rr.kind, rr.note);
        out.rounds.push_back(rr);
        if (++failures >= 3) throw std::runtime_error("HA phase: giving up after 3 failed rounds");
    };
    for (int i = 0; i < 2 * per_signal && !abort.stop_requested(); ++i) {
        const bool kill = i >= per_signal;  // 50 SIGTERM, then 50 SIGKILL
        round_result rr;
        rr.index = i + 1;
        rr.kind = kill ? k_elector_kill : k_elector_term;
        rr.group = elector_lease_ns + "/" + elector_lease_name;
        // Both workloads steady, one replica leading, the other a ready standby.
        std::string why;
        const bool ready = testing::eventually(
            90s,
            [&] {
                for (const workload* w : {&fast_workload, &wait_workload}) {
                    auto s = check_steady(c, *watches.at(w->ns), *w);
                    if (!s.ok) {
                        why = s.why;
                        return false;
                    }
                }
                return electors.settled(elector_lease, why);
            },
            100ms);
        if (!ready) {
            rr.note = "not steady within 90 s: " + why;
            fail(rr);
            continue;
        }
        std::map<std::string, workload_lease> before;
        for (const workload* w : {&fast_workload, &wait_workload}) before[w->key()] = read_workload_lease(c, *w);

        rr.from = holder_of(elector_lease, elector_lease_name);
        const std::string other = rr.from == elector_ids[0] ? elector_ids[1] : elector_ids[0];
        auto& victim = electors.slots.at(rr.from);
        const std::size_t from_index = elector_lease.size();
        rr.before = rr.ack = testing::monotonic_now();
        victim.proc->signal(kill ? SIGKILL : SIGTERM);
        rr.answered = testing::monotonic_now();
        auto next = elector_lease.wait_for(
            from_index, [&](const bench::watch_entry& e) { return e.data.value("holder", "") == other; }, 60s);
        const std::string exited = wait_exit(victim, kill ? 5s : 20s);
        if (!kill && exited != "exit 0") rr.note += "after SIGTERM elector ended with " + exited + "; ";
        if (!next) {
            rr.note += fmt::format("no takeover by {} within 60 s (holder now '{}')", other,
                                   holder_of(elector_lease, elector_lease_name));
            electors.start(rr.from);
            fail(rr);
            continue;
        }
        rr.to = other;
        rr.seen = next->mono;
        std::this_thread::sleep_for(2s);  // settle: the new leader has renewed every group by now
        for (const workload* w : {&fast_workload, &wait_workload}) {
            const auto after = read_workload_lease(c, *w);
            const auto& b = before[w->key()];
            if (!(after == b)) {
                ++out.lease_changes;
                out.notes.push_back(fmt::format("{} round {}: {} Lease holder {} transitions {} -> holder {} transitions {}",
                                                rr.kind, rr.index, w->key(), b.holder, b.transitions, after.holder,
                                                after.transitions));
            }
        }
        electors.start(rr.from);  // the same identity, a new log file
        const bool standby = testing::eventually(
            60s,
            [&] {
                const std::string r = electors.readyz(rr.from);
                return r.starts_with("200") && r.find("standby") != std::string::npos;
            },
            50ms);
        if (!standby) {
            rr.note += fmt::format("restarted {} not a ready standby within 60 s: /readyz '{}'", rr.from,
                                   electors.readyz(rr.from));
        }
        out.rounds.push_back(rr);
        if (out.rounds.size() % 5 == 0) say("  [ha] {} elector restarts done\n", out.rounds.size());
    }
    for (const auto& w : pod_watches) out.label_changes += label_changes(*w, out.notes);
    return out;
}

// ---------------------------------------------------------------------------
// Reporting.

struct row {
    std::string kind;   // round kind
    std::string label;  // for the tables
};

const std::vector<row> rows{
    {k_deletion, "elector: leader pod deleted"},
    {k_crash, "elector: leader container crashed"},
    {k_notready_immediate, "elector: leader NotReady, Immediate"},
    {k_notready_wait, "elector: leader NotReady, WaitForLeaseExpiry"},
    {k_rollout, "elector: rolling update, longest no-Ready-leader gap"},
    {k_elector_term, "elector replica SIGTERM: takeover"},
    {k_elector_kill, "elector replica SIGKILL: takeover"},
    {k_clientgo_kill, "client-go: leader SIGKILLed"},
    {k_clientgo_term, "client-go: leader SIGTERMed (ReleaseOnCancel)"},
};

struct ratio {
    std::string label;
    std::string num, den;  // kinds
};

const std::vector<ratio> ratios{
    {"client-go SIGKILL / elector crash", k_clientgo_kill, k_crash},
    {"client-go SIGKILL / elector deletion", k_clientgo_kill, k_deletion},
    {"client-go SIGTERM (release) / elector deletion", k_clientgo_term, k_deletion},
};

// The default of one of elector's flags, from `elector --help` ("?" if not found).
std::string help_default(const std::string& help, const std::string& flag) {
    const auto at = help.find("  " + flag + " ");
    if (at == std::string::npos) return "?";
    const auto d = help.find("(default ", at);
    const auto next_flag = help.find("\n  --", at + 1);
    if (d == std::string::npos || (next_flag != std::string::npos && d > next_flag)) return "?";
    const auto end = help.find(')', d);
    return help.substr(d + 9, end - d - 9);
}

std::string fmt_ms(double v) { return fmt::format("{:.1f}", v); }

int run_bench(const options& o) {
    const auto run_started = std::chrono::steady_clock::now();
    auto version = testing::run({o.elector, "--version"}, {.timeout = 10s});
    if (!version.ok()) throw std::runtime_error("cannot run " + o.elector + " --version: " + version.describe());
    const std::string elector_version = last_line(version.out);
    auto help = testing::run({o.elector, "--help"}, {.timeout = 10s});
    const std::string own_timings =
        fmt::format("{}/{}/{}", help_default(help.out, "--leader-election-lease-duration"),
                    help_default(help.out, "--leader-election-renew-deadline"),
                    help_default(help.out, "--leader-election-retry-period"));
    say("failover benchmark: {} ({})\n", elector_version, o.elector);
    say("elector: 2 replicas, --leader-elect with its default timings {} (lease/renew/retry), cluster-wide\n",
        own_timings);

    std::string peer_binary;
    if (o.clientgo > 0) {
        auto built = testing::run({testing::source_dir() + "/tests/peer/build"}, {.timeout = 15min});
        if (!built.ok()) throw std::runtime_error("tests/peer/build: " + built.describe());
        peer_binary = last_line(built.out);
        say("client-go peer: {}\n", peer_binary);
    }

    testing::control_plane env({.nodes = 3, .pod_grace_seconds = 0.5});
    const std::string load_at_start = bench::load_average();
    say("control plane {}: kube-apiserver 1.20.2 on 127.0.0.1, etcd on tmpfs, 3 simulated nodes, {} cores, "
        "load average {}\n",
        env.dir(), std::thread::hardware_concurrency(), load_at_start);
    say("one control plane, concurrent tracks: fast (namespace {}, main thread), wait (namespace {}, own thread), "
        "client-go (namespace {}, own thread); then the elector HA phase (after fast and wait)\n",
        fast_workload.ns, wait_workload.ns, clientgo_ns);
    auto c = make_client(env.kubeconfig());

    auto r = env.kubectl({"apply", "-f", testing::source_dir() + "/crds/elector.dev_electiongroups.yaml"});
    if (!r.ok()) throw std::runtime_error("apply CRD: " + r.describe());
    r = env.kubectl({"wait", "--for", "condition=established", "crd/electiongroups.elector.dev", "--timeout=60s"});
    if (!r.ok()) throw std::runtime_error("CRD not established: " + r.describe());
    for (const auto& ns : {fast_workload.ns, wait_workload.ns, clientgo_ns, elector_lease_ns}) {
        r = env.kubectl({"create", "namespace", ns});
        if (!r.ok()) throw std::runtime_error("create namespace " + ns + ": " + r.describe());
    }

    testing::leader_watch fast_watch(env.kubeconfig(), fast_workload.ns);
    testing::leader_watch wait_watch(env.kubeconfig(), wait_workload.ns);
    bench::object_watch elector_lease(env.kubeconfig(), kube::resources::leases, elector_lease_ns, bench::lease_summary,
                                      {.field_selector = "metadata.name=" + elector_lease_name});
    elector_replicas electors{.binary = o.elector,
                              .kubeconfig = env.kubeconfig(),
                              .log_dir = env.dir(),
                              .lease_ns = elector_lease_ns,
                              .lease_name = elector_lease_name,
                              .ids = elector_ids,
                              .slots = {}};
    struct log_saver {
        elector_replicas& e;
        std::string to;
        ~log_saver() {
            if (to.empty()) return;
            std::ofstream out(to);
            for (const auto& log : e.all_logs()) out << "==> " << log << " <==\n" << testing::read_text(log);
            fmt::print("elector's logs saved to {}\n", to);
        }
    } saver{electors, o.save_log};
    for (const auto& id : elector_ids) electors.start(id);
    {
        std::string why;
        const bool up = testing::eventually(60s, [&] { return electors.settled(elector_lease, why); }, 100ms);
        if (!up) throw std::runtime_error("elector replicas not up within 60 s: " + why);
        say("elector replicas up: {} leads, Lease {}/{}\n", holder_of(elector_lease, elector_lease_name),
            elector_lease_ns, elector_lease_name);
    }
    env.apply(manifests(fast_workload));
    env.apply(manifests(wait_workload));

    std::stop_source abort;
    // Tracks wait and client-go on their own threads; any failure stops the others between rounds.
    auto on_thread = [&abort](auto body) {
        return std::async(std::launch::async, [&abort, body = std::move(body)]() mutable {
            try {
                return body();
            } catch (...) {
                abort.request_stop();
                throw;
            }
        });
    };

    // Track wait.
    auto wait_client = make_client(env.kubeconfig());
    workload_track wait_track{env, wait_client, wait_watch, wait_workload, o, "", 0, 0};
    auto wait_done = on_thread([&] {
        std::vector<round_result> rounds;
        steady_state last;
        if (!testing::eventually(90s, [&] { return (last = check_steady(wait_client, wait_watch, wait_workload)).ok; },
                                 50ms)) {
            throw std::runtime_error("no steady leader within 90 s: " + last.why);
        }
        say("[wait] first leader {}\n", last.leader);
        for (int i = 1; i <= o.notready && !abort.get_token().stop_requested(); ++i) {
            rounds.push_back(workload_round(wait_track, k_notready_wait, i));
            const auto& rr = rounds.back();
            if (rr.seen > 0) {
                say("  [wait] NotReady {}: {} -> {} after {:.0f} ms (last renewal {:.2f} s before the fault)\n", i,
                    rr.from, rr.to, rr.latency_ms(), rr.renew_age);
            }
        }
        return rounds;
    });

    // Track client-go.
    std::future<clientgo_results> clientgo_done;
    if (o.clientgo > 0) {
        clientgo_done = on_thread([&] { return run_clientgo(env, peer_binary, o.clientgo, abort.get_token()); });
    }

    // Track fast.
    workload_track fast{env, c, fast_watch, fast_workload, o, "", 0, 0};
    const auto started = std::chrono::steady_clock::now();
    steady_state last;
    std::vector<round_result> rounds;
    rollout_results rollouts;
    std::string stable_line;
    try {
        if (!testing::eventually(60s, [&] { return (last = check_steady(c, fast_watch, fast_workload)).ok; }, 50ms)) {
            throw std::runtime_error("no steady leader within 60 s: " + last.why);
        }
        say("[fast] first leader {} after {:.2f} s (from applying the manifests)\n", last.leader,
            testing::seconds_since(started));

        // Writes while nothing happens (to this group; the other tracks run meanwhile).
        std::this_thread::sleep_for(3s);
        {
            const auto window = std::chrono::milliseconds(static_cast<long>(o.stable_seconds * 1000));
            const std::size_t pod_events = fast_watch.events();
            auto lease_writes = std::async(std::launch::async, [&] {
                return count_writes(c, kube::resources::leases, fast_workload.ns, fast_workload.group, window);
            });
            auto group_writes = std::async(std::launch::async, [&] {
                return count_writes(c, kube::resources::electiongroups, fast_workload.ns, fast_workload.group, window);
            });
            const int leases = lease_writes.get();
            const int groups = group_writes.get();
            const std::size_t pods = fast_watch.events() - pod_events;
            const double per_minute = 60.0 / o.stable_seconds;
            stable_line = fmt::format(
                "while stable, over {:.0f} s: Lease {} writes ({:.1f}/min), ElectionGroup {} ({:.1f}/min), "
                "pod events {} ({:.1f}/min); total {:.1f} writes per group per minute",
                o.stable_seconds, leases, leases * per_minute, groups, groups * per_minute, pods,
                static_cast<double>(pods) * per_minute, (leases + groups + static_cast<double>(pods)) * per_minute);
            say("[fast] {}\n", stable_line);
        }

        // Rounds: deletion, crash and NotReady in turn while each remains.
        std::map<std::string, int> left{{k_deletion, o.deletions}, {k_crash, o.crashes}, {k_notready_immediate, o.notready}};
        const std::vector<std::string> order{k_deletion, k_crash, k_notready_immediate};
        for (std::size_t i = 0; !abort.get_token().stop_requested(); ++i) {
            if (left[k_deletion] + left[k_crash] + left[k_notready_immediate] == 0) break;
            const std::string& kind = order[i % order.size()];
            if (left[kind] == 0) continue;
            --left[kind];
            rounds.push_back(workload_round(fast, kind, static_cast<int>(rounds.size()) + 1));
            if (rounds.size() % 10 == 0) say("  [fast] {} rounds done\n", rounds.size());
        }
        rollouts = run_rollouts(fast, o.rollouts, abort.get_token());
    } catch (...) {
        abort.request_stop();
        throw;
    }

    auto wait_rounds = wait_done.get();
    rounds.insert(rounds.end(), wait_rounds.begin(), wait_rounds.end());
    say("[fast] tracks fast and wait done after {:.0f} s; HA phase: {} SIGTERM, then {} SIGKILL of the leading elector "
        "replica\n",
        testing::seconds_since(run_started), o.elector_kills, o.elector_kills);

    ha_results ha;
    if (o.elector_kills > 0) {
        try {
            ha = run_ha(env, electors, elector_lease, c,
                        {{fast_workload.ns, &fast_watch}, {wait_workload.ns, &wait_watch}}, o.elector_kills,
                        abort.get_token());
        } catch (...) {
            abort.request_stop();
            throw;
        }
    }
    clientgo_results clientgo;
    if (clientgo_done.valid()) clientgo = clientgo_done.get();
    rounds.insert(rounds.end(), ha.rounds.begin(), ha.rounds.end());
    rounds.insert(rounds.end(), clientgo.rounds.begin(), clientgo.rounds.end());
    const double wall_seconds_total = testing::seconds_since(run_started);

    // elector's own times, from its logs (every replica, every start).
    std::this_thread::sleep_for(500ms);
    std::string all_logs;
    for (const auto& log : electors.all_logs()) all_logs += testing::read_text(log);
    std::map<std::string, std::vector<election_line>> lines;
    for (const workload* w : {&fast_workload, &wait_workload}) lines[w->key()] = election_lines(all_logs, w->key());
    for (auto& rr : rounds) {
        if (rr.seen == 0 || !lines.contains(rr.group)) continue;
        for (const auto& e : lines[rr.group]) {
            if (e.mono < rr.before - 0.001) continue;
            if (e.event == "demoted" && e.pod == rr.from && rr.demoted == 0) rr.demoted = e.mono;
            if (e.event == "leader-changed" && e.to == rr.to && e.term == rr.term && rr.changed == 0) {
                rr.changed = e.mono;
                rr.reason = e.reason;
            }
        }
        if (rr.changed == 0) rr.note += "no leader-changed line in elector's logs; ";
    }

    if (!o.csv.empty()) {
        std::ofstream csv(o.csv);
        csv << "round,kind,group,from,to,term,reason,sent_mono,ack_mono,answered_mono,seen_mono,latency_ms,"
               "sent_to_seen_ms,ack_to_demoted_ms,ack_to_changed_ms,changed_to_seen_ms,renew_age_s,note\n";
        for (const auto& rr : rounds) {
            csv << fmt::format(
                "{},{},{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},\"{}\"\n",
                rr.index, rr.kind, rr.group, rr.from, rr.to, rr.term, rr.reason, rr.before, rr.ack, rr.answered,
                rr.seen, rr.seen > 0 ? rr.latency_ms() : -1.0, rr.seen > 0 ? (rr.seen - rr.before) * 1000 : -1.0,
                rr.demoted > 0 ? (rr.demoted - rr.ack) * 1000 : -1.0,
                rr.changed > 0 ? (rr.changed - rr.ack) * 1000 : -1.0,
                rr.changed > 0 && rr.seen > 0 ? (rr.seen - rr.changed) * 1000 : -1.0, rr.renew_age, rr.note);
        }
        say("per-round figures written to {}\n", o.csv);
    }

    // Figures.
    std::map<std::string, std::vector<double>> latencies;
    std::map<std::string, int> missed, planned;
    for (const auto& rr : rounds) {
        planned[rr.kind]++;
        if (rr.seen == 0) {
            missed[rr.kind]++;
            continue;
        }
        latencies[rr.kind].push_back(rr.latency_ms());
    }
    latencies[k_rollout] = rollouts.gaps;
    std::map<std::string, summary> sums;
    for (const auto& rw : rows) sums[rw.kind] = summarize(latencies[rw.kind]);
    int total_missed = 0;
    for (const auto& [kind, n] : missed) total_missed += n;

    say("\nelector's election details, fault acknowledgment -> ... (ms)\n");
    print_header();
    for (const std::string& kind : {k_deletion, k_crash, k_notready_immediate, k_notready_wait}) {
        std::vector<double> from_sent, to_changed, to_seen, to_demoted;
        for (const auto& rr : rounds) {
            if (rr.kind != kind || rr.seen == 0) continue;
            from_sent.push_back((rr.seen - rr.before) * 1000);
            if (rr.demoted > 0) to_demoted.push_back((rr.demoted - rr.ack) * 1000);
            if (rr.changed > 0) {
                to_changed.push_back((rr.changed - rr.ack) * 1000);
                to_seen.push_back((rr.seen - rr.changed) * 1000);
            }
        }
        print_row(kind + ": request sent -> new leader's label", summarize(from_sent));
        print_row("  ack -> elector logs demoted", summarize(to_demoted));
        print_row("  ack -> elector logs leader-changed", summarize(to_changed));
        print_row("  leader-changed -> watch event", summarize(to_seen));
    }
    {
        std::vector<double> ages, over;
        for (const auto& rr : rounds) {
            if (rr.kind != k_notready_wait || rr.seen == 0) continue;
            if (rr.renew_age >= 0) ages.push_back(rr.renew_age * 1000);
            over.push_back(rr.latency_ms() - group_lease_seconds * 1000);
        }
        print_row("WaitForLeaseExpiry: renewal age at the fault", summarize(ages));
        print_row("WaitForLeaseExpiry: latency - leaseDuration", summarize(over));
    }

    say("\nfailover, fault instant -> end instant on CLOCK_MONOTONIC (ms; rollout: longest gap)\n");
    say("{:<56} {:>5} {:>10} {:>10} {:>10} {:>10}\n", "kind", "count", "p50", "p95", "p99", "max");
    for (const auto& rw : rows) {
        const auto& s = sums[rw.kind];
        if (s.n == 0) {
            say("{:<56} {:>5} {:>10}\n", rw.label, 0, "not run");
            continue;
        }
        say("{:<56} {:>5} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f}\n", rw.label, s.n, s.p50, s.p95, s.p99, s.max);
    }
    say("\nratios (client-go / elector)\n");
    for (const auto& ra : ratios) {
        const auto& n = sums[ra.num];
        const auto& d = sums[ra.den];
        if (n.n == 0 || d.n == 0 || d.p50 <= 0 || d.p99 <= 0) {
            say("{:<56} not measured in this run\n", ra.label);
            continue;
        }
        say("{:<56} p50 {:.0f}x, p99 {:.0f}x\n", ra.label, n.p50 / d.p50, n.p99 / d.p99);
    }

    std::map<std::string, int> reasons;
    for (const auto& rr : rounds) {
        if (!rr.reason.empty()) reasons[rr.kind + " " + rr.reason]++;
    }
    say("\nreasons in elector's logs: {}\n", fmt::join(reasons, ", "));
    say("rounds without a new leader / takeover: {}; simulator acks outside the request's interval: {}\n", total_missed,
        fast.ack_outside + wait_track.ack_outside);
    for (const auto& rr : rounds) {
        const bool elector_kind = rr.kind == k_deletion || rr.kind == k_crash || rr.kind == k_notready_immediate;
        const bool slow = elector_kind && rr.seen > 0 && rr.latency_ms() > 100;
        if (slow || !rr.note.empty()) {
            say("  {} round {} {} -> {} term {}: {:.1f} ms (demoted +{:.1f}, leader-changed +{:.1f}) {}\n", rr.kind,
                rr.index, rr.from, rr.to.empty() ? "-" : rr.to, rr.term, rr.seen > 0 ? rr.latency_ms() : -1.0,
                rr.demoted > 0 ? (rr.demoted - rr.ack) * 1000 : -1.0,
                rr.changed > 0 ? (rr.changed - rr.ack) * 1000 : -1.0, rr.note);
        }
    }
    std::vector<std::string> per_rollout;
    for (const auto& [moved, count] : rollouts.transitions_per_rollout) {
        per_rollout.push_back(fmt::format("{} rollouts with {} transition{}", count, moved, moved == 1 ? "" : "s"));
    }
    if (o.rollouts > 0) say("rollout Lease transitions: {}; {} bad rollouts\n", fmt::join(per_rollout, ", "), rollouts.bad);
    if (o.elector_kills > 0) {
        say("WORKLOAD TRANSITIONS CAUSED by {} elector replica restarts: {} (workload Lease changes {}, leader label "
            "or term changes {})\n",
            ha.rounds.size(), ha.caused(), ha.lease_changes, ha.label_changes);
        for (const auto& n : ha.notes) say("  {}\n", n);
    }
    const std::string load_at_end = bench::load_average();
    say("pod watches: {} / {} events, {} / {} lists; load average now {}; wall time {:.0f} s\n", fast_watch.events(),
        wait_watch.events(), fast_watch.lists(), wait_watch.lists(), load_at_end, wall_seconds_total);

    for (const auto& line : electors.stop_all()) say("{}\n", line);

    std::vector<std::string> violations;
    for (const auto* w : {&fast_watch, &wait_watch}) {
        auto v = w->violations();
        violations.insert(violations.end(), v.begin(), v.end());
    }
    if (!violations.empty()) {
        say("VIOLATIONS: two pods labelled leader at once ({}):\n", violations.size());
        for (const auto& line : violations) say("  {}\n", line);
    } else {
        say("no state with two pods of a group labelled role=leader\n");
    }

    // Targets.
    struct target {
        std::string text;
        std::optional<bool> met;  // nullopt: not measured
    };
    std::vector<target> targets;
    for (const std::string& kind : {k_deletion, k_crash}) {
        const auto& s = sums[kind];
        const auto measured = [&](bool ok) { return s.n > 0 ? std::optional<bool>(ok) : std::nullopt; };
        targets.push_back({fmt::format("{} p50 <= 25 ms (measured {})", kind, s.n > 0 ? fmt_ms(s.p50) + " ms" : "-"),
                           measured(s.p50 <= 25)});
        targets.push_back({fmt::format("{} p99 <= 100 ms (measured {})", kind, s.n > 0 ? fmt_ms(s.p99) + " ms" : "-"),
                           measured(s.p99 <= 100)});
    }
    {
        const auto& n = sums[k_clientgo_kill];
        const auto& d = sums[k_crash];
        const bool have = n.n > 0 && d.n > 0 && d.p50 > 0;
        targets.push_back({fmt::format("client-go SIGKILL p50 >= 150 x elector crash p50 (measured {})",
                                       have ? fmt::format("{:.0f}x", n.p50 / d.p50) : "-"),
                           have ? std::optional<bool>(n.p50 / d.p50 >= 150) : std::nullopt});
    }
    targets.push_back({fmt::format("0 workload transitions from elector replica restarts (measured {} in {} restarts)",
                                   ha.caused(), ha.rounds.size()),
                       ha.rounds.empty() ? std::nullopt : std::optional<bool>(ha.caused() == 0)});
    if (o.rollouts > 0) {
        targets.push_back({fmt::format("exactly 1 Lease transition per rollout ({} of {} rollouts otherwise)",
                                       rollouts.bad, o.rollouts),
                           std::optional<bool>(rollouts.bad == 0)});
    }
    targets.push_back({fmt::format("no two pods of a group labelled leader at once ({} violations)", violations.size()),
                       std::optional<bool>(violations.empty())});
    say("\ntargets:\n");
    for (const auto& t : targets) say("  {}: {}\n", t.text, !t.met ? "not measured" : *t.met ? "met" : "NOT met");

    if (!o.markdown.empty()) {
        std::ofstream md(o.markdown);
        md << "## Failover: elector vs client-go\n\n";
        md << fmt::format(
            "Failover latency of elector's ElectionGroup controller and of client-go's leader election, on the same "
            "local control plane (tests/env: kube-apiserver 1.20.2, etcd on tmpfs, 3 simulated nodes) in the same "
            "run{}. The fault instant is the API's acknowledgment of the fault (the DELETE's answer; the node "
            "simulator's status write, its `ackMonotonic`) or, for processes, the moment just before kill(2); the end "
            "instant is the arrival at the benchmark's own watch of the event that shows the new leader (the pod "
            "label `role=leader`; for client-go and for elector's own replicas, the Lease event naming another "
            "holder); both on CLOCK_MONOTONIC of the benchmark's machine. Rolling update: the longest interval with "
            "no Ready, labelled, not terminating pod (3 replicas, maxSurge 1, maxUnavailable 0). The tracks ran "
            "concurrently on one control plane: fast (deletion, crash, NotReady with `notReadyPolicy: Immediate`, "
            "rollouts), wait (NotReady with `WaitForLeaseExpiry`, its own Deployment and group) and client-go (3 "
            "`tests/peer` processes); the elector HA phase ran after fast and wait. Groups: leaseDuration 15s, "
            "renewDeadline 10s, retryPeriod 2s; client-go: the same 15s/10s/2s, ReleaseOnCancel; elector: 2 "
            "replicas with `--leader-elect` and its default timings {} (lease/renew/retry), cluster-wide. {}, {} "
            "cores, load average {} at the start and {} at the end; wall time {:.0f} s.\n\n",
            o.smoke ? " (smoke run: 2 trials of each kind, not a measurement)" : "", own_timings, elector_version,
            std::thread::hardware_concurrency(), load_at_start, load_at_end, wall_seconds_total);
        md << "```sh\n" << bench::command_line(o.argv) << "\n```\n\n";
        md << "| kind | count | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
        for (const auto& rw : rows) {
            const auto& s = sums[rw.kind];
            if (s.n == 0) {
                md << fmt::format("| {} | 0 | not run | | | |\n", rw.label);
            } else {
                md << fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |\n", rw.label, s.n, s.p50, s.p95,
                                  s.p99, s.max);
            }
        }
        md << "\n| ratio (client-go / elector) | p50 | p99 |\n| --- | ---: | ---: |\n";
        for (const auto& ra : ratios) {
            const auto& n = sums[ra.num];
            const auto& d = sums[ra.den];
            if (n.n == 0 || d.n == 0 || d.p50 <= 0 || d.p99 <= 0) {
                md << fmt::format("| {} | not measured | not measured |\n", ra.label);
            } else {
                md << fmt::format("| {} | {:.0f}x | {:.0f}x |\n", ra.label, n.p50 / d.p50, n.p99 / d.p99);
            }
        }
        md << fmt::format("\nRounds without a new leader or takeover: {}. ", total_missed);
        if (o.elector_kills > 0) {
            md << fmt::format("Workload transitions caused by {} elector replica restarts: {} (workload Lease holder "
                              "or leaseTransitions changed: {}; leader label or term changes on workload pods: {}). ",
                              ha.rounds.size(), ha.caused(), ha.lease_changes, ha.label_changes);
        } else {
            md << "The elector HA phase did not run. ";
        }
        if (o.rollouts > 0) md << fmt::format("Rollout Lease transitions: {}. ", fmt::join(per_rollout, ", "));
        if (!stable_line.empty()) md << "elector " << stable_line << ".";
        md << "\n\nTargets:\n\n";
        for (const auto& t : targets) {
            md << fmt::format("- {}: {}\n", t.text, !t.met ? "not measured" : *t.met ? "met" : "NOT met");
        }
        say("markdown section written to {}\n", o.markdown);
    }

    if (!violations.empty()) return 1;
    bool failed = total_missed > 0 || rollouts.bad > 0 || ha.caused() != 0;
    // A round that did not run as planned (an abort) is a failure too.
    if (planned[k_deletion] != o.deletions || planned[k_crash] != o.crashes ||
        planned[k_notready_immediate] != o.notready || planned[k_notready_wait] != o.notready ||
        planned[k_elector_term] + planned[k_elector_kill] != 2 * o.elector_kills ||
        planned[k_clientgo_kill] + planned[k_clientgo_term] != 2 * o.clientgo) {
        say("some rounds did not run\n");
        failed = true;
    }
    return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    try {
        return run_bench(o);
    } catch (const std::exception& e) {
        fmt::print(stderr, "failover_bench: {}\n", e.what());
        return 2;
    }
}
