#include "elector_replicas.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include "bench_support.hpp"

namespace elector::bench {

using namespace std::chrono_literals;

void start_process(process_slot& p, const std::string& dir, const std::vector<std::string>& argv,
                   const std::vector<std::string>& extra_env) {
    p.proc.reset();
    p.log = fmt::format("{}/{}-{}.log", dir, p.id, ++p.starts);
    p.logs.push_back(p.log);
    p.proc = std::make_unique<testing::child_process>(argv, p.log, p.log, extra_env);
}

std::string wait_exit(process_slot& p, std::chrono::milliseconds timeout) {
    auto status = p.proc->wait(timeout);
    if (!status) return "still running";
    if (WIFEXITED(*status)) return fmt::format("exit {}", WEXITSTATUS(*status));
    if (WIFSIGNALED(*status)) return fmt::format("signal {}", WTERMSIG(*status));
    return "exited";
}

void elector_replicas::start(const std::string& id) {
    auto& p = slots[id];
    p.id = id;
    start_process(p, log_dir,
                  {binary, "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace=" + lease_ns,
                   "--leader-election-id=" + lease_name, "--leader-api-bind-address=127.0.0.1:0",
                   "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0",
                   // No webhook: two replicas would compete for its port.
                   "--webhook-cert-dir=" + log_dir + "/no-webhook-certs"},
                  {"POD_NAME=" + id});
}

std::string elector_replicas::readyz(const std::string& id) const {
    const auto r = http_get(announced_port(slots.at(id).log, "health probes"), "/readyz");
    return r ? fmt::format("{} {}", r->status, r->body) : "";
}

bool elector_replicas::settled(const object_watch& lease, std::string& why) const {
    const std::string holder = holder_of(lease, lease_name);
    if (!slots.contains(holder)) {
        why = "elector's Lease names '" + holder + "'";
        return false;
    }
    for (const auto& id : ids) {
        const std::string r = readyz(id);
        const std::string want = id == holder ? "leading" : "standby";
        if (!r.starts_with("200") || r.find(want) == std::string::npos) {
            why = fmt::format("{} /readyz: '{}' (want 200 {})", id, r, want);
            return false;
        }
    }
    return true;
}

std::vector<std::string> elector_replicas::all_logs() const {
    std::vector<std::string> out;
    for (const auto& [id, p] : slots) out.insert(out.end(), p.logs.begin(), p.logs.end());
    return out;
}

std::vector<std::string> elector_replicas::stop_all() {
    std::vector<std::string> killed;
    for (auto& [id, p] : slots) p.proc->signal(SIGTERM);
    for (auto& [id, p] : slots) {
        if (wait_exit(p, 15s) == "still running") {
            killed.push_back(fmt::format("elector {} did not stop within 15 s of SIGTERM", id));
            p.proc->signal(SIGKILL);
            p.proc->wait(5s);
        }
    }
    return killed;
}

}  // namespace elector::bench
