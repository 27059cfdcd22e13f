#include "bench_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>

#include "control_plane.hpp"
#include "kube/cluster_config.hpp"

namespace elector::bench {

using nlohmann::json;

void usage_error(const flag_spec& spec, const std::string& problem) {
    fmt::print(stderr, "{}: {}\n{}", spec.program, problem, spec.usage);
    std::exit(2);
}

void parse_flags(int argc, char** argv, const flag_spec& spec,
                 const std::function<bool(const std::string& name, const std::string& value)>& on_flag) {
    for (int i = 1; i < argc; ++i) {
        std::string name = argv[i];
        std::string value;
        if (spec.help && (name == "--help" || name == "-h")) {
            fmt::print("{}", spec.usage);
            std::exit(0);
        }
        if (!spec.switches.contains(name)) {
            if (auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (name.starts_with("--")) {
                if (i + 1 >= argc) usage_error(spec, name + " needs a value");
                value = argv[++i];
            } else {
                usage_error(spec, "unexpected argument " + name);
            }
            if (spec.switches.contains(name)) usage_error(spec, name + " takes no value");
        }
        bool known = false;
        try {
            known = on_flag(name, value);
        } catch (const std::logic_error&) {
            usage_error(spec, "bad value for " + name + ": " + value);
        }
        if (!known) usage_error(spec, "unknown flag " + name);
    }
}

std::string default_elector(const char* built) {
    const char* e = std::getenv("ELECTOR_BINARY");
    return e != nullptr && *e != '\0' ? e : built;
}

std::string string_at(const json& object, const char* key) {
    if (!object.is_object()) return "";
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& object, const char* key) {
    static const json empty = json::object();
    if (!object.is_object()) return empty;
    auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

bool pod_ready(const json& pod) {
    if (member(pod, "metadata").contains("deletionTimestamp")) return false;
    const json& status = member(pod, "status");
    auto conditions = status.find("conditions");
    if (conditions == status.end() || !conditions->is_array()) return false;
    for (const auto& c : *conditions) {
        if (c.is_object() && string_at(c, "type") == "Ready") return string_at(c, "status") == "True";
    }
    return false;
}

summary summarize(std::vector<double> v) {
    summary s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
        return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
    };
    s.p50 = at(0.50);
    s.p95 = at(0.95);
    s.p99 = at(0.99);
    s.max = v.back();
    s.min = v.front();
    return s;
}

void pause(const std::stop_token& stop, std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string load_average() {
    std::string text = testing::read_text("/proc/loadavg");
    return text.substr(0, text.find(' '));
}

std::shared_ptr<kube::transport> make_transport(const std::string& kubeconfig, const std::string& user_agent,
                                                std::chrono::milliseconds timeout) {
    auto config = kube::resolve_cluster_config(kubeconfig, "");
    if (!config) throw std::runtime_error(config.error());
    auto t = kube::transport::create(*config,
                                     {.qps = 10000, .burst = 10000, .timeout = timeout, .user_agent = user_agent});
    if (!t) throw std::runtime_error(t.error());
    return std::move(*t);
}

kube::client make_client(const std::string& kubeconfig, const std::string& user_agent,
                         std::chrono::milliseconds timeout) {
    return kube::client(make_transport(kubeconfig, user_agent, timeout));
}

std::string relative_to_repo(const std::string& path) {
    std::error_code ec;
    const auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
    if (ec) return path;
    const auto root = std::filesystem::weakly_canonical(testing::source_dir(), ec);
    if (ec) return path;
    const std::string a = abs.string(), r = root.string() + "/";
    return a.starts_with(r) ? a.substr(r.size()) : path;
}

std::string shell_quote(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
                          std::string::npos) {
        return s;
    }
    std::string out = "'";
    for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < argv.size(); ++i) parts.push_back(shell_quote(i == 0 ? relative_to_repo(argv[i]) : argv[i]));
    return fmt::format("{}", fmt::join(parts, " "));
}

int announced_port(const std::string& log_path, const std::string& server) {
    const std::string text = testing::read_text(log_path);
    const std::string marker = "serving the " + server + " on 127.0.0.1:";
    const auto at = text.find(marker);
    return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + marker.size());
}

std::optional<http_answer> http_get(int port, const std::string& path, std::chrono::seconds read_timeout) {
    if (port == 0) return std::nullopt;
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    client.set_read_timeout(static_cast<time_t>(read_timeout.count()));
    auto r = client.Get(path.c_str());
    if (!r) return std::nullopt;
    return http_answer{r->status, r->body};
}

}  // namespace elector::bench
