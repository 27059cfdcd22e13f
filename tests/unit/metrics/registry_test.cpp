#include "metrics/registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/process.hpp"

namespace elector::metrics {
namespace {

// The small registry the golden strings describe.
void fill_sample(registry& reg) {
    auto& requests = reg.counter("app_requests_total", "Requests handled.", {"method", "code"});
    requests.with({"POST", "500"})->inc();
    requests.with({"GET", "200"})->inc(3);
    reg.gauge("app_temperature_celsius", "Current \"temperature\".\nSecond line \\ end.").with({})->set(-1.5);
    auto latency = reg.histogram("app_latency_seconds", "Latency.", {"path"}, {0.5, 1, 2.5}).with({"/a"});
    latency->observe(0.5);  // bounds are inclusive
    latency->observe(1);
    latency->observe(3);
}

TEST(metrics_exposition, prometheus_text_golden) {
    registry reg;
    fill_sample(reg);
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP app_latency_seconds Latency.\n"
              "# TYPE app_latency_seconds histogram\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"0.5\"} 1\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"1\"} 2\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"2.5\"} 2\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 3\n"
              "app_latency_seconds_sum{path=\"/a\"} 4.5\n"
              "app_latency_seconds_count{path=\"/a\"} 3\n"
              "# HELP app_requests_total Requests handled.\n"
              "# TYPE app_requests_total counter\n"
              "app_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "app_requests_total{method=\"POST\",code=\"500\"} 1\n"
              "# HELP app_temperature_celsius Current \"temperature\".\\nSecond line \\\\ end.\n"
              "# TYPE app_temperature_celsius gauge\n"
              "app_temperature_celsius -1.5\n");
}

TEST(metrics_exposition, openmetrics_golden) {
    registry reg;
    fill_sample(reg);
    EXPECT_EQ(reg.expose(exposition_format::openmetrics),
              "# HELP app_latency_seconds Latency.\n"
              "# TYPE app_latency_seconds histogram\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"0.5\"} 1\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"1.0\"} 2\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"2.5\"} 2\n"
              "app_latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 3\n"
              "app_latency_seconds_sum{path=\"/a\"} 4.5\n"
              "app_latency_seconds_count{path=\"/a\"} 3\n"
              "# HELP app_requests Requests handled.\n"
              "# TYPE app_requests counter\n"
              "app_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "app_requests_total{method=\"POST\",code=\"500\"} 1\n"
              "# HELP app_temperature_celsius Current \\\"temperature\\\".\\nSecond line \\\\ end.\n"
              "# TYPE app_temperature_celsius gauge\n"
              "app_temperature_celsius -1.5\n"
              "# EOF\n");
}

TEST(metrics_exposition, empty_registry) {
    registry reg;
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text), "");
    EXPECT_EQ(reg.expose(exposition_format::openmetrics), "# EOF\n");
}

TEST(metrics_exposition, label_values_escaped) {
    registry reg;
    reg.gauge("g", "h", {"v"}).with({"a\\b \"q\"\nnext"})->set(1);
    const std::string expected = "g{v=\"a\\\\b \\\"q\\\"\\nnext\"} 1\n";
    EXPECT_NE(reg.expose(exposition_format::prometheus_text).find(expected), std::string::npos)
        << reg.expose(exposition_format::prometheus_text);
    EXPECT_NE(reg.expose(exposition_format::openmetrics).find(expected), std::string::npos);
}

TEST(metrics_exposition, label_order_is_as_declared) {
    registry reg;
    auto& f = reg.counter("ordered_total", "h", {"zeta", "alpha", "mid"});
    f.with({"1", "2", "3"})->inc();
    f.with({"0", "9", "9"})->inc(2);
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP ordered_total h\n# TYPE ordered_total counter\n"
              "ordered_total{zeta=\"0\",alpha=\"9\",mid=\"9\"} 2\n"
              "ordered_total{zeta=\"1\",alpha=\"2\",mid=\"3\"} 1\n");
}

TEST(metrics_exposition, float_formatting) {
    const std::vector<std::pair<double, std::string>> cases{
        {0, "0"},
        {-0.0, "0"},
        {42, "42"},
        {-7, "-7"},
        {123456789, "123456789"},
        {9007199254740992.0, "9007199254740992"},  // 2^53, still an integer
        {1e20, "1e+20"},
        {0.1, "0.1"},
        {-2.5, "-2.5"},
        {1.0 / 3, "0.3333333333333333"},
        {1e-7, "1e-07"},
        {std::numeric_limits<double>::infinity(), "+Inf"},
        {-std::numeric_limits<double>::infinity(), "-Inf"},
        {std::numeric_limits<double>::quiet_NaN(), "NaN"},
    };
    for (const auto& [value, text] : cases) {
        registry reg;
        reg.gauge("g", "h").with({})->set(value);
        const std::string out = reg.expose(exposition_format::prometheus_text);
        EXPECT_EQ(out.substr(out.rfind('\n', out.size() - 2) + 1), "g " + text + "\n") << value;
        // Shortest round trip: the text reads back as the same double.
        if (std::isfinite(value)) {
            EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
        }
    }
}

TEST(metrics_exposition, families_sorted_and_merged_with_collectors) {
    registry reg;
    reg.gauge("b_gauge", "h").with({})->set(2);
    reg.gauge("d_gauge", "h").with({})->set(4);
    reg.add_collector([](std::vector<collected_family>& out) {
        out.push_back({.name = "c_total", .help = "h", .type = metric_type::counter, .label_names = {"x"},
                       .samples = {{{"1"}, 3}, {{"too", "many"}, 9}}});
        out.push_back({.name = "a_gauge", .help = "h", .type = metric_type::gauge, .samples = {{{}, 1}}});
        out.push_back({.name = "b_gauge", .help = "clash", .type = metric_type::gauge, .samples = {{{}, 99}}});
        out.push_back({.name = "e_bad", .help = "no _total", .type = metric_type::counter, .samples = {{{}, 5}}});
        out.push_back({.name = "f-bad", .help = "bad name", .type = metric_type::gauge, .samples = {{{}, 6}}});
    });
    reg.add_collector([](std::vector<collected_family>& out) {
        out.push_back({.name = "z_gauge", .help = "h", .type = metric_type::gauge, .samples = {{{}, 7}}});
        throw std::runtime_error("collector failed");  // its output is dropped
    });
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP a_gauge h\n# TYPE a_gauge gauge\na_gauge 1\n"
              "# HELP b_gauge h\n# TYPE b_gauge gauge\nb_gauge 2\n"
              "# HELP c_total h\n# TYPE c_total counter\nc_total{x=\"1\"} 3\n"
              "# HELP d_gauge h\n# TYPE d_gauge gauge\nd_gauge 4\n");
    EXPECT_NE(reg.expose(exposition_format::openmetrics).find("# TYPE c counter\nc_total{x=\"1\"} 3\n"),
              std::string::npos);
}

TEST(metrics_collectors, scoped_collector_goes_with_its_registration) {
    registry reg;
    auto gauge_of = [](std::string name, double v) {
        return [name = std::move(name), v](std::vector<collected_family>& out) {
            out.push_back({.name = name, .help = "h", .type = metric_type::gauge, .samples = {{{}, v}}});
        };
    };
    reg.add_collector(gauge_of("kept", 1));
    auto first = reg.scoped_collector(gauge_of("scoped", 2));
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP kept h\n# TYPE kept gauge\nkept 1\n# HELP scoped h\n# TYPE scoped gauge\nscoped 2\n");
    collector_registration moved = std::move(first);
    first.reset();  // moved from: nothing to remove
    EXPECT_NE(reg.expose(exposition_format::prometheus_text).find("scoped 2"), std::string::npos);
    moved = reg.scoped_collector(gauge_of("other", 3));  // the assignment removes "scoped"
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP kept h\n# TYPE kept gauge\nkept 1\n# HELP other h\n# TYPE other gauge\nother 3\n");
    moved.reset();
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text), "# HELP kept h\n# TYPE kept gauge\nkept 1\n");
}

TEST(metrics_collectors, removal_waits_for_a_running_scrape) {
    registry reg;
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    auto alive = std::make_unique<int>(5);
    int* observed = alive.get();
    auto registration = reg.scoped_collector([&, released](std::vector<collected_family>& out) {
        entered.set_value();
        released.wait();
        out.push_back({.name = "v", .help = "h", .type = metric_type::gauge, .samples = {{{}, double(*observed)}}});
    });
    auto scrape = std::async(std::launch::async, [&] { return reg.expose(exposition_format::prometheus_text); });
    entered.get_future().wait();
    std::atomic<bool> removed = false;
    std::thread remover([&] {
        registration.reset();  // must wait: the collector still reads *observed
        removed = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(removed.load());
    release.set_value();
    remover.join();
    EXPECT_TRUE(removed.load());
    alive.reset();  // only now may what the collector reads go
    EXPECT_NE(scrape.get().find("v 5"), std::string::npos);
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text), "");
}

TEST(metrics_exposition, labelled_family_without_series_is_left_out) {
    registry reg;
    reg.counter("unused_total", "h", {"a"});
    reg.counter("plain_total", "h");  // no labels: its one series exists from the start
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP plain_total h\n# TYPE plain_total counter\nplain_total 0\n");
}

TEST(metrics_histogram, cumulative_buckets_sum_count) {
    registry reg;
    auto& f = reg.histogram("lat_seconds", "h", {}, {0.01, 0.1, 1, std::numeric_limits<double>::infinity()});
    EXPECT_EQ(f.upper_bounds(), (std::vector<double>{0.01, 0.1, 1}));  // +Inf implied
    auto h = f.with({});
    for (double v : {0.001, 0.01, 0.05, 0.1, 0.5, 0.7, 2.0, 100.0}) h->observe(v);
    const auto snap = h->read();
    EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{2, 4, 6, 8}));
    EXPECT_EQ(snap.count, 8U);
    EXPECT_DOUBLE_EQ(snap.sum, 0.001 + 0.01 + 0.05 + 0.1 + 0.5 + 0.7 + 2.0 + 100.0);
    const std::string out = reg.expose(exposition_format::prometheus_text);
    EXPECT_NE(out.find("lat_seconds_bucket{le=\"0.01\"} 2\n"
                       "lat_seconds_bucket{le=\"0.1\"} 4\n"
                       "lat_seconds_bucket{le=\"1\"} 6\n"
                       "lat_seconds_bucket{le=\"+Inf\"} 8\n"
                       "lat_seconds_sum "),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("\nlat_seconds_count 8\n"), std::string::npos) << out;

    h->observe(std::numeric_limits<double>::quiet_NaN());  // counted in +Inf only
    EXPECT_EQ(h->read().cumulative, (std::vector<std::uint64_t>{2, 4, 6, 9}));
}

TEST(metrics_histogram, no_bounds_is_just_inf) {
    registry reg;
    reg.histogram("only_inf", "h", {}, {}).with({})->observe(-3);
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text),
              "# HELP only_inf h\n# TYPE only_inf histogram\n"
              "only_inf_bucket{le=\"+Inf\"} 1\nonly_inf_sum -3\nonly_inf_count 1\n");
}

TEST(metrics_series, counter_and_gauge_operations) {
    registry reg;
    auto c = reg.counter("c_total", "h").with({});
    c->inc();
    c->inc(2.5);
    c->inc(-4);  // ignored: counters never go down
    c->inc(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(c->value(), 3.5);
    auto g = reg.gauge("g", "h").with({});
    g->set(10);
    g->inc();
    g->inc(5);
    g->dec();
    g->dec(20);
    EXPECT_EQ(g->value(), -5);
}

TEST(metrics_series, with_returns_the_same_series) {
    registry reg;
    auto& f = reg.counter("same_total", "h", {"a"});
    auto one = f.with({"x"});
    const std::string x = "x";
    const std::vector<std::string_view> values{x};
    EXPECT_EQ(one.get(), f.with(values).get());
    EXPECT_NE(one.get(), f.with({"y"}).get());
    EXPECT_EQ(f.size(), 2U);
}

TEST(metrics_series, remove_and_handles_after_removal) {
    registry reg;
    auto& f = reg.counter("groups_total", "h", {"namespace", "group"});
    auto kept = f.with({"ns", "a"});
    auto removed = f.with({"ns", "b"});
    kept->inc();
    removed->inc(7);
    EXPECT_TRUE(f.remove({"ns", "b"}));
    EXPECT_FALSE(f.remove({"ns", "b"}));
    removed->inc();  // still safe
    EXPECT_EQ(removed->value(), 8);
    std::string out = reg.expose(exposition_format::prometheus_text);
    EXPECT_EQ(out.find("group=\"b\""), std::string::npos) << out;
    EXPECT_NE(out.find("groups_total{namespace=\"ns\",group=\"a\"} 1\n"), std::string::npos) << out;
    // A new with() starts a new series from zero.
    auto again = f.with({"ns", "b"});
    EXPECT_NE(again.get(), removed.get());
    EXPECT_EQ(again->value(), 0);
    EXPECT_THROW(f.remove({"ns"}), std::invalid_argument);
}

TEST(metrics_series, remove_if_and_remove_matching) {
    registry reg;
    auto& transitions = reg.counter("t_total", "h", {"namespace", "group", "reason"});
    auto& leaders = reg.gauge("leader", "h", {"namespace", "group"});
    auto& other = reg.gauge("other", "h", {"group"});  // lacks "namespace": untouched
    auto& hist = reg.histogram("h_seconds", "h", {"group", "namespace"}, {1});
    for (const char* ns : {"ns1", "ns2"}) {
        for (const char* g : {"web", "db"}) {
            for (const char* r : {"expired", "deleted"}) transitions.with({ns, g, r})->inc();
            leaders.with({ns, g})->set(1);
            hist.with({g, ns})->observe(0.5);
        }
    }
    other.with({"web"})->set(1);

    EXPECT_EQ(transitions.remove_if([](std::span<const std::string> v) { return v[2] == "deleted"; }), 4U);
    EXPECT_EQ(transitions.size(), 4U);

    EXPECT_EQ(reg.remove_matching({{"namespace", "ns1"}, {"group", "web"}}), 3U);  // t, leader, h
    EXPECT_EQ(transitions.size(), 3U);
    EXPECT_EQ(leaders.size(), 3U);
    EXPECT_EQ(hist.size(), 3U);
    EXPECT_EQ(other.size(), 1U);
    const std::string out = reg.expose(exposition_format::prometheus_text);
    EXPECT_EQ(out.find("namespace=\"ns1\",group=\"web\""), std::string::npos) << out;
    EXPECT_EQ(out.find("group=\"web\",namespace=\"ns1\""), std::string::npos) << out;
    EXPECT_NE(out.find("leader{namespace=\"ns2\",group=\"web\"} 1"), std::string::npos) << out;
    EXPECT_NE(out.find("other{group=\"web\"} 1"), std::string::npos) << out;
}

TEST(metrics_concurrency, eight_threads_sum_exactly) {
    registry reg;
    auto& f = reg.counter("hits_total", "h", {"t"});
    auto shared = f.with({"shared"});
    auto half = reg.gauge("halves", "h").with({});
    auto hist = reg.histogram("obs", "h", {}, {1, 2}).with({});
    constexpr int threads = 8;
    constexpr int per_thread = 100000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            auto own = f.with({std::to_string(t)});
            for (int i = 0; i < per_thread; ++i) {
                shared->inc();
                own->inc();
                half->inc(0.5);
                hist->observe(i % 3);
                // Concurrent lookups of the same series find one series.
                if (i % 10000 == 0) f.with({"shared"})->inc(0);
            }
        });
    }
    // Scrapes while the increments run: buckets never exceed the count.
    for (int i = 0; i < 20; ++i) (void)reg.expose(exposition_format::prometheus_text);
    for (auto& th : pool) th.join();
    EXPECT_EQ(shared->value(), threads * per_thread);
    for (int t = 0; t < threads; ++t) EXPECT_EQ(f.with({std::to_string(t)})->value(), per_thread);
    EXPECT_EQ(half->value(), threads * per_thread * 0.5);
    const auto snap = hist->read();
    EXPECT_EQ(snap.count, static_cast<std::uint64_t>(threads) * per_thread);
    double expected_sum = 0;
    for (int i = 0; i < per_thread; ++i) expected_sum += i % 3;
    EXPECT_EQ(snap.sum, threads * expected_sum);
    EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{threads * 66667ULL, threads * 100000ULL,
                                                           threads * 100000ULL}));
    EXPECT_NE(reg.expose(exposition_format::prometheus_text).find("hits_total{t=\"shared\"} 800000\n"),
              std::string::npos);
}

TEST(metrics_negotiate, prometheus_2_42_gets_openmetrics) {
    const auto n = negotiate(
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    EXPECT_EQ(n.format, exposition_format::openmetrics);
    EXPECT_EQ(n.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST(metrics_negotiate, curl_and_others_get_text) {
    for (const char* accept : {"*/*", "", "text/plain", "text/plain;version=0.0.4", "application/json, */*;q=0.5",
                               "application/openmetrics-text;version=2.0.0,text/plain;q=0.1",
                               "application/openmetrics-text;q=0.2,text/plain;q=0.5",
                               "application/openmetrics-text;q=0", "garbage;;;=,"}) {
        const auto n = negotiate(accept);
        EXPECT_EQ(n.format, exposition_format::prometheus_text) << accept;
        EXPECT_EQ(n.content_type, "text/plain; version=0.0.4; charset=utf-8") << accept;
    }
    EXPECT_EQ(negotiate("text/plain;q=0.5, Application/OpenMetrics-Text; version=\"1.0.0\"").format,
              exposition_format::openmetrics);
    EXPECT_EQ(negotiate("application/openmetrics-text").format, exposition_format::openmetrics);
}

TEST(metrics_registration, invalid_names_rejected) {
    registry reg;
    for (const char* name : {"", "1abc", "a-b", "a b", "é"}) {
        EXPECT_THROW(reg.gauge(name, "h"), std::invalid_argument) << name;
    }
    EXPECT_NO_THROW(reg.gauge("ns:sub_system_x1", "h"));
    for (const char* label : {"", "__reserved", "1a", "a-b", "a:b"}) {
        EXPECT_THROW(reg.gauge("g_labels", "h", {label}), std::invalid_argument) << label;
    }
    EXPECT_THROW(reg.gauge("dup", "h", {"a", "a"}), std::invalid_argument);
    EXPECT_THROW(reg.counter("requests", "h"), std::invalid_argument);  // no _total
    EXPECT_THROW(reg.counter("_total", "h"), std::invalid_argument);
    EXPECT_THROW(reg.histogram("hh", "h", {"le"}, {1}), std::invalid_argument);
    EXPECT_THROW(reg.histogram("hh", "h", {}, {2, 1}), std::invalid_argument);
    EXPECT_THROW(reg.histogram("hh", "h", {}, {1, 1}), std::invalid_argument);
    EXPECT_THROW(reg.histogram("hh", "h", {}, {std::nan("")}), std::invalid_argument);
    EXPECT_EQ(reg.expose(exposition_format::prometheus_text).find("hh"), std::string::npos);
}

TEST(metrics_registration, conflicts_and_idempotence) {
    registry reg;
    auto& c = reg.counter("jobs_total", "h", {"a"});
    EXPECT_EQ(&reg.counter("jobs_total", "h", {"a"}), &c);
    EXPECT_THROW(reg.counter("jobs_total", "other help", {"a"}), std::invalid_argument);
    EXPECT_THROW(reg.counter("jobs_total", "h", {"b"}), std::invalid_argument);
    EXPECT_THROW(reg.gauge("jobs_total", "h", {"a"}), std::invalid_argument);
    EXPECT_THROW(reg.gauge("jobs", "h"), std::invalid_argument);  // the OpenMetrics family name
    reg.histogram("lat", "h", {}, {1});
    EXPECT_THROW(reg.gauge("lat_sum", "h"), std::invalid_argument);
    EXPECT_THROW(reg.gauge("lat_bucket", "h"), std::invalid_argument);
    EXPECT_THROW(reg.histogram("lat", "h", {}, {2}), std::invalid_argument);
    reg.gauge("x_count", "h");
    EXPECT_THROW(reg.histogram("x", "h", {}, {1}), std::invalid_argument);
}

TEST(metrics_registration, wrong_number_of_label_values) {
    registry reg;
    auto& f = reg.gauge("g", "h", {"a", "b"});
    EXPECT_THROW(f.with({"x"}), std::invalid_argument);
    EXPECT_THROW(f.with({"x", "y", "z"}), std::invalid_argument);
    EXPECT_THROW(reg.counter("n_total", "h").with({"x"}), std::invalid_argument);
    EXPECT_EQ(f.size(), 0U);
}

// ---- process metrics ---------------------------------------------------------

std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
    return out;
}

TEST(metrics_process, present_and_plausible) {
    registry reg;
    add_process_metrics(reg);
    const std::string text = reg.expose(exposition_format::prometheus_text);
    const auto s = samples(text);
    for (const char* name : {"process_cpu_seconds_total", "process_max_fds", "process_open_fds",
                             "process_resident_memory_bytes", "process_start_time_seconds",
                             "process_virtual_memory_bytes"}) {
        EXPECT_TRUE(s.contains(name)) << name << " missing from\n" << text;
    }
    EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
    EXPECT_NE(reg.expose(exposition_format::openmetrics).find("# TYPE process_cpu_seconds counter\n"),
              std::string::npos);
    EXPECT_GT(s.at("process_resident_memory_bytes"), 1 << 20);
    EXPECT_GE(s.at("process_virtual_memory_bytes"), s.at("process_resident_memory_bytes"));
    EXPECT_GE(s.at("process_cpu_seconds_total"), 0);
    EXPECT_GE(s.at("process_open_fds"), 3);
    EXPECT_LE(s.at("process_open_fds"), s.at("process_max_fds"));
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LE(s.at("process_start_time_seconds"), now + 2);
    EXPECT_GT(s.at("process_start_time_seconds"), now - 3600) << "test binary started over an hour ago?";

    // CPU time goes up with work, open fds with a new descriptor.
    const double cpu_before = s.at("process_cpu_seconds_total");
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    volatile double sink = 0;
    while (std::chrono::steady_clock::now() < spin_until) sink = sink + 1;
    std::FILE* extra = std::fopen("/proc/self/stat", "r");
    ASSERT_NE(extra, nullptr);
    const auto after = samples(reg.expose(exposition_format::prometheus_text));
    std::fclose(extra);
    EXPECT_GT(after.at("process_cpu_seconds_total"), cpu_before + 0.1);
    EXPECT_EQ(after.at("process_open_fds"), s.at("process_open_fds") + 1);
}

class fake_proc : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = std::filesystem::temp_directory_path() / ("elector_fake_proc_" + std::to_string(::getpid()));
        std::filesystem::remove_all(root_);
        std::filesystem::create_directories(root_ / "self" / "fd");
    }
    void TearDown() override { std::filesystem::remove_all(root_); }
    void write(const std::string& relative, const std::string& text) { std::ofstream(root_ / relative) << text; }
    std::filesystem::path root_;
};

double value_of(const std::vector<collected_family>& families, const std::string& name) {
    for (const auto& f : families) {
        if (f.name == name) return f.samples.at(0).value;
    }
    return -1;
}

TEST_F(fake_proc, values_from_files) {
    // comm with spaces and parentheses; fields 14/15 utime/stime, 22 starttime, 23 vsize, 24 rss.
    write("self/stat",
          "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 5000 "
          "123456789 2048 18446744073709551615\n");
    write("stat", "cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n");
    write("self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max cpu time              unlimited            unlimited            seconds   \n"
          "Max open files            1024                 524288               files     \n");
    for (int i = 0; i < 5; ++i) write("self/fd/" + std::to_string(i), "");
    const auto families = collect_process_metrics(root_);
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    EXPECT_EQ(families.size(), 6U);
    EXPECT_DOUBLE_EQ(value_of(families, "process_cpu_seconds_total"), 380 / ticks);
    EXPECT_DOUBLE_EQ(value_of(families, "process_start_time_seconds"), 1700000000 + 5000 / ticks);
    EXPECT_EQ(value_of(families, "process_virtual_memory_bytes"), 123456789);
    EXPECT_EQ(value_of(families, "process_resident_memory_bytes"), 2048 * page);
    EXPECT_EQ(value_of(families, "process_max_fds"), 1024);
    EXPECT_EQ(value_of(families, "process_open_fds"), 5);
}

TEST_F(fake_proc, missing_or_broken_files_leave_samples_out) {
    std::filesystem::remove_all(root_ / "self" / "fd");
    write("self/stat", "4242 (truncated) S 1 2\n");
    write("self/limits", "Max open files            unlimited            unlimited            files\n");
    std::vector<collected_family> families;
    EXPECT_NO_THROW(families = collect_process_metrics(root_));
    ASSERT_EQ(families.size(), 1U);
    EXPECT_EQ(families[0].name, "process_max_fds");
    EXPECT_TRUE(std::isinf(families[0].samples.at(0).value));
    EXPECT_TRUE(collect_process_metrics(root_ / "nonexistent").empty());
}

// ---- promtool ------------------------------------------------------------------

TEST(metrics_promtool, text_output_passes_check_metrics) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
    }
    registry reg;
    fill_sample(reg);
    add_process_metrics(reg);
    reg.gauge("app_info", "Build \"info\" with \\ and\nnewline.", {"version", "note"})
        .with({"1.2.3", "quote \" backslash \\ newline \n end"})
        ->set(1);
    reg.histogram("app_size_bytes", "Sizes.", {}, {1e-3, 1, 1e3, 1e6}).with({})->observe(12345);
    const auto dir = std::filesystem::temp_directory_path();
    const auto input = dir / ("elector_promtool_in_" + std::to_string(::getpid()));
    const auto output = dir / ("elector_promtool_out_" + std::to_string(::getpid()));
    std::ofstream(input) << reg.expose(exposition_format::prometheus_text);
    const std::string command =
        "promtool check metrics < '" + input.string() + "' > '" + output.string() + "' 2>&1";
    const int status = std::system(command.c_str());
    std::string report;
    if (std::FILE* f = std::fopen(output.c_str(), "r")) {  // (istreambuf_iterator trips -Wnull-dereference at -O2)
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) report.append(buffer, n);
        std::fclose(f);
    }
    std::filesystem::remove(input);
    std::filesystem::remove(output);
    EXPECT_EQ(status, 0) << report;
    EXPECT_EQ(report, "") << report;
}

}  // namespace
}  // namespace elector::metrics
