// group_metrics: the reason labels, the leader gauge that follows the
// leader, leaderless time, the work queue's series, and a group's series
// removed with it.
#include "controller/group_metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace elector::controller {
namespace {

TEST(group_metrics, transition_reasons_map_to_a_fixed_set_of_labels) {
    const std::pair<const char*, const char*> cases[] = {
        {"Elected", "initial"},
        {"LeaderDeleted", "deleted"},
        {"LeaderNotCandidate", "not_candidate"},
        {"LeaderOptedOut", "not_candidate"},
        {"LeaderTerminating", "terminating"},
        {"LeaderCrashed", "crashed"},
        {"LeaderFailed", "crashed"},
        {"LeaderSucceeded", "crashed"},
        {"LeaderNotReady", "not_ready"},
        {"LeaderPending", "not_ready"},
        {"LeaderNodeNotReady", "node_not_ready"},
        {"LeaderNodeUnknown", "node_not_ready"},
        {"LeaseExpired", "lease_expired"},
        {"Rollout", "rollout"},
        {"Preferred", "preferred"},
        {"LeaseEdited", "drift"},
        {"TermRepaired", "drift"},
        {"LeaseChanged", "lease_changed"},
        {"LeaderSomethingNew", "other"},
        {"", "other"},
    };
    const auto known = group_metrics::metric_reasons();
    for (const auto& [reason, label] : cases) {
        EXPECT_EQ(group_metrics::metric_reason(reason), label) << reason;
        if (std::string_view(label) != "other") {
            EXPECT_NE(std::find(known.begin(), known.end(), label), known.end()) << label << " is not pre-created";
        }
    }
    EXPECT_EQ(known.size(), 12u);
}

election::plan led_by(const std::string& pod, std::int64_t term) {
    election::plan p;
    p.leader = pod;
    p.term = term;
    p.status.leader = pod;
    p.status.term = term;
    p.status.candidates_ready = 2;
    p.status.candidates_total = 3;
    p.status.conditions.push_back({.type = "LeaderElected", .status = "True", .reason = "Elected"});
    return p;
}

TEST(group_metrics, the_leader_gauge_follows_the_leader_and_the_group_series_go_with_it) {
    metrics::registry r;
    kube::work_queue queue;
    group_metrics m(r, queue);
    m.observe("shop", "db", "", led_by("a", 1));
    m.transition("shop", "db", {.from = "", .to = "a", .term = 1, .reason = "Elected"}, 0.004);
    m.observe("shop", "web", "", led_by("w", 3));
    m.observe("shop", "db", "a", led_by("b", 2));
    m.transition("shop", "db", {.from = "a", .to = "b", .term = 2, .reason = "LeaderCrashed"}, 0.012);
    const std::string text = r.expose(metrics::exposition_format::prometheus_text);
    EXPECT_NE(text.find("elector_group_leader{namespace=\"shop\",group=\"db\",pod=\"b\"} 1\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("pod=\"a\""), std::string::npos) << "the old leader's series is gone\n" << text;
    EXPECT_NE(text.find("elector_leader_transitions_total{namespace=\"shop\",group=\"db\",reason=\"crashed\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("elector_failover_duration_seconds_count{reason=\"crashed\"} 1\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("elector_failover_duration_seconds_count{reason=\"initial\"}"), std::string::npos)
        << "an initial election is not a failover\n" << text;
    EXPECT_NE(text.find("elector_failover_duration_seconds_count{reason=\"deleted\"} 0\n"), std::string::npos)
        << "every failover reason's histogram exists from the start\n" << text;
    EXPECT_NE(text.find("elector_group_candidates{namespace=\"shop\",group=\"db\",state=\"eligible\"} 2\n"),
              std::string::npos)
        << text;

    for (std::string_view reason : group_metrics::metric_reasons()) {
        if (reason == "initial" || reason == "crashed") continue;
        EXPECT_NE(text.find(fmt::format("elector_leader_transitions_total{{namespace=\"shop\",group=\"db\",reason=\"{}\"}} 0\n",
                                        reason)),
                  std::string::npos)
            << "every reason's series exists from the start, so increase() sees its first transition\n" << text;
    }

    m.forget("shop", "db");
    const std::string after = r.expose(metrics::exposition_format::prometheus_text);
    EXPECT_EQ(after.find("group=\"db\""), std::string::npos) << after;
    EXPECT_NE(after.find("elector_group_leader{namespace=\"shop\",group=\"web\",pod=\"w\"} 1\n"), std::string::npos)
        << "other groups stay\n" << after;
    EXPECT_NE(after.find("elector_failover_duration_seconds_count{reason=\"crashed\"} 1\n"), std::string::npos)
        << "histograms have no group label and stay\n" << after;
}

double sample(const std::string& text, const std::string& series) {
    const std::string line = "\n" + series + " ";  // not "# HELP NAME ..."
    const auto at = text.find(line);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + line.size()));
}

TEST(group_metrics, leaderless_seconds_grow_only_while_a_group_has_no_leader) {
    metrics::registry r;
    kube::work_queue queue;
    group_metrics m(r, queue);
    const std::string series = "elector_group_leaderless_seconds_total{namespace=\"shop\",group=\"db\"}";
    auto none = led_by("", 1);
    none.status.conditions = {{.type = "LeaderElected", .status = "False", .reason = "NoEligibleCandidate"}};
    m.observe("shop", "db", "", none);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const double open = sample(r.expose(metrics::exposition_format::prometheus_text), series);
    EXPECT_GE(open, 0.03);
    m.observe("shop", "db", "", led_by("a", 2));
    const double closed = sample(r.expose(metrics::exposition_format::prometheus_text), series);
    EXPECT_GE(closed, open);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(sample(r.expose(metrics::exposition_format::prometheus_text), series), closed)
        << "with a leader, the counter stands still";
    m.blocked("shop", "db");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_GE(sample(r.expose(metrics::exposition_format::prometheus_text), series), closed + 0.03)
        << "a blocked group has no leader";
    m.forget("shop", "db");
    EXPECT_EQ(r.expose(metrics::exposition_format::prometheus_text).find("group=\"db\""), std::string::npos);
}

TEST(group_metrics, work_queue_series_are_read_at_scrape_time) {
    metrics::registry r;
    kube::work_queue queue({.base_delay = std::chrono::seconds(30)});  // the retried key stays delayed
    group_metrics m(r, queue);
    queue.add("shop/db");
    queue.add("shop/web");
    queue.add("shop/db");  // already queued: not counted again
    queue.add_rate_limited("shop/api");
    std::string text = r.expose(metrics::exposition_format::prometheus_text);
    EXPECT_EQ(sample(text, "elector_workqueue_depth"), 2) << text;
    EXPECT_EQ(sample(text, "elector_workqueue_adds_total"), 2) << text;
    EXPECT_EQ(sample(text, "elector_workqueue_retries_total"), 1) << text;
    auto item = queue.get({});
    ASSERT_TRUE(item);
    m.dequeued(item->waited);
    queue.done(item->key);
    text = r.expose(metrics::exposition_format::prometheus_text);
    EXPECT_EQ(sample(text, "elector_workqueue_depth"), 1) << text;
    EXPECT_EQ(sample(text, "elector_workqueue_queue_duration_seconds_count"), 1) << text;
}

}  // namespace
}  // namespace elector::controller
