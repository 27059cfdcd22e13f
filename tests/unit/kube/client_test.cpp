#include "kube/client.hpp"

#include <gtest/gtest.h>

namespace elector::kube {
namespace {

TEST(resource, paths_for_core_group_cluster_scoped_and_subresources) {
    EXPECT_EQ(resources::pods.path(), "/api/v1/pods");
    EXPECT_EQ(resources::pods.path("ns"), "/api/v1/namespaces/ns/pods");
    EXPECT_EQ(resources::pods.path("ns", "p", "status"), "/api/v1/namespaces/ns/pods/p/status");
    EXPECT_EQ(resources::nodes.path("ignored", "n1"), "/api/v1/nodes/n1");
    EXPECT_EQ(resources::leases.path("kube-system", "l"), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
    EXPECT_EQ(resources::electiongroups.path("a"), "/apis/elector.dev/v1alpha1/namespaces/a/electiongroups");
}

TEST(url_encode, encodes_selectors) {
    EXPECT_EQ(url_encode("app=web,role!=leader"), "app%3Dweb%2Crole%21%3Dleader");
    EXPECT_EQ(url_encode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
}

TEST(decode_watch_event, every_event_type) {
    auto added = decode_watch_event(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})");
    ASSERT_TRUE(added.has_value());
    EXPECT_EQ(added->type, watch_event_type::added);
    EXPECT_EQ(added->object["metadata"]["name"], "a");
    EXPECT_EQ(decode_watch_event(R"({"type":"MODIFIED","object":{}})")->type, watch_event_type::modified);
    EXPECT_EQ(decode_watch_event(R"({"type":"DELETED","object":{}})")->type, watch_event_type::deleted);
    EXPECT_EQ(decode_watch_event(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})")->type,
              watch_event_type::bookmark);
}

TEST(decode_watch_event, error_event_becomes_its_status_error) {
    auto e = decode_watch_event(
        R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","code":410,"message":"too old resource version"}})");
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().kind, error_kind::gone);
}

TEST(decode_watch_event, malformed_lines_are_decode_errors) {
    for (const char* line : {"{\"type\":\"ADDED\",\"object\":{\"a\":", "not json", "[1,2]", "{\"type\":\"ADDED\"}",
                             "{\"type\":7,\"object\":{}}", "{\"type\":\"ADDED\",\"object\":\"x\"}",
                             "{\"type\":\"SURPRISE\",\"object\":{}}"}) {
        auto e = decode_watch_event(line);
        ASSERT_FALSE(e.has_value()) << line;
        EXPECT_EQ(e.error().kind, error_kind::decode) << line;
    }
}

}  // namespace
}  // namespace elector::kube
