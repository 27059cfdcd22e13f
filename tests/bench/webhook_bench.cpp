// Admission review latency over TLS: elector's webhook routes on its HTTP
// server with a TLS certificate (made here with the openssl CLI), and a
// client sending AdmissionReview v1 requests for an ElectionGroup at a fixed
// rate (open loop: each request is sent at its scheduled time, so a slow
// answer does not slow the schedule down). Reported per mode: one kept
// connection (as the API server keeps its connections to a webhook) and a
// new TLS connection per review. Prints figures; asserts nothing. Release.
//
//   build/bench/tests/webhook_bench [rate per second] [seconds]   (default 200, 10)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "webhook/serve.hpp"

namespace {

using namespace elector;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// A CA and a serving certificate for 127.0.0.1 in `dir`.
bool make_certificates(const fs::path& dir) {
    const std::string d = dir.string();
    return sh(fmt::format("cd {} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 "
                          "-subj /CN=bench-ca 2>/dev/null",
                          d)) &&
           sh(fmt::format("cd {} && openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 "
                          "2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in "
                          "tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 1 -extfile san.ext "
                          "2>/dev/null",
                          d));
}

std::string review(int i) {
    const nlohmann::json group{
        {"apiVersion", "elector.dev/v1alpha1"},
        {"kind", "ElectionGroup"},
        {"metadata", {{"name", fmt::format("g-{}", i)}, {"namespace", "bench"}}},
        {"spec",
         {{"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
          {"leaseDuration", "15s"},
          {"renewDeadline", "10s"},
          {"retryPeriod", "2s"},
          {"leaderLabel", {{"key", "role"}, {"value", "leader"}}}}}};
    const nlohmann::json r{{"apiVersion", "admission.k8s.io/v1"},
                           {"kind", "AdmissionReview"},
                           {"request",
                            {{"uid", fmt::format("00000000-0000-0000-0000-{:012}", i)},
                             {"kind", {{"group", "elector.dev"}, {"version", "v1alpha1"}, {"kind", "ElectionGroup"}}},
                             {"resource", {{"group", "elector.dev"}, {"version", "v1alpha1"}, {"resource", "electiongroups"}}},
                             {"namespace", "bench"},
                             {"name", fmt::format("g-{}", i)},
                             {"operation", "CREATE"},
                             {"userInfo", {{"username", "bench"}}},
                             {"object", group},
                             {"dryRun", false}}}};
    return r.dump();
}

struct summary {
    std::vector<double> ms;
    int failed = 0;
};

double quantile(std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// Sends `rate` reviews a second for `seconds` on `threads` client threads
// (each its own connection when keep_alive), each at its scheduled time.
summary run(int port, const fs::path& ca, bool keep_alive, int rate, int seconds) {
    constexpr int threads = 4;
    const int total = rate * seconds;
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    const auto start = clock_type::now() + std::chrono::milliseconds(100);
    std::vector<summary> parts(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::unique_ptr<httplib::SSLClient> client;
            for (int i = t; i < total; i += threads) {
                if (!client || !keep_alive) {
                    client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
                    client->set_ca_cert_path(ca.c_str());
                    client->enable_server_certificate_verification(true);
                    client->set_keep_alive(keep_alive);
                    client->set_tcp_nodelay(true);  // as Go's client (the API server) does
                }
                const auto due = start + std::chrono::duration_cast<clock_type::duration>(interval * i);
                std::this_thread::sleep_until(due);
                const std::string body = review(i);
                auto r = client->Post(std::string(webhook::validate_path), body, "application/json");
                const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - due).count();
                if (!r || r->status != 200 || r->body.find("\"allowed\":true") == std::string::npos) {
                    ++parts[static_cast<std::size_t>(t)].failed;
                    client.reset();
                } else {
                    parts[static_cast<std::size_t>(t)].ms.push_back(ms);
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    summary all;
    for (auto& p : parts) {
        all.ms.insert(all.ms.end(), p.ms.begin(), p.ms.end());
        all.failed += p.failed;
    }
    return all;
}

}  // namespace

int main(int argc, char** argv) {
    const int rate = argc > 1 ? std::atoi(argv[1]) : 200;
    const int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
    const fs::path dir = fs::temp_directory_path() / fmt::format("elector-webhook-bench-{}", ::getpid());
    fs::create_directories(dir);
    if (!make_certificates(dir)) {
        fmt::print(stderr, "webhook_bench: openssl could not make the certificates in {}\n", dir.string());
        return 1;
    }
    metrics::registry registry;
    http::server server("webhook", webhook::server_options(dir.string()));  // as elector serves it
    webhook::add_routes(
        server, [](const std::string&, const std::string&, const std::string&) { return webhook::cluster_view{}; },
        registry);
    const auto port = server.start(config::bind_address{.host = "127.0.0.1", .port = 0});
    if (!port) {
        fmt::print(stderr, "webhook_bench: {}\n", port.error());
        return 1;
    }
    fmt::print("validating reviews over TLS, {} per second for {} s, measured from each request's scheduled time\n",
               rate, seconds);
    for (bool keep_alive : {true, false}) {
        auto s = run(*port, dir / "ca.crt", keep_alive, rate, seconds);
        const std::size_t n = s.ms.size();
        const double p50 = quantile(s.ms, 0.50);
        const double p99 = quantile(s.ms, 0.99);
        const double max = s.ms.empty() ? 0 : s.ms.back();
        fmt::print("{:36} {} reviews, {} failed: p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
                   keep_alive ? "kept connections (4):" : "new TLS connection per review:", n, s.failed, p50, p99,
                   max);
    }
    server.stop();
    fs::remove_all(dir);
    return 0;
}
