// Metrics figures: the cost of an increment through a kept handle (one
// thread; 8 threads on one series; 8 threads on distinct series), and the
// size and time of a scrape of elector's registry at 100, 1,000 and 5,000
// groups (expose() alone, and a whole HTTP GET through elector's server).
// Prints figures; asserts nothing. Build in Release.
//
//   build/release/tests/metrics_bench [increments per thread]   (default 20,000,000)
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <httplib.h>

#include "config/options.hpp"
#include "controller/group_metrics.hpp"
#include "http/server.hpp"
#include "kube/client_metrics.hpp"
#include "kube/work_queue.hpp"
#include "metrics/process.hpp"
#include "metrics/registry.hpp"

namespace {

using namespace elector;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Bytes the allocator has handed out and not got back (glibc mallinfo2).
double heap_in_use() { return static_cast<double>(mallinfo2().uordblks); }

// Runs body(thread index) on `threads` threads released together; returns
// the wall time from release to the last one finishing.
template <class Body>
double run_threads(int threads, Body body) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            body(t);
        });
    }
    while (ready.load() != threads) std::this_thread::yield();
    const auto start = clock_type::now();
    go.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    return seconds_since(start);
}

void increments(long n) {
    metrics::registry reg;
    auto& family = reg.counter("bench_total", "h", {"series"});
    auto one = family.with({"one"});

    auto start = clock_type::now();
    for (long i = 0; i < n; ++i) one->inc();
    double s = seconds_since(start);
    fmt::print("counter inc, 1 thread:                 {:7.2f} ns/inc\n", s * 1e9 / static_cast<double>(n));

    auto g = reg.gauge("bench_gauge", "h").with({});
    start = clock_type::now();
    for (long i = 0; i < n; ++i) g->set(static_cast<double>(i));
    s = seconds_since(start);
    fmt::print("gauge set, 1 thread:                   {:7.2f} ns/op\n", s * 1e9 / static_cast<double>(n));

    auto h = reg.histogram("bench_seconds", "h", {}, {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}).with({});
    start = clock_type::now();
    for (long i = 0; i < n; ++i) h->observe(static_cast<double>(i % 4000) / 100.0);
    s = seconds_since(start);
    fmt::print("histogram observe (12 buckets), 1 thr: {:7.2f} ns/op\n", s * 1e9 / static_cast<double>(n));

    constexpr int threads = 8;
    const double total = static_cast<double>(n) * threads;
    auto shared = family.with({"shared"});
    s = run_threads(threads, [&](int) {
        for (long i = 0; i < n; ++i) shared->inc();
    });
    fmt::print("counter inc, 8 threads, one series:    {:7.2f} ns/inc wall (throughput), {:7.2f} ns/inc per thread; "
               "sum {} (expected {})\n",
               s * 1e9 / total, s * 1e9 * threads / total, shared->value(), total);

    std::vector<std::shared_ptr<metrics::counter>> own;
    for (int t = 0; t < threads; ++t) own.push_back(family.with({std::to_string(t)}));
    s = run_threads(threads, [&](int t) {
        metrics::counter& c = *own[static_cast<std::size_t>(t)];
        for (long i = 0; i < n; ++i) c.inc();
    });
    fmt::print("counter inc, 8 threads, own series:    {:7.2f} ns/inc wall (throughput), {:7.2f} ns/inc per thread\n",
               s * 1e9 / total, s * 1e9 * threads / total);
}

// elector's own registry at GROUPS groups of 3 pods: process metrics, the
// API client's and work queue's series, and every group's series as the
// controller writes them (one initial election and one crash failover per
// group), served by elector's HTTP server and scraped over loopback.
void exposition(int groups) {
    metrics::registry reg;
    metrics::add_process_metrics(reg);
    const auto observer = kube::client_metrics(reg);
    for (const char* verb : {"get", "list", "watch", "create", "update", "patch", "delete"}) {
        observer.request(verb, 200, std::chrono::milliseconds(2));
    }
    observer.relisted("pods");
    observer.watch_restarted("pods");
    kube::work_queue queue;
    controller::group_metrics m(reg, queue);
    malloc_trim(0);
    const double heap_before = heap_in_use();
    for (int g = 0; g < groups; ++g) {
        const std::string ns = fmt::format("team-{:02}", g % 37);
        const std::string group = fmt::format("app-{:04}", g);
        election::plan p;
        p.leader = group + "-7c9d5b6f4-a1b2c";
        p.status.leader = p.leader;
        p.status.term = 2;
        p.status.candidates_ready = 3;
        p.status.candidates_total = 3;
        p.status.conditions.push_back({.type = "LeaderElected", .status = "True", .reason = "Elected"});
        m.observe(ns, group, "", p);
        m.transition(ns, group, {.to = p.leader, .term = 1, .reason = "Elected"}, 0);
        m.transition(ns, group, {.to = p.leader, .term = 2, .reason = "LeaderCrashed"}, 0.012);
        m.reconciled(0.002, true);
    }
    fmt::print("{} groups: {:.0f} bytes of heap per group for its 18 series\n", groups,
               (heap_in_use() - heap_before) / groups);

    {
        // What the controller pays per transition: group_metrics::transition
        // (reason label, series lookup among all groups', increment,
        // histogram observation).
        constexpr int calls = 1'000'000;
        std::vector<std::pair<std::string, std::string>> keys;
        for (int g = 0; g < groups; ++g) keys.emplace_back(fmt::format("team-{:02}", g % 37), fmt::format("app-{:04}", g));
        const election::transition t{.to = "x", .term = 3, .reason = "LeaderDeleted"};
        const auto start = clock_type::now();
        for (int i = 0; i < calls; ++i) {
            const auto& [ns, group] = keys[static_cast<std::size_t>((i * 7919L) % groups)];
            m.transition(ns, group, t, 0.015);
        }
        fmt::print("{} groups: group_metrics::transition (lookup among {} transition series): {:.0f} ns\n", groups,
                   groups * 12, seconds_since(start) * 1e9 / calls);
    }
    http::server server("metrics");
    server.get("/metrics", [&reg](const http::request& r) {
        const auto n = metrics::negotiate(r.header("Accept").value_or(""));
        return http::response{.status = 200, .content_type = std::string(n.content_type), .body = reg.expose(n.format)};
    });
    const auto port = server.start(config::bind_address{.host = "127.0.0.1", .port = 0});
    if (!port) {
        fmt::print("cannot serve: {}\n", port.error());
        return;
    }
    for (auto format : {metrics::exposition_format::prometheus_text, metrics::exposition_format::openmetrics}) {
        const bool om = format == metrics::exposition_format::openmetrics;
        std::vector<double> expose_ms, scrape_ms;
        std::size_t bytes = 0;
        std::size_t lines = 0;
        httplib::Client client("127.0.0.1", *port);
        for (int i = 0; i < 30; ++i) {
            auto start = clock_type::now();
            const std::string body = reg.expose(format);
            expose_ms.push_back(seconds_since(start) * 1e3);
            bytes = body.size();
            lines = static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n'));
            start = clock_type::now();
            auto r = client.Get("/metrics", {{"Accept", om ? "application/openmetrics-text;version=1.0.0" : "text/plain"}});
            scrape_ms.push_back(seconds_since(start) * 1e3);
            if (!r || r->status != 200) {
                fmt::print("scrape failed\n");
                return;
            }
        }
        std::sort(expose_ms.begin(), expose_ms.end());
        std::sort(scrape_ms.begin(), scrape_ms.end());
        fmt::print("{:11} {} groups: {} bytes, {} lines; expose() median {:.2f} ms (min {:.2f}); "
                   "HTTP scrape over loopback median {:.2f} ms (p90 {:.2f})\n",
                   om ? "openmetrics" : "text 0.0.4", groups, bytes, lines, expose_ms[expose_ms.size() / 2],
                   expose_ms.front(), scrape_ms[scrape_ms.size() / 2], scrape_ms[scrape_ms.size() * 9 / 10]);
    }
    server.stop();
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20'000'000;
    fmt::print("hardware threads: {}\n", std::thread::hardware_concurrency());
    increments(n);
    for (int groups : {100, 1000, 5000}) exposition(groups);
}
