#include "kube/informer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace elector::kube {
namespace {

std::shared_ptr<const pod> make_pod(const std::string& ns, const std::string& name, const std::string& owner,
                                    labels l, const std::string& rv = "1") {
    pod p;
    p.meta.namespace_ = ns;
    p.meta.name = name;
    p.meta.uid = ns + "-" + name;
    p.meta.resource_version = rv;
    p.meta.labels = std::move(l);
    if (!owner.empty()) p.meta.owner_references.push_back({"apps/v1", "ReplicaSet", owner, owner + "-uid", true});
    return std::make_shared<const pod>(std::move(p));
}

std::vector<std::string> names(const std::vector<store<pod>::ptr>& pods) {
    std::vector<std::string> out;
    for (const auto& p : pods) out.push_back(p->meta.name);
    std::sort(out.begin(), out.end());
    return out;
}

class informer_store : public ::testing::Test {
protected:
    void SetUp() override {
        s.add_index(indexes::by_namespace, indexes::namespace_of<pod>);
        s.add_index(indexes::by_owner_uid, indexes::owner_uids<pod>);
        s.add_index(indexes::by_label, indexes::label_pairs<pod>);
    }
    store<pod> s;
};

TEST_F(informer_store, indexes_follow_inserts_updates_and_deletes) {
    s.upsert("a/p1", make_pod("a", "p1", "rs1", {{"app", "web"}}));
    s.upsert("a/p2", make_pod("a", "p2", "rs1", {{"app", "web"}, {"role", "leader"}}));
    s.upsert("b/p3", make_pod("b", "p3", "rs2", {{"app", "db"}}));
    EXPECT_EQ(s.size(), 3u);
    EXPECT_EQ(names(s.by_index(indexes::by_namespace, "a")), (std::vector<std::string>{"p1", "p2"}));
    EXPECT_EQ(names(s.by_index(indexes::by_owner_uid, "rs1-uid")), (std::vector<std::string>{"p1", "p2"}));
    EXPECT_EQ(names(s.by_index(indexes::by_label, "role=leader")), (std::vector<std::string>{"p2"}));

    // An update moves the label: the old index entry goes, the new one comes.
    auto old = s.upsert("a/p2", make_pod("a", "p2", "rs1", {{"app", "web"}}, "2"));
    ASSERT_NE(old, nullptr);
    EXPECT_EQ(old->meta.resource_version, "1");
    EXPECT_TRUE(s.by_index(indexes::by_label, "role=leader").empty());
    s.upsert("a/p1", make_pod("a", "p1", "rs1", {{"app", "web"}, {"role", "leader"}}, "3"));
    EXPECT_EQ(names(s.by_index(indexes::by_label, "role=leader")), (std::vector<std::string>{"p1"}));

    EXPECT_NE(s.erase("a/p1"), nullptr);
    EXPECT_EQ(s.erase("a/p1"), nullptr);
    EXPECT_TRUE(s.by_index(indexes::by_label, "role=leader").empty());
    EXPECT_EQ(names(s.by_index(indexes::by_owner_uid, "rs1-uid")), (std::vector<std::string>{"p2"}));
    EXPECT_EQ(s.get("a/p1"), nullptr);
    EXPECT_EQ(s.get("b/p3")->meta.uid, "b-p3");
    EXPECT_TRUE(s.by_index("no-such-index", "x").empty());
}

TEST_F(informer_store, an_index_added_later_covers_existing_objects) {
    store<pod> late;
    late.upsert("a/p1", make_pod("a", "p1", "", {{"app", "web"}}));
    late.add_index(indexes::by_label, indexes::label_pairs<pod>);
    EXPECT_EQ(names(late.by_index(indexes::by_label, "app=web")), (std::vector<std::string>{"p1"}));
}

TEST(informer_keys, namespaced_and_cluster_scoped) {
    object_meta m;
    m.name = "n";
    EXPECT_EQ(key_of(m), "n");
    m.namespace_ = "ns";
    EXPECT_EQ(key_of(m), "ns/n");
}

TEST(informer_backoff, grows_to_the_cap_with_jitter_below_the_nominal_delay) {
    using namespace std::chrono_literals;
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto nominal = std::min<std::chrono::milliseconds>(100ms * (1LL << std::min(attempt, 10)), 5000ms);
        for (int i = 0; i < 50; ++i) {
            auto d = detail::backoff_delay(attempt, 100ms, 5000ms);
            EXPECT_GE(d, nominal / 2) << attempt;
            EXPECT_LE(d, nominal) << attempt;
        }
    }
    for (int i = 0; i < 100; ++i) {
        int t = detail::jittered_timeout_seconds(std::chrono::seconds(10));
        EXPECT_GE(t, 8);
        EXPECT_LE(t, 10);
    }
}

}  // namespace
}  // namespace elector::kube
