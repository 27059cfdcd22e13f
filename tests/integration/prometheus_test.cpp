// elector scraped by a real Prometheus (Debian's /usr/bin/prometheus) on a
// real control plane: through N induced handovers, what Prometheus stored
// agrees with what kubectl shows (increase() of the transitions counter and
// the Lease's leaseTransitions; the leader series and the labelled pod and the
// Lease's holder; the term), a deleted group's series disappear (staleness
// markers), and every expression of examples/monitoring (the Grafana
// dashboard's panels and variables, the alert rules as Prometheus loaded and
// evaluated them) evaluates without error through the HTTP query API.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* const prometheus_binary = "/usr/bin/prometheus";

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string format_time(double unix_seconds) { return fmt::format("{:.3f}", unix_seconds); }

// One answer of Prometheus's HTTP API: `data` if its status is "success",
// else `error` says why (HTTP failure, errorType: error).
struct api_answer {
    bool ok = false;
    std::string error;
    json data;
    std::string body;
};

// The value of one sample of an instant vector ({"metric":…, "value":[t,"v"]}).
double sample_value(const json& sample) {
    const json value = sample.value("value", json::array());
    if (value.size() != 2 || !value[1].is_string()) return std::nan("");
    return std::stod(value[1].get<std::string>());
}

std::string label_of(const json& sample, const std::string& label) {
    return sample.value("metric", json::object()).value(label, "");
}

// Samples as "{labels} value" lines, for failure messages.
std::string describe(const json& result) {
    std::string out;
    for (const auto& s : result) {
        std::vector<std::string> labels;
        const json metric = s.value("metric", json::object());
        for (const auto& [k, v] : metric.items()) {
            labels.push_back(fmt::format("{}=\"{}\"", k, v.is_string() ? v.get<std::string>() : v.dump()));
        }
        const json value = s.value("value", json::array());
        out += fmt::format("  {{{}}} {}\n", fmt::join(labels, ","), value.size() == 2 ? value[1].dump() : s.dump());
    }
    return out.empty() ? "  (no series)\n" : out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

// Grafana's variables in an expression replaced by VALUES (name -> value,
// written $name or ${name}); the built-in intervals by fixed ones.
std::string substitute(std::string expr, const std::vector<std::pair<std::string, std::string>>& values) {
    // Longest names first: $__interval_ms before $__interval.
    const std::vector<std::pair<std::string, std::string>> builtins{
        {"__rate_interval", "1m"}, {"__interval_ms", "1000"}, {"__interval", "1s"},
        {"__range_ms", "300000"},  {"__range_s", "300"},      {"__range", "5m"}};
    for (const auto& list : {builtins, values}) {
        for (const auto& [name, value] : list) {
            expr = replace_all(expr, "${" + name + "}", value);
            expr = replace_all(expr, "$" + name, value);
        }
    }
    return expr;
}

// Every panel target's expr of a Grafana dashboard, rows' nested panels included.
void panel_exprs(const json& panels, std::vector<std::string>& out) {
    for (const auto& panel : panels) {
        for (const auto& target : panel.value("targets", json::array())) {
            const std::string expr = target.value("expr", "");
            if (!expr.empty()) out.push_back(expr);
        }
        panel_exprs(panel.value("panels", json::array()), out);
    }
}

// The series selector of the dashboard's query variables:
// label_values(METRIC, label) -> METRIC. Variables of other kinds and
// label_values(label) (no selector) give none.
std::vector<std::string> variable_exprs(const json& dashboard) {
    std::vector<std::string> out;
    for (const auto& variable : dashboard.value("templating", json::object()).value("list", json::array())) {
        if (variable.value("type", "") != "query") continue;
        const json q = variable.value("query", json());
        std::string text = q.is_string() ? q.get<std::string>() : q.is_object() ? q.value("query", "") : "";
        if (text.empty()) text = variable.value("definition", "");
        const std::string prefix = "label_values(";
        if (!text.starts_with(prefix) || !text.ends_with(")")) {
            ADD_FAILURE() << "a dashboard variable query this test does not understand: " << text;
            continue;
        }
        const std::string args = text.substr(prefix.size(), text.size() - prefix.size() - 1);
        const auto comma = args.rfind(',');
        if (comma == std::string::npos) continue;
        out.push_back(args.substr(0, comma));
    }
    return out;
}

class prometheus_test : public election_fixture {
protected:
    prometheus_test()
        : election_fixture({.ns_prefix = "prom", .leader_api_bind_address = "0", .ready_timeout = 20s}) {}

    void stop_processes() override {
        stop_prometheus();
        election_fixture::stop_processes();
    }

    void print_logs() const override {
        election_fixture::print_logs();
        if (!prometheus_log_.empty()) {
            fmt::print(stderr, "--- prometheus log ({}):\n{}\n", prometheus_log_,
                       run({"tail", "-n", "60", prometheus_log_}).out);
        }
    }

    // Writes prometheus.yml scraping 127.0.0.1:METRICS every second with
    // the alert rules, starts Prometheus on a free port and waits until it
    // is ready (another port if that one was taken meanwhile).
    void start_prometheus(int metrics) {
        const std::string dir = fmt::format("{}/prometheus-{}", env_->dir(), ns_);
        std::filesystem::create_directories(dir);
        const std::string rules = std::filesystem::canonical(source_dir() + "/examples/monitoring/alerts.yaml").string();
        const std::string config = dir + "/prometheus.yml";
        {
            std::ofstream(config) << fmt::format(R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {}
scrape_configs:
  - job_name: elector
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:{}']
)",
                                                 rules, metrics);
        }
        for (int attempt = 1; attempt <= 3; ++attempt) {
            prometheus_port_ = free_port();
            ASSERT_GT(prometheus_port_, 0) << "no free port on 127.0.0.1";
            prometheus_log_ = fmt::format("{}/prometheus-{}.log", dir, attempt);
            const std::string data = fmt::format("{}/data-{}", dir, attempt);
            prometheus_ = std::make_unique<child_process>(
                std::vector<std::string>{prometheus_binary, "--config.file=" + config, "--storage.tsdb.path=" + data,
                                         fmt::format("--web.listen-address=127.0.0.1:{}", prometheus_port_)},
                prometheus_log_, prometheus_log_);
            const bool ready = eventually(20s, [&] {
                if (!prometheus_->running()) return true;
                httplib::Client client("127.0.0.1", prometheus_port_);
                client.set_connection_timeout(1s);
                auto r = client.Get("/-/ready");
                return r && r->status == 200;
            }, 100ms);
            if (ready && prometheus_->running()) return;
            const std::string log = read_text(prometheus_log_);
            stop_prometheus();
            if (log.find("address already in use") == std::string::npos) {
                FAIL() << "Prometheus did not become ready on port " << prometheus_port_ << ":\n" << log;
            }
        }
        FAIL() << "Prometheus found no free port in 3 attempts";
    }

    void stop_prometheus() {
        if (!prometheus_) return;
        prometheus_->signal(SIGTERM);
        prometheus_->wait(10s);
        prometheus_.reset();  // kills it if it did not exit
    }

    // GET /api/v1/PATH (no parameters) or POST with form PARAMS.
    api_answer api(const std::string& path, const httplib::Params& params = {}) const {
        api_answer a;
        httplib::Client client("127.0.0.1", prometheus_port_);
        client.set_connection_timeout(2s);
        client.set_read_timeout(10s);
        auto r = params.empty() ? client.Get("/api/v1/" + path) : client.Post("/api/v1/" + path, params);
        if (!r) {
            a.error = "no answer: " + httplib::to_string(r.error());
            return a;
        }
        a.body = r->body;
        const json body = json::parse(r->body, nullptr, false);
        if (body.is_discarded()) {
            a.error = fmt::format("HTTP {}: {}", r->status, r->body);
            return a;
        }
        a.ok = r->status == 200 && body.value("status", "") == "success";
        if (a.ok) {
            a.data = body.value("data", json());
        } else {
            a.error = fmt::format("HTTP {} {}: {}", r->status, body.value("errorType", ""), body.value("error", ""));
        }
        return a;
    }

    // An instant query (at TIME, or Prometheus's now).
    api_answer query(const std::string& expr, std::optional<double> time = std::nullopt) const {
        httplib::Params params{{"query", expr}};
        if (time) params.emplace("time", format_time(*time));
        return api("query", params);
    }
    api_answer query_range(const std::string& expr, double start, double end, double step = 1) const {
        return api("query_range", {{"query", expr},
                                   {"start", format_time(start)},
                                   {"end", format_time(end)},
                                   {"step", fmt::format("{}", step)}});
    }
    // An instant vector's samples ([] on error).
    json vector_of(const std::string& expr, std::optional<double> time = std::nullopt) const {
        auto a = query(expr, time);
        return a.ok ? a.data.value("result", json::array()) : json::array();
    }
    // The value of an instant query that gives exactly one sample, else nullopt.
    std::optional<double> scalar(const std::string& expr, std::optional<double> time = std::nullopt) const {
        const json result = vector_of(expr, time);
        if (result.size() != 1) return std::nullopt;
        return sample_value(result[0]);
    }

    std::unique_ptr<child_process> prometheus_;
    std::string prometheus_log_;
    int prometheus_port_ = 0;
};

TEST_F(prometheus_test, scraped_series_agree_with_kubectl_and_every_dashboard_and_alert_expression_evaluates) {
    ASSERT_TRUE(std::filesystem::exists(prometheus_binary))
        << prometheus_binary << " is missing: scripts/install-deps installs Debian's prometheus package";
    const auto started = std::chrono::steady_clock::now();

    // 1. elector, and Prometheus scraping it every second.
    start_elector({}, {"--metrics-bind-address=127.0.0.1:0"});
    const int metrics = wait_for_port("metrics");
    ASSERT_GT(metrics, 0) << "elector did not say where it serves metrics";
    start_prometheus(metrics);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(eventually(15s, [&] {
        auto up = scalar(R"(up{job="elector"})");
        return up && *up == 1;
    })) << "the target is not up: " << api("targets").body;
    std::cout << fmt::format("[ figures  ] Prometheus ready and scraping after {:.1f} s\n", seconds_since(started));

    // 2. A group; its series reach Prometheus.
    const std::string g = "scraped";
    const std::string where = fmt::format(R"(namespace="{}",group="{}")", ns_, g);
    create_group(g);
    const std::string first = wait_ready(g);
    ASSERT_FALSE(first.empty());
    const std::int64_t t_before = transitions(g);
    ASSERT_GE(t_before, 0);
    ASSERT_TRUE(eventually(10s, [&] { return vector_of("elector_group_leader{" + where + "}").size() == 1; }))
        << describe(vector_of("{" + where + "}"));
    const double t0 = unix_now();
    std::this_thread::sleep_for(2s);  // two scrapes of the state before the first fault

    // 3. N handovers: delete the leader, wait for the next one.
    const int handovers = 5;
    const auto handovers_started = std::chrono::steady_clock::now();
    std::string leader = first;
    for (int i = 1; i <= handovers; ++i) {
        SCOPED_TRACE(fmt::format("handover {}", i));
        auto deleted = env_->kubectl({"delete", "pod", leader, "-n", ns_, "--wait=false"});
        ASSERT_TRUE(deleted.ok()) << deleted.describe();
        auto next = watch_->wait_for_leader(g, leader, 10s);
        ASSERT_TRUE(next.has_value()) << "no new leader after deleting " << leader;
        leader = wait_ready(g);  // three Ready candidates again before the next fault
        ASSERT_FALSE(leader.empty());
        EXPECT_EQ(leader, next->pod);
        // Prometheus has scraped the new term: each handover is a step of its own in the TSDB.
        const double term = static_cast<double>(t_before + 1 + i);
        ASSERT_TRUE(eventually(5s, [&] { return scalar("elector_group_term{" + where + "}") == term; }))
            << "Prometheus did not see term " << term << "\n" << describe(vector_of("elector_group_term{" + where + "}"));
    }
    const std::int64_t t_after = transitions(g);
    const std::int64_t changes = t_after - t_before;
    EXPECT_EQ(changes, handovers) << "leaseTransitions went from " << t_before << " to " << t_after;
    std::cout << fmt::format("[ figures  ] {} handovers in {:.1f} s\n", handovers, seconds_since(handovers_started));
    std::this_thread::sleep_for(3s);  // scrapes of the final state

    // 4. What Prometheus stored agrees with kubectl.
    const double now = unix_now();
    const int range = static_cast<int>(std::ceil(now - t0)) + 1;
    const std::string counter = fmt::format(R"(elector_leader_transitions_total{{{},reason!="initial"}})", where);
    const std::string increase = fmt::format("sum(increase({}[{}s]))", counter, range);
    const auto per_reason = [&] {
        return fmt::format("per reason at t0:\n{}per reason now:\n{}increase per reason over {}s:\n{}",
                           describe(vector_of("elector_leader_transitions_total{" + where + "}", t0)),
                           describe(vector_of("elector_leader_transitions_total{" + where + "}", now)), range,
                           describe(vector_of(fmt::format("increase({}[{}s])", counter, range), now)));
    };
    const auto increased = scalar(increase, now);
    ASSERT_TRUE(increased.has_value()) << increase << " gave no single sample\n" << per_reason();
    EXPECT_LT(std::abs(*increased - static_cast<double>(changes)), 0.5)
        << increase << " = " << *increased << ", leaseTransitions changed by " << changes << "\n" << per_reason();
    EXPECT_EQ(std::llround(*increased), changes) << increase << " = " << *increased << "\n" << per_reason();
    const auto counted_now = scalar("sum(" + counter + ")", now);
    ASSERT_TRUE(counted_now.has_value()) << per_reason();
    const double counted_t0 = scalar("sum(" + counter + ")", t0).value_or(0);  // no series yet counts as 0
    EXPECT_EQ(*counted_now - counted_t0, static_cast<double>(changes))
        << "the raw counter: " << counted_t0 << " at t0, " << *counted_now << " now\n" << per_reason();

    // Every handover here is a failover elector timed; each reason's
    // histogram exists from the start, so increase() sees the first one too.
    const std::string failovers = fmt::format("sum(increase(elector_failover_duration_seconds_count[{}s]))", range);
    const auto failed_over = scalar(failovers, now);
    ASSERT_TRUE(failed_over.has_value()) << failovers << " gave no single sample";
    EXPECT_LT(std::abs(*failed_over - static_cast<double>(changes)), 0.5)
        << failovers << " = " << *failed_over << ", leaseTransitions changed by " << changes << "\n"
        << describe(vector_of("elector_failover_duration_seconds_count", now));

    const auto kubectl_leaders = labelled(g);
    const std::string holder = lease(g)["spec"].value("holderIdentity", "");
    ASSERT_EQ(kubectl_leaders.size(), 1u) << fmt::format("{}", fmt::join(kubectl_leaders, ","));
    EXPECT_EQ(*kubectl_leaders.begin(), holder);
    json leaders;
    eventually(5s, [&] {
        leaders = vector_of("elector_group_leader{" + where + "}");
        return leaders.size() == 1 && label_of(leaders[0], "pod") == holder;
    });
    ASSERT_EQ(leaders.size(), 1u) << describe(leaders);
    EXPECT_EQ(sample_value(leaders[0]), 1.0) << describe(leaders);
    EXPECT_EQ(label_of(leaders[0], "pod"), holder) << "kubectl: " << *kubectl_leaders.begin() << "\n" << describe(leaders);
    EXPECT_EQ(scalar("elector_group_term{" + where + "}"), std::optional<double>(static_cast<double>(t_after + 1)))
        << describe(vector_of("elector_group_term{" + where + "}"));
    EXPECT_EQ(scalar("elector_group_has_leader{" + where + "}"), std::optional<double>(1.0))
        << describe(vector_of("elector_group_has_leader{" + where + "}"));

    // Counters of the API client, the work queue and leaderless time.
    const auto patches = scalar(R"(sum(elector_api_requests_total{verb="patch"}))");
    EXPECT_TRUE(patches && *patches > 0) << "elector_api_requests_total{verb=\"patch\"}:\n"
                                         << describe(vector_of(R"(elector_api_requests_total{verb="patch"})"));
    const auto adds = scalar("sum(elector_workqueue_adds_total)");
    EXPECT_TRUE(adds && *adds > 0) << "elector_workqueue_adds_total:\n" << describe(vector_of("elector_workqueue_adds_total"));
    const json leaderless = vector_of("elector_group_leaderless_seconds_total{" + where + "}");
    EXPECT_FALSE(leaderless.empty()) << "no elector_group_leaderless_seconds_total for the group";
    for (const auto& s : leaderless) EXPECT_GE(sample_value(s), 0.0) << describe(leaderless);

    // 5. A deleted group's series go (staleness markers at the next scrape).
    const std::string group_series = R"({__name__=~"elector_.*",)" + where + "}";
    ASSERT_FALSE(vector_of(group_series).empty());
    auto deleted = env_->kubectl({"delete", "eg", g, "-n", ns_, "--timeout=30s"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    const auto deleted_at = std::chrono::steady_clock::now();
    json remaining;
    std::string query_error;
    EXPECT_TRUE(eventually(10s, [&] {
        auto a = query(group_series);
        query_error = a.error;
        remaining = a.ok ? a.data.value("result", json::array()) : json::array();
        return a.ok && remaining.empty();
    })) << "series of the deleted group still there:\n" << describe(remaining) << query_error;
    std::cout << fmt::format("[ figures  ] the deleted group's series gone from Prometheus {:.1f} s after the deletion\n",
                             seconds_since(deleted_at));

    // 6. Every dashboard expression, with the variables as Grafana's
    // defaults set them (namespace and group: All = .*) and as a user
    // looking at this group sets them.
    const double end = unix_now();
    std::ifstream dashboard_file(source_dir() + "/examples/monitoring/grafana-dashboard.json");
    ASSERT_TRUE(dashboard_file) << "cannot read the dashboard";
    const json dashboard = json::parse(dashboard_file);
    std::vector<std::string> exprs;
    panel_exprs(dashboard.value("panels", json::array()), exprs);
    const std::size_t panel_count = exprs.size();
    for (auto& e : variable_exprs(dashboard)) exprs.push_back(std::move(e));
    ASSERT_GT(panel_count, 0u) << "no panel expression found in the dashboard";
    const std::vector<std::vector<std::pair<std::string, std::string>>> settings{
        {{"job", "elector"}, {"namespace", ".*"}, {"group", ".*"}},
        {{"job", "elector"}, {"namespace", ns_}, {"group", g}}};
    int with_data = 0;
    for (const auto& expr : exprs) {
        for (const auto& values : settings) {
            const std::string e = substitute(expr, values);
            SCOPED_TRACE("dashboard expression: " + e);
            ASSERT_EQ(e.find('$'), std::string::npos) << "a variable left after substitution in: " << expr;
            auto instant = query(e, end);
            EXPECT_TRUE(instant.ok) << instant.error;
            auto ranged = query_range(e, t0, end);
            EXPECT_TRUE(ranged.ok) << ranged.error;
            if (ranged.ok && !ranged.data.value("result", json::array()).empty()) ++with_data;
        }
    }
    std::cout << fmt::format("[ figures  ] dashboard: {} panel and {} variable expressions x {} settings; {} of {} "
                             "range queries returned series\n",
                             panel_count, exprs.size() - panel_count, settings.size(), with_data,
                             exprs.size() * settings.size());

    // Every alert rule, as Prometheus loaded and evaluated it.
    std::size_t alerts_in_file = 0;
    {
        std::ifstream rules_file(source_dir() + "/examples/monitoring/alerts.yaml");
        for (std::string line; std::getline(rules_file, line);) {
            const auto text = line.find_first_not_of(" \t");
            if (text != std::string::npos && line.compare(text, 8, "- alert:") == 0) ++alerts_in_file;
        }
    }
    ASSERT_GT(alerts_in_file, 0u);
    json rules;
    const auto all_evaluated = [&] {
        auto a = api("rules");
        if (!a.ok) return false;
        rules = json::array();
        for (const auto& grp : a.data.value("groups", json::array())) {
            for (const auto& r : grp.value("rules", json::array())) rules.push_back(r);
        }
        if (rules.empty()) return false;
        for (const auto& r : rules) {
            if (r.value("lastEvaluation", "0001-01-01").starts_with("0001-")) return false;
        }
        return true;
    };
    ASSERT_TRUE(eventually(10s, all_evaluated)) << "rules not all evaluated: " << rules.dump(1);
    EXPECT_EQ(rules.size(), alerts_in_file) << rules.dump(1);
    for (const auto& r : rules) {
        const std::string name = r.value("name", "");
        EXPECT_EQ(r.value("type", ""), "alerting") << name;
        EXPECT_EQ(r.value("health", ""), "ok") << name << ": " << r.value("lastError", "");
        auto evaluated = query(r.value("query", ""), end);
        EXPECT_TRUE(evaluated.ok) << name << ": " << r.value("query", "") << ": " << evaluated.error;
    }

    // 7. Figures from Prometheus itself.
    const auto figure = [&](const std::string& expr) {
        auto v = scalar(expr);
        return v ? fmt::format("{:.6g}", *v) : std::string("(none)");
    };
    std::cout << fmt::format("[ figures  ] scrape_duration_seconds {}, scrape_samples_scraped {}\n",
                             figure(R"(scrape_duration_seconds{job="elector"})"),
                             figure(R"(scrape_samples_scraped{job="elector"})"));
    std::cout << fmt::format(
        "[ figures  ] failover p99 (histogram_quantile over 5m) {} s\n",
        figure("histogram_quantile(0.99, sum by (le) (rate(elector_failover_duration_seconds_bucket[5m])))"));
    std::cout << fmt::format("[ figures  ] failovers: {} observed by elector (count now), increase() over the run {}\n",
                             figure("sum(elector_failover_duration_seconds_count)"),
                             figure(fmt::format("sum(increase(elector_failover_duration_seconds_count[{}s]))",
                                                static_cast<int>(std::ceil(unix_now() - t0)) + 1)));
    std::cout << fmt::format("[ figures  ] test body {:.1f} s\n", seconds_since(started));
}

}  // namespace
}  // namespace elector::testing
