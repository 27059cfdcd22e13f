#include "control_plane.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <httplib.h>

namespace elector::testing {

namespace {

nlohmann::json read_env_json(const std::string& dir) {
    const std::string text = read_text(dir + "/env.json");
    if (text.empty()) throw std::runtime_error("cannot read " + dir + "/env.json");
    return nlohmann::json::parse(text);
}

std::string env_script(const std::string& name) { return source_dir() + "/tests/env/" + name; }

std::string last_line(const std::string& text) {
    auto end = text.find_last_not_of('\n');
    if (end == std::string::npos) return "";
    auto start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    int port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port = ntohs(address.sin_port);
    }
    ::close(fd);
    return port;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> sanitizer_reports(const std::string& log_path) {
    std::vector<std::string> reports;
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);) {
        for (std::string_view marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                                        "ERROR: ThreadSanitizer", "runtime error:"}) {
            if (line.find(marker) != std::string::npos) {
                reports.push_back(line);
                break;
            }
        }
    }
    return reports;
}

double allowance(double seconds) {
    if (const char* s = std::getenv("ELECTOR_TEST_SLOWDOWN"); s != nullptr && *s != '\0') {
        char* end = nullptr;
        const double factor = std::strtod(s, &end);
        if (end != s && *end == '\0' && factor >= 1.0) return seconds * factor;
        throw std::invalid_argument(fmt::format("ELECTOR_TEST_SLOWDOWN={}: want a factor >= 1", s));
    }
#if defined(__SANITIZE_THREAD__)
    return seconds * 4;
#else
    return seconds;
#endif
}

std::string elector_binary() {
    const char* b = std::getenv("ELECTOR_BINARY");
    return b != nullptr && *b != '\0' ? b : "elector";
}

std::string source_dir() {
    if (const char* d = std::getenv("ELECTOR_SOURCE_DIR"); d != nullptr && *d != '\0') return d;
    return ELECTOR_DEFAULT_SOURCE_DIR;
}

nlohmann::json node_simulator::post(const std::string& path) const {
    httplib::Client client(url_);
    client.set_connection_timeout(5);
    client.set_read_timeout(30);
    auto res = client.Post(path);
    if (!res) throw std::runtime_error(fmt::format("node simulator {}{}: {}", url_, path, httplib::to_string(res.error())));
    auto body = nlohmann::json::parse(res->body, nullptr, false);
    if (res->status != 200) {
        throw std::runtime_error(fmt::format("node simulator {} answered {}: {}", path, res->status, res->body));
    }
    return body;
}

nlohmann::json node_simulator::not_ready(const std::string& ns, const std::string& pod) const {
    return post(fmt::format("/pods/{}/{}/notready", ns, pod));
}
nlohmann::json node_simulator::ready(const std::string& ns, const std::string& pod) const {
    return post(fmt::format("/pods/{}/{}/ready", ns, pod));
}
nlohmann::json node_simulator::crash(const std::string& ns, const std::string& pod, double backoff_seconds,
                                     const std::string& container) const {
    std::string path = fmt::format("/pods/{}/{}/crash?backoff={}", ns, pod, backoff_seconds);
    if (!container.empty()) path += "&container=" + container;
    return post(path);
}
nlohmann::json node_simulator::freeze(const std::string& node) const { return post("/nodes/" + node + "/freeze"); }
nlohmann::json node_simulator::thaw(const std::string& node) const { return post("/nodes/" + node + "/thaw"); }

control_plane::control_plane(control_plane_options options) {
    static std::atomic<int> counter{0};
    name_ = fmt::format("t{}-{}", getpid(), counter++);
    const pid_t owner = options.owner_pid != 0 ? options.owner_pid : getpid();
    auto r = run({env_script("up"), "--name", name_, "--nodes", std::to_string(options.nodes), "--owner-pid",
                  std::to_string(owner), "--pod-grace", fmt::format("{}", options.pod_grace_seconds),
                  "--watch-cache", options.watch_cache ? "true" : "false"},
                 {.timeout = std::chrono::minutes(4)});
    if (!r.ok()) throw std::runtime_error("tests/env/up failed: " + r.describe());
    dir_ = last_line(r.out);
    reload_info();
    up_ = true;
}

void control_plane::reload_info() {
    info_ = read_env_json(dir_);
    sim_ = node_simulator(info_.at("simulator_url").get<std::string>());
}

std::string control_plane::ctl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{env_script("ctl"), dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, {.timeout = std::chrono::minutes(2)});
    if (!r.ok()) throw std::runtime_error(fmt::format("tests/env/ctl {}: {}", fmt::join(args, " "), r.describe()));
    return r.out;
}

void control_plane::restart(const std::string& component) {
    ctl({"restart", component});
    reload_info();
}
void control_plane::stop(const std::string& component) const { ctl({"stop", component}); }
void control_plane::cont(const std::string& component) const { ctl({"cont", component}); }
void control_plane::kill(const std::string& component) const { ctl({"kill", component}); }
void control_plane::start(const std::string& component) {
    ctl({"start", component});
    reload_info();
}

std::int64_t control_plane::compact_etcd() const { return std::stoll(last_line(ctl({"compact"}))); }

control_plane::~control_plane() {
    try {
        down();
    } catch (const std::exception& e) {
        fmt::print(stderr, "control_plane: {}\n", e.what());
    }
}

void control_plane::down() {
    if (!up_) return;
    up_ = false;
    const auto* test = ::testing::UnitTest::GetInstance();
    if (test != nullptr && test->Failed()) {
        for (const char* component : {"apiserver", "controller-manager", "scheduler", "node-simulator", "etcd"}) {
            auto tail = run({"tail", "-n", "25", fmt::format("{}/logs/{}.log", dir_, component)});
            fmt::print(stderr, "--- last lines of {} ({}):\n{}\n", component, name_, tail.out);
        }
    }
    auto r = run({env_script("down"), dir_}, {.timeout = std::chrono::seconds(60)});
    if (!r.ok()) throw std::runtime_error("tests/env/down failed: " + r.describe());
}

std::vector<std::string> control_plane::node_names() const {
    std::vector<std::string> names;
    for (int i = 0; i < info_.at("nodes").get<int>(); ++i) {
        names.push_back(fmt::format("{}{}", info_.at("node_prefix").get<std::string>(), i));
    }
    return names;
}

pid_t control_plane::pid(const std::string& component) const { return info_.at("pids").at(component).get<pid_t>(); }

run_result control_plane::kubectl(const std::vector<std::string>& args, const run_options& options) const {
    std::vector<std::string> argv{info_.at("kubectl").get<std::string>(), "--kubeconfig", kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, options);
}

nlohmann::json control_plane::get_json(const std::vector<std::string>& args) const {
    auto with_output = args;
    with_output.insert(with_output.end(), {"-o", "json"});
    auto r = kubectl(with_output);
    if (!r.ok()) throw std::runtime_error(fmt::format("kubectl {}: {}", fmt::join(args, " "), r.describe()));
    return nlohmann::json::parse(r.out);
}

void control_plane::apply(const std::string& manifest, const std::string& ns) const {
    std::vector<std::string> args{"apply", "-f", "-"};
    if (!ns.empty()) args.insert(args.end(), {"-n", ns});
    auto r = kubectl(args, {.input = manifest});
    if (!r.ok()) throw std::runtime_error("kubectl apply: " + r.describe());
}

}  // namespace elector::testing
