// group_metrics: the reason labels, the leader gauge that follows the
// leader, and a group's series removed with it.
#include "controller/group_metrics.hpp"

#include <gtest/gtest.h>

namespace elector::controller {
namespace {

TEST(group_metrics, transition_reasons_become_snake_case_labels) {
    EXPECT_EQ(group_metrics::metric_reason("Elected"), "initial");
    EXPECT_EQ(group_metrics::metric_reason("LeaderDeleted"), "deleted");
    EXPECT_EQ(group_metrics::metric_reason("LeaderTerminating"), "terminating");
    EXPECT_EQ(group_metrics::metric_reason("LeaderCrashed"), "crashed");
    EXPECT_EQ(group_metrics::metric_reason("LeaderNotReady"), "not_ready");
    EXPECT_EQ(group_metrics::metric_reason("LeaderNodeNotReady"), "node_not_ready");
    EXPECT_EQ(group_metrics::metric_reason("LeaseExpired"), "lease_expired");
    EXPECT_EQ(group_metrics::metric_reason("Rollout"), "rollout");
    EXPECT_EQ(group_metrics::metric_reason("Preferred"), "preferred");
    EXPECT_EQ(group_metrics::metric_reason("LeaseEdited"), "drift");
    EXPECT_EQ(group_metrics::metric_reason("TermRepaired"), "drift");
    EXPECT_EQ(group_metrics::metric_reason("LeaseChanged"), "lease_changed");
    EXPECT_EQ(group_metrics::metric_reason(""), "unknown");
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
    group_metrics m(r);
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
    EXPECT_NE(text.find("elector_group_candidates{namespace=\"shop\",group=\"db\",state=\"eligible\"} 2\n"),
              std::string::npos)
        << text;

    m.forget("shop", "db");
    const std::string after = r.expose(metrics::exposition_format::prometheus_text);
    EXPECT_EQ(after.find("group=\"db\""), std::string::npos) << after;
    EXPECT_NE(after.find("elector_group_leader{namespace=\"shop\",group=\"web\",pod=\"w\"} 1\n"), std::string::npos)
        << "other groups stay\n" << after;
    EXPECT_NE(after.find("elector_failover_duration_seconds_count{reason=\"crashed\"} 1\n"), std::string::npos)
        << "histograms have no group label and stay\n" << after;
}

}  // namespace
}  // namespace elector::controller
