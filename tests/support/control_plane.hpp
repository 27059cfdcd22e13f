#pragma once

#include <chrono>
#include <cstdint>
#include <thread>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.hpp"

namespace elector::testing {

// Client for the node simulator's control API (tests/env/nodesim.py).
// Each call returns the simulator's answer, including for writes
// `resourceVersion` and `ackMonotonic` (CLOCK_MONOTONIC seconds at which the
// API server acknowledged the write); a refusal throws with its message.
class node_simulator {
public:
    explicit node_simulator(std::string url) : url_(std::move(url)) {}
    nlohmann::json not_ready(const std::string& ns, const std::string& pod) const;
    nlohmann::json ready(const std::string& ns, const std::string& pod) const;
    nlohmann::json crash(const std::string& ns, const std::string& pod, double backoff_seconds,
                         const std::string& container = "") const;
    nlohmann::json freeze(const std::string& node) const;
    nlohmann::json thaw(const std::string& node) const;

private:
    nlohmann::json post(const std::string& path) const;
    std::string url_;
};

struct control_plane_options {
    int nodes = 3;
    double pod_grace_seconds = 1.0;
    pid_t owner_pid = 0;  // 0: this process; the environment goes down when the owner exits
    bool watch_cache = true;  // false: kube-apiserver serves watches straight from etcd
};

// One local Kubernetes control plane started by tests/env/up: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and the node
// simulator on 127.0.0.1. The destructor stops it (tests/env/down); if this
// process dies first, the environment's watchdog does.
class control_plane {
public:
    explicit control_plane(control_plane_options options = {});
    ~control_plane();
    control_plane(const control_plane&) = delete;
    control_plane& operator=(const control_plane&) = delete;

    [[nodiscard]] const nlohmann::json& info() const { return info_; }  // env.json
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& dir() const { return dir_; }
    [[nodiscard]] std::string kubeconfig() const { return info_.at("kubeconfig"); }
    [[nodiscard]] std::vector<std::string> node_names() const;
    // pid of "etcd", "apiserver", "controller_manager", "scheduler", "node_simulator".
    [[nodiscard]] pid_t pid(const std::string& component) const;
    [[nodiscard]] const node_simulator& sim() const { return sim_; }

    // kubectl (the one built for this control plane) against this cluster.
    run_result kubectl(const std::vector<std::string>& args, const run_options& options = {}) const;
    // kubectl ARGS -o json, parsed; throws with kubectl's stderr if it fails.
    nlohmann::json get_json(const std::vector<std::string>& args) const;
    // kubectl apply -f - with the given manifest; throws if it fails.
    void apply(const std::string& manifest, const std::string& ns = "") const;

    // Faults on purpose, through tests/env/ctl; each throws with the script's
    // output if it fails. COMPONENT: "etcd", "apiserver", "controller-manager",
    // "scheduler", "node-simulator" (or as pid() spells them).
    // SIGTERM (SIGKILL after 10 s), start again, wait until ready; info() and
    // sim() follow the new pid and simulator port.
    void restart(const std::string& component);
    void stop(const std::string& component) const;  // SIGSTOP: keeps its sockets, answers nothing
    void cont(const std::string& component) const;  // SIGCONT
    void kill(const std::string& component) const;  // SIGKILL, returns once it is gone
    void start(const std::string& component);       // after kill(): as restart() without the SIGTERM
    // Compacts etcd at its current revision (physically); returns that revision.
    std::int64_t compact_etcd() const;

    // Stops the environment; idempotent. On a failed test, the last lines of
    // every component log are printed first.
    void down();

private:
    std::string ctl(const std::vector<std::string>& args) const;  // tests/env/ctl DIR ARGS; stdout
    void reload_info();

    std::string name_;
    std::string dir_;
    nlohmann::json info_;
    node_simulator sim_{""};
    bool up_ = false;
};

// Where the repository is (compiled in; ELECTOR_SOURCE_DIR overrides).
std::string source_dir();
// The elector binary under test ($ELECTOR_BINARY, set by ctest), else `elector` from PATH.
std::string elector_binary();
// A file's whole text; "" if it cannot be read (a log not written yet).
std::string read_text(const std::string& path);
// The first line of every sanitizer report (ASan, LSan, TSan, UBSan's
// "runtime error:") in a process's log; empty if none or no such file.
std::vector<std::string> sanitizer_reports(const std::string& log_path);

// Time a test allows for elector's own work (never a protocol's timing it is
// added to, such as a lease duration): `seconds` as tuned on CI's ASan build
// on 2 cores, times ELECTOR_TEST_SLOWDOWN if set, else times 4 in a
// ThreadSanitizer build (5-15x slower than plain; ASan about 2x).
double allowance(double seconds);

// A TCP port that was free on 127.0.0.1 a moment ago (0 if none could be bound).
int free_port();
// Seconds on the steady clock since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

// Polls `probe` until it returns true or `timeout` passes; returns whether it did.
template <class Probe>
bool eventually(std::chrono::milliseconds timeout, Probe&& probe,
                std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (probe()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(every);
    }
}

}  // namespace elector::testing
