// Metrics registry figures: the cost of an increment through a kept handle
// (one thread; 8 threads on one series; 8 threads on distinct series) and of
// expose() for a registry shaped like elector's with 1,000 groups. Prints
// figures; asserts nothing. Build in Release.
//
//   build/release/tests/metrics_bench [increments per thread]   (default 20,000,000)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "metrics/registry.hpp"

namespace {

using namespace elector;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

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

void exposition() {
    metrics::registry reg;
    auto& transitions = reg.counter("elector_transitions_total", "Leader changes by reason.",
                                    {"namespace", "group", "reason"});
    const char* gauge_names[] = {"elector_group_leader_present", "elector_group_candidates",
                                 "elector_group_ready_candidates", "elector_group_term",
                                 "elector_group_last_transition_timestamp_seconds"};
    std::vector<metrics::gauge_family*> gauges;
    for (const char* name : gauge_names) gauges.push_back(&reg.gauge(name, "A per-group gauge.", {"namespace", "group"}));
    auto latency = reg.histogram("elector_reconcile_duration_seconds", "Reconcile latency.", {},
                                 {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5})
                       .with({});
    const char* reasons[] = {"initial",      "lease_expired", "leader_not_ready", "leader_deleted",
                             "manual",       "preempted",     "node_lost",        "group_changed"};
    for (int g = 0; g < 1000; ++g) {
        const std::string ns = fmt::format("team-{:02}", g % 37);
        const std::string group = fmt::format("app-{:04}", g);
        for (int r = 0; r < 8; ++r) transitions.with({ns, group, reasons[r]})->inc(g * 8 + r);
        for (std::size_t i = 0; i < gauges.size(); ++i) {
            gauges[i]->with({ns, group})->set(i == 4 ? 1.7e9 + g * 0.123 : static_cast<double>(g % 5));
        }
        latency->observe(g * 1e-4);
    }

    {
        constexpr int lookups = 1'000'000;
        const auto start = clock_type::now();
        for (int i = 0; i < lookups; ++i) {
            const long g = (i * 7919L) % 1000;
            const std::string ns = fmt::format("team-{:02}", g % 37);
            const std::string group = fmt::format("app-{:04}", g);
            transitions.with({ns, group, reasons[i % 8]})->inc();
        }
        fmt::print("with() of an existing series among 8,000 (+ building its 2 label strings): {:.0f} ns\n",
                   seconds_since(start) * 1e9 / lookups);
    }
    for (auto format : {metrics::exposition_format::prometheus_text, metrics::exposition_format::openmetrics}) {
        std::vector<double> ms;
        std::size_t bytes = 0;
        for (int i = 0; i < 30; ++i) {
            const auto start = clock_type::now();
            const std::string body = reg.expose(format);
            ms.push_back(seconds_since(start) * 1e3);
            bytes = body.size();
        }
        std::sort(ms.begin(), ms.end());
        fmt::print("expose {:11} 1,000 groups (8,000 counter + 5,000 gauge series + 1 histogram): "
                   "median {:.2f} ms, min {:.2f} ms, {} bytes ({:.1f} MB/s)\n",
                   format == metrics::exposition_format::openmetrics ? "openmetrics" : "text 0.0.4",
                   ms[ms.size() / 2], ms.front(), bytes, static_cast<double>(bytes) / ms[ms.size() / 2] / 1e3);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20'000'000;
    fmt::print("hardware threads: {}\n", std::thread::hardware_concurrency());
    increments(n);
    exposition();
}
