#pragma once

// What the benchmarks that run elector against a local control plane
// (failover_bench, scale_bench) share: their command line, reading API
// objects, percentiles, clients, the reproducing command line of a markdown
// section, and elector's HTTP ports.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.hpp"
#include "kube/transport.hpp"

namespace elector::bench {

// --- command line ---------------------------------------------------------------

// A benchmark's flags: switches (`--smoke`) and flags with a value, given as
// `--name value` or `--name=value`.
struct flag_spec {
    std::string program;             // prefixes every problem: "scale_bench"
    std::string usage;               // "usage: scale_bench [...]\n"
    std::set<std::string> switches;  // flags without a value
    bool help = false;               // --help and -h print the usage on stdout and exit 0
};

// "PROGRAM: PROBLEM\nUSAGE" on stderr, then exit 2.
[[noreturn]] void usage_error(const flag_spec& spec, const std::string& problem);

// Calls on_flag(name, value) for every flag of argv[1..argc), in order (value
// "" for a switch). on_flag returns false for a flag it does not know
// ("unknown flag NAME"); a std::logic_error it throws (std::stod, std::stoi)
// means "bad value for NAME: VALUE". Both, a flag without its value and an
// argument that is not a flag end in usage_error.
void parse_flags(int argc, char** argv, const flag_spec& spec,
                 const std::function<bool(const std::string& name, const std::string& value)>& on_flag);

// The elector binary to run: $ELECTOR_BINARY if set, else `built` (this build's).
std::string default_elector(const char* built);

// --- API objects --------------------------------------------------------------------

// object[key] if it is a string, else "".
std::string string_at(const nlohmann::json& object, const char* key);
// object[key] if it is an object, else an empty object.
const nlohmann::json& member(const nlohmann::json& object, const char* key);
// Condition Ready=True and no deletionTimestamp.
bool pod_ready(const nlohmann::json& pod);

// --- figures -------------------------------------------------------------------------

struct summary {
    std::size_t n = 0;
    double p50 = 0, p95 = 0, p99 = 0, max = 0, min = 0;
};

// Nearest-rank percentiles (all zero for no values).
summary summarize(std::vector<double> v);

// The 1-minute load average: figures on a busy 2-core machine are not those of a quiet one.
// Sleeps `d`, or less if `stop` is requested (checked every 20 ms).
void pause(const std::stop_token& stop, std::chrono::milliseconds d);

std::string load_average();

// --- clients -------------------------------------------------------------------------

// A transport to the control plane of `kubeconfig` without a client-side rate
// limit (10000 qps); throws if it cannot be made.
std::shared_ptr<kube::transport> make_transport(const std::string& kubeconfig, const std::string& user_agent,
                                                std::chrono::milliseconds timeout);
kube::client make_client(const std::string& kubeconfig, const std::string& user_agent,
                         std::chrono::milliseconds timeout);

// --- the reproducing command line ------------------------------------------------------

// `path` relative to the repository root when it lies under it, else as given.
std::string relative_to_repo(const std::string& path);
// `s` as one word of sh: as is when it needs no quotes, else in single quotes.
std::string shell_quote(const std::string& s);
// argv as given, quoted for sh, argv[0] relative to the repository root.
std::string command_line(const std::vector<std::string>& argv);

// --- elector's HTTP ports ----------------------------------------------------------------

// The port a server announced in elector's log (0 if not yet): "serving the SERVER on 127.0.0.1:PORT".
int announced_port(const std::string& log_path, const std::string& server);

struct http_answer {
    int status = 0;
    std::string body;
};

// GET http://127.0.0.1:PORT/PATH; nullopt if port is 0 or nothing answers in time.
std::optional<http_answer> http_get(int port, const std::string& path,
                                    std::chrono::seconds read_timeout = std::chrono::seconds(5));

}  // namespace elector::bench
