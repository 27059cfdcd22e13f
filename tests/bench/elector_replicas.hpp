#pragma once

// Processes the benchmarks and the chaos soak start and signal on purpose:
// elector replicas with --leader-elect and client-go peers, one log file per
// start (moved here from failover_bench, shared with tests/chaos/chaos_soak).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "object_watch.hpp"
#include "process.hpp"

namespace elector::bench {

// One process identity, started again under the same id after it stopped.
struct process_slot {
    std::string id;
    std::unique_ptr<testing::child_process> proc;
    std::string log;                // the current start's log
    int starts = 0;
    std::vector<std::string> logs;  // every start's log
};

// (Re)starts the slot's process with stdout and stderr in DIR/ID-N.log (N: the start's number).
void start_process(process_slot& p, const std::string& dir, const std::vector<std::string>& argv,
                   const std::vector<std::string>& extra_env);

// Waits for exit (after a signal); "exit N", "signal N" or "still running".
std::string wait_exit(process_slot& p, std::chrono::milliseconds timeout);

// elector replicas on one control plane: `--leader-elect` on the Lease
// lease_ns/lease_name with elector's default timings, cluster-wide, every
// HTTP server on a free port of 127.0.0.1 (announced in the log), no
// webhook (two replicas would compete for its port), POD_NAME = the id.
struct elector_replicas {
    std::string binary;
    std::string kubeconfig;
    std::string log_dir;
    std::string lease_ns;
    std::string lease_name;
    std::vector<std::string> ids;
    std::map<std::string, process_slot> slots;

    // Starts (or starts again) the replica `id`, with a new log file.
    void start(const std::string& id);
    // GET /readyz of the replica's current process: "200 ... standby" etc. ("" if it does not answer).
    [[nodiscard]] std::string readyz(const std::string& id) const;
    // elector's Lease names one replica, which answers /readyz 200 "leading";
    // every other answers 200 "standby". Else false, with why.
    bool settled(const object_watch& lease, std::string& why) const;
    // Every log file of every start of every replica.
    [[nodiscard]] std::vector<std::string> all_logs() const;
    // SIGTERM to every replica, SIGKILL to one still running 15 s later;
    // returns one line per replica that had to be killed.
    std::vector<std::string> stop_all();
};

}  // namespace elector::bench
