// elector's Kubernetes client against a real kube-apiserver (tests/env), and
// against a server that misbehaves on purpose (raw_server). Every assertion
// is on what the server answered; kubectl cross-checks where it helps.
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "kube/client.hpp"
#include "kube/client_metrics.hpp"
#include "kube/cluster_config.hpp"
#include "kube/objects.hpp"
#include "kube/time.hpp"
#include "metrics/registry.hpp"
#include "raw_server.hpp"
#include "widgets.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using namespace elector::kube;

const resource configmaps{"", "v1", "configmaps", true};
const resource widgets{"test.elector.dev", "v1", "widgets", true};

class kube_client_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        env_ = std::make_unique<control_plane>(control_plane_options{.nodes = 1});
        auto r = env_->kubectl({"create", "namespace", "client"});
        ASSERT_TRUE(r.ok()) << r.describe();
    }
    static void TearDownTestSuite() { env_.reset(); }

    static const control_plane& env() { return *env_; }

    static cluster_config admin_config() {
        auto config = load_kubeconfig({.explicit_path = env().kubeconfig()});
        EXPECT_TRUE(config.has_value()) << config.error();
        return *config;
    }

    static client make_client(const cluster_config& config, transport_options options = {}) {
        options.qps = options.qps == transport_options{}.qps ? 1000 : options.qps;
        options.burst = options.burst == transport_options{}.burst ? 1000 : options.burst;
        auto t = transport::create(config, options);
        EXPECT_TRUE(t.has_value()) << t.error();
        return client(*t);
    }

    static client admin() { return make_client(admin_config()); }

    static json lease_object(const std::string& name, const std::string& holder) {
        return {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", "client"}, {"labels", {{"app", "client-test"}}}}},
                {"spec", {{"holderIdentity", holder}, {"leaseDurationSeconds", 15}}}};
    }

    static inline std::unique_ptr<control_plane> env_;
};

TEST_F(kube_client_test, create_get_update_delete_and_their_errors) {
    auto c = admin();
    auto created = c.create(resources::leases, "client", lease_object("crud", "pod-a"));
    ASSERT_TRUE(created.has_value()) << created.error().to_string();
    EXPECT_EQ((*created)["spec"]["holderIdentity"], "pod-a");
    const std::string rv = (*created)["metadata"]["resourceVersion"];

    auto again = c.create(resources::leases, "client", lease_object("crud", "pod-a"));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().kind, error_kind::already_exists);
    EXPECT_EQ(again.error().http_status, 409);

    auto got = c.get(resources::leases, "client", "crud");
    ASSERT_TRUE(got.has_value()) << got.error().to_string();
    EXPECT_EQ((*got)["metadata"]["uid"], (*created)["metadata"]["uid"]);

    json changed = *got;
    changed["spec"]["holderIdentity"] = "pod-b";
    auto updated = c.update(resources::leases, changed);
    ASSERT_TRUE(updated.has_value()) << updated.error().to_string();
    EXPECT_NE((*updated)["metadata"]["resourceVersion"], rv);
    EXPECT_EQ(env().get_json({"get", "lease", "crud", "-n", "client"})["spec"]["holderIdentity"], "pod-b");

    // The same update again carries the now stale resourceVersion.
    changed["spec"]["holderIdentity"] = "pod-c";
    auto stale = c.update(resources::leases, changed);
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().kind, error_kind::conflict);
    EXPECT_EQ(stale.error().reason, "Conflict");
    EXPECT_NE(stale.error().message.find("the object has been modified"), std::string::npos) << stale.error().message;

    auto invalid = lease_object("bad", "x");
    invalid["spec"]["leaseDurationSeconds"] = -1;
    auto refused = c.create(resources::leases, "client", invalid);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().kind, error_kind::invalid);
    ASSERT_FALSE(refused.error().causes.empty());
    EXPECT_EQ(refused.error().causes[0].field, "spec.leaseDurationSeconds");

    auto deleted = c.remove(resources::leases, "client", "crud");
    ASSERT_TRUE(deleted.has_value()) << deleted.error().to_string();
    auto missing = c.get(resources::leases, "client", "crud");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().kind, error_kind::not_found);
    EXPECT_EQ(c.remove(resources::leases, "client", "crud").error().kind, error_kind::not_found);
}

TEST_F(kube_client_test, every_request_is_counted_by_verb_and_code) {
    metrics::registry reg;
    auto t = transport::create(admin_config(), {.qps = 1000, .burst = 1000});
    ASSERT_TRUE(t.has_value()) << t.error();
    const client c(*t, client_metrics(reg));
    ASSERT_TRUE(c.create(resources::leases, "client", lease_object("counted", "pod-a")));
    EXPECT_FALSE(c.create(resources::leases, "client", lease_object("counted", "pod-a")));
    ASSERT_TRUE(c.get(resources::leases, "client", "counted"));
    ASSERT_TRUE(c.list(resources::leases, "client"));
    ASSERT_TRUE(c.patch(resources::leases, "client", "counted", patch_type::merge, {{"spec", {{"holderIdentity", "b"}}}}));
    ASSERT_TRUE(c.remove(resources::leases, "client", "counted"));
    EXPECT_FALSE(c.get(resources::leases, "client", "counted"));
    ASSERT_TRUE(c.watch(resources::leases, "client", {.timeout_seconds = 1}, [](watch_event&&) { return true; }));

    const std::string text = reg.expose(metrics::exposition_format::prometheus_text);
    for (const char* line : {R"(elector_api_requests_total{verb="create",code="201"} 1)",
                             R"(elector_api_requests_total{verb="create",code="409"} 1)",
                             R"(elector_api_requests_total{verb="get",code="200"} 1)",
                             R"(elector_api_requests_total{verb="get",code="404"} 1)",
                             R"(elector_api_requests_total{verb="list",code="200"} 1)",
                             R"(elector_api_requests_total{verb="patch",code="200"} 1)",
                             R"(elector_api_requests_total{verb="delete",code="200"} 1)",
                             R"(elector_api_requests_total{verb="watch",code="200"} 1)",
                             R"(elector_api_request_duration_seconds_count{verb="get"} 2)",
                             R"(elector_api_request_duration_seconds_count{verb="create"} 2)"}) {
        EXPECT_NE(text.find(std::string("\n") + line + "\n"), std::string::npos) << line << "\n" << text;
    }
    EXPECT_EQ(text.find(R"(elector_api_request_duration_seconds_count{verb="watch"})"), std::string::npos)
        << "a watch's duration is how long it streamed, not a latency\n" << text;
}

TEST_F(kube_client_test, merge_json_and_strategic_merge_patches) {
    auto c = admin();
    ASSERT_TRUE(c.create(resources::leases, "client", lease_object("patched", "a")).has_value());

    auto merged = c.patch(resources::leases, "client", "patched", patch_type::merge,
                          {{"metadata", {{"labels", {{"role", "leader"}, {"app", nullptr}}}}}});
    ASSERT_TRUE(merged.has_value()) << merged.error().to_string();
    EXPECT_EQ((*merged)["metadata"]["labels"], (json{{"role", "leader"}}));

    auto patched = c.patch(resources::leases, "client", "patched", patch_type::json_patch,
                           json::array({{{"op", "test"}, {"path", "/spec/holderIdentity"}, {"value", "a"}},
                                        {{"op", "replace"}, {"path", "/spec/holderIdentity"}, {"value", "b"}}}));
    ASSERT_TRUE(patched.has_value()) << patched.error().to_string();
    EXPECT_EQ((*patched)["spec"]["holderIdentity"], "b");
    // A failed "test" operation changes nothing.
    auto failed = c.patch(resources::leases, "client", "patched", patch_type::json_patch,
                          json::array({{{"op", "test"}, {"path", "/spec/holderIdentity"}, {"value", "a"}},
                                       {{"op", "replace"}, {"path", "/spec/holderIdentity"}, {"value", "c"}}}));
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().http_status, 422) << failed.error().to_string();
    EXPECT_EQ(env().get_json({"get", "lease", "patched", "-n", "client"})["spec"]["holderIdentity"], "b");

    // Strategic merge on a built-in kind merges containers by name.
    auto r = env().kubectl({"create", "deployment", "smp", "-n", "client", "--image=registry.invalid/a:1"});
    ASSERT_TRUE(r.ok()) << r.describe();
    auto smp = c.patch(resources::deployments, "client", "smp", patch_type::strategic_merge,
                       {{"spec", {{"template", {{"spec", {{"containers", {{{"name", "a"}, {"image", "registry.invalid/a:2"}}}}}}}}}}});
    ASSERT_TRUE(smp.has_value()) << smp.error().to_string();
    const auto& containers = (*smp)["spec"]["template"]["spec"]["containers"];
    ASSERT_EQ(containers.size(), 1u);
    EXPECT_EQ(containers[0]["image"], "registry.invalid/a:2");
    EXPECT_TRUE(containers[0].contains("imagePullPolicy")) << "strategic merge kept the other fields";
    // A strategic merge patch on a custom resource is refused (415).
    auto crd_smp = c.patch(resources::electiongroups, "client", "x", patch_type::strategic_merge, json::object());
    ASSERT_FALSE(crd_smp.has_value());
}

TEST_F(kube_client_test, pagination_over_a_thousand_objects) {
    auto c = admin();
    auto ns = env().kubectl({"create", "namespace", "pages"});
    ASSERT_TRUE(ns.ok()) << ns.describe();
    constexpr int count = 1000;
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < 4; ++w) {
        writers.emplace_back([&, w] {
            for (int i = w; i < count; i += 4) {
                json cm{{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                        {"metadata", {{"name", fmt::format("cm-{:04}", i)}, {"labels", {{"parity", i % 2 ? "odd" : "even"}}}}},
                        {"data", {{"i", std::to_string(i)}}}};
                if (!c.create(configmaps, "pages", cm)) ++failures;
            }
        });
    }
    for (auto& t : writers) t.join();
    ASSERT_EQ(failures, 0);

    auto first = c.list(configmaps, "pages", {.limit = 100});
    ASSERT_TRUE(first.has_value()) << first.error().to_string();
    EXPECT_EQ(first->items.size(), 100u);
    EXPECT_FALSE(first->continue_token.empty());

    auto all = c.list_all(configmaps, "pages", {.limit = 100});
    ASSERT_TRUE(all.has_value()) << all.error().to_string();
    std::set<std::string> names;
    for (const auto& cm : all->items) {
        if (cm["metadata"]["name"].get<std::string>().starts_with("cm-")) names.insert(cm["metadata"]["name"]);
    }
    EXPECT_EQ(names.size(), static_cast<std::size_t>(count));
    EXPECT_FALSE(all->resource_version.empty());

    auto odd = c.list_all(configmaps, "pages", {.label_selector = "parity=odd", .limit = 128});
    ASSERT_TRUE(odd.has_value());
    EXPECT_EQ(odd->items.size(), static_cast<std::size_t>(count / 2));
    auto one = c.list(configmaps, "pages", {.field_selector = "metadata.name=cm-0042"});
    ASSERT_TRUE(one.has_value());
    ASSERT_EQ(one->items.size(), 1u);
    EXPECT_EQ(one->items[0]["data"]["i"], "42");
    auto bad = c.list(configmaps, "pages", {.field_selector = "data.i=42"});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().kind, error_kind::bad_request) << bad.error().to_string();
}

TEST_F(kube_client_test, status_subresource_and_field_selectors_on_pods) {
    auto c = admin();
    install_widget_crd(env());

    json w{{"apiVersion", "test.elector.dev/v1"}, {"kind", "Widget"},
           {"metadata", {{"name", "w"}, {"namespace", "client"}}}, {"spec", {{"size", 1}}}};
    result<json> created = std::unexpected(make_error(error_kind::other, "not tried"));
    // The new resource may take a moment to be served.
    ASSERT_TRUE(eventually(10s, [&] { return (created = c.create(widgets, "client", w)).has_value(); }))
        << created.error().to_string();

    json with_status = *created;
    with_status["status"] = {{"phase", "Ready"}};
    with_status["spec"]["size"] = 99;  // ignored by the status subresource
    auto status = c.update_status(widgets, with_status);
    ASSERT_TRUE(status.has_value()) << status.error().to_string();
    EXPECT_EQ((*status)["status"]["phase"], "Ready");
    EXPECT_EQ((*status)["spec"]["size"], 1);
    // ...and the main resource ignores status.
    json main = *status;
    main["status"]["phase"] = "Changed";
    main["spec"]["size"] = 2;
    auto updated = c.update(widgets, main);
    ASSERT_TRUE(updated.has_value()) << updated.error().to_string();
    EXPECT_EQ((*updated)["status"]["phase"], "Ready");
    EXPECT_EQ((*updated)["spec"]["size"], 2);

    auto r = env().kubectl({"create", "deployment", "web", "-n", "client", "--image=registry.invalid/web:1", "--replicas=2"});
    ASSERT_TRUE(r.ok()) << r.describe();
    const std::string node = env().node_names()[0];
    ASSERT_TRUE(eventually(15s, [&] {
        auto pods = c.list(resources::pods, "client", {.label_selector = "app=web", .field_selector = "spec.nodeName=" + node});
        return pods && pods->items.size() == 2;
    }));
    auto running = c.list(resources::pods, "", {.field_selector = "status.phase=Running,metadata.namespace=client"});
    ASSERT_TRUE(running.has_value()) << running.error().to_string();
    for (const auto& p : running->items) EXPECT_EQ(p["status"]["phase"], "Running");
}

TEST_F(kube_client_test, delete_preconditions_and_propagation) {
    auto c = admin();
    auto created = c.create(resources::leases, "client", lease_object("precond", "a"));
    ASSERT_TRUE(created.has_value());
    const std::string uid = (*created)["metadata"]["uid"];
    const std::string rv = (*created)["metadata"]["resourceVersion"];

    auto wrong_uid = c.remove(resources::leases, "client", "precond", {.precondition_uid = "00000000-0000-0000-0000-000000000000"});
    ASSERT_FALSE(wrong_uid.has_value());
    EXPECT_EQ(wrong_uid.error().kind, error_kind::conflict);
    EXPECT_NE(wrong_uid.error().message.find("the UID in the precondition"), std::string::npos) << wrong_uid.error().message;

    auto bumped = c.patch(resources::leases, "client", "precond", patch_type::merge, {{"spec", {{"holderIdentity", "b"}}}});
    ASSERT_TRUE(bumped.has_value());
    auto wrong_rv = c.remove(resources::leases, "client", "precond", {.precondition_resource_version = rv});
    ASSERT_FALSE(wrong_rv.has_value());
    EXPECT_EQ(wrong_rv.error().kind, error_kind::conflict);

    auto ok = c.remove(resources::leases, "client", "precond",
                       {.precondition_uid = uid, .precondition_resource_version = (*bumped)["metadata"]["resourceVersion"]});
    ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
    EXPECT_FALSE(env().kubectl({"get", "lease", "precond", "-n", "client"}).ok());

    auto r = env().kubectl({"create", "deployment", "fg", "-n", "client", "--image=registry.invalid/fg:1"});
    ASSERT_TRUE(r.ok()) << r.describe();
    auto foreground = c.remove(resources::deployments, "client", "fg", {.propagation_policy = "Foreground"});
    ASSERT_TRUE(foreground.has_value()) << foreground.error().to_string();
    // The server answers with the object, now carrying the foreground finalizer
    // (or already gone if the garbage collector was quicker).
    if ((*foreground)["kind"] == "Deployment") {
        EXPECT_TRUE((*foreground)["metadata"].contains("deletionTimestamp"));
        EXPECT_EQ((*foreground)["metadata"]["finalizers"], json::array({"foregroundDeletion"}));
    }
    EXPECT_TRUE(eventually(20s, [&] { return !env().kubectl({"get", "deployment", "fg", "-n", "client"}).ok(); }));
}

TEST_F(kube_client_test, watch_from_a_list_sees_every_change_in_order) {
    auto c = admin();
    auto listed = c.list(resources::leases, "client", {.label_selector = "app=watched"});
    ASSERT_TRUE(listed.has_value());
    std::vector<std::pair<watch_event_type, std::string>> seen;
    std::mutex mutex;
    std::stop_source stop;
    std::thread watcher([&] {
        auto done = c.watch(resources::leases, "client",
                            {.resource_version = listed->resource_version, .label_selector = "app=watched", .stop = stop.get_token()},
                            [&](watch_event&& e) {
                                std::lock_guard lock(mutex);
                                if (e.type != watch_event_type::bookmark) {
                                    seen.emplace_back(e.type, e.object["spec"].value("holderIdentity", ""));
                                }
                                return true;
                            });
        EXPECT_TRUE(done.has_value()) << done.error().to_string();
    });
    auto l = lease_object("w1", "a");
    l["metadata"]["labels"]["app"] = "watched";
    ASSERT_TRUE(c.create(resources::leases, "client", l).has_value());
    ASSERT_TRUE(c.patch(resources::leases, "client", "w1", patch_type::merge, {{"spec", {{"holderIdentity", "b"}}}}).has_value());
    ASSERT_TRUE(c.remove(resources::leases, "client", "w1").has_value());
    EXPECT_TRUE(eventually(10s, [&] {
        std::lock_guard lock(mutex);
        return seen.size() >= 3;
    }));
    const auto stop_asked = std::chrono::steady_clock::now();
    stop.request_stop();
    watcher.join();
    EXPECT_LT(std::chrono::steady_clock::now() - stop_asked, 3s) << "the watch did not stop promptly";
    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], (std::pair{watch_event_type::added, std::string("a")}));
    EXPECT_EQ(seen[1], (std::pair{watch_event_type::modified, std::string("b")}));
    EXPECT_EQ(seen[2].first, watch_event_type::deleted);
}

TEST_F(kube_client_test, the_server_ends_a_watch_after_timeout_seconds) {
    auto c = admin();
    const auto started = std::chrono::steady_clock::now();
    auto done = c.watch(resources::leases, "client", {.timeout_seconds = 1}, [](watch_event&&) { return true; });
    EXPECT_TRUE(done.has_value()) << done.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(kube_client_test, token_and_client_certificate_authentication) {
    auto by_cert = admin_config();
    ASSERT_FALSE(by_cert.client_cert_pem.empty());
    auto who = make_client(by_cert).get(resources::namespaces, "", "client");
    EXPECT_TRUE(who.has_value()) << who.error().to_string();

    cluster_config by_token = by_cert;
    by_token.client_cert_pem.clear();
    by_token.client_key_pem.clear();
    by_token.token_file = env().info()["token_file"];
    EXPECT_TRUE(make_client(by_token).get(resources::namespaces, "", "client").has_value());

    cluster_config wrong_token = by_token;
    wrong_token.token_file.clear();
    wrong_token.token = "not-the-token";
    auto refused = make_client(wrong_token).get(resources::namespaces, "", "client");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().kind, error_kind::unauthorized) << refused.error().to_string();

    cluster_config anonymous = by_token;
    anonymous.token_file.clear();
    auto forbidden = make_client(anonymous).get(resources::namespaces, "", "client");
    ASSERT_FALSE(forbidden.has_value());
    EXPECT_EQ(forbidden.error().kind, error_kind::forbidden) << forbidden.error().to_string();
    EXPECT_NE(forbidden.error().message.find("system:anonymous"), std::string::npos);
}

TEST_F(kube_client_test, a_wrong_certificate_authority_is_a_clear_tls_error) {
    const std::string dir = env().dir() + "/wrong-ca";
    std::filesystem::create_directories(dir);
    auto r = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-subj", "/CN=not-the-cluster-ca", "-days", "1", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt"});
    ASSERT_TRUE(r.ok()) << r.describe();
    std::ifstream in(dir + "/ca.crt");
    std::stringstream pem;
    pem << in.rdbuf();
    cluster_config config = admin_config();
    config.ca_pem = pem.str();
    auto got = make_client(config).get(resources::namespaces, "", "client");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::tls) << got.error().to_string();
    EXPECT_NE(got.error().message.find("certificate"), std::string::npos) << got.error().message;
    EXPECT_NE(got.error().message.find(config.server), std::string::npos) << got.error().message;
}

TEST_F(kube_client_test, connections_are_reused) {
    auto t = transport::create(admin_config(), {.qps = 1000, .burst = 1000});
    ASSERT_TRUE(t.has_value());
    client c(*t);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.get(resources::namespaces, "", "client").has_value());
    EXPECT_EQ((*t)->connections_opened(), 1u);
}

TEST_F(kube_client_test, the_rate_limit_spaces_normal_requests_but_not_urgent_ones) {
    auto t = transport::create(admin_config(), {.qps = 10, .burst = 1});
    ASSERT_TRUE(t.has_value());
    client c(*t);
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(c.get(resources::namespaces, "", "client").has_value());
    // Five waits of 100 ms at least: a lower bound, which load cannot break.
    EXPECT_GE(std::chrono::steady_clock::now() - started, 450ms);
    started = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.get(resources::namespaces, "", "client", {.prio = priority::urgent}).has_value());
    }
    // The bucket is in debt now: five normal GETs would wait 500 ms at least.
    const auto urgent = std::chrono::steady_clock::now() - started;
    RecordProperty("five_urgent_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(urgent).count()));
    EXPECT_LT(urgent, 400ms) << "urgent requests waited behind the rate limit";
}

TEST_F(kube_client_test, typed_views_round_trip_through_the_api_server) {
    auto c = admin();
    // A Lease written as client-go's leader election writes one.
    lease l;
    l.meta.name = "typed";
    l.meta.namespace_ = "client";
    l.holder_identity = "pod-a";
    l.lease_duration_seconds = 15;
    const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    l.acquire_time = now;
    l.renew_time = now;
    l.lease_transitions = 3;
    auto created = c.create(resources::leases, "client", l.to_json());
    ASSERT_TRUE(created.has_value()) << created.error().to_string();
    auto back = lease::from_json(*created);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->holder_identity, "pod-a");
    EXPECT_EQ(back->lease_transitions, 3);
    EXPECT_EQ(back->renew_time, l.renew_time) << "MicroTime must survive the server to the microsecond";
    auto k = env().get_json({"get", "lease", "typed", "-n", "client"});
    EXPECT_EQ(k["spec"]["renewTime"], format_micro_time(*l.renew_time));
    EXPECT_EQ(k["spec"]["leaseTransitions"], 3);

    // An Event about it, as kubectl shows events.
    auto event = c.create(resources::events, "client",
                          make_event({.involved = {.api_version = "coordination.k8s.io/v1", .kind = "Lease", .name = "typed",
                                                   .namespace_ = "client", .uid = back->meta.uid},
                                      .reason = "LeaderElected", .message = "pod-a became the leader",
                                      .reporting_instance = "elector-test", .now = std::chrono::system_clock::now()}));
    ASSERT_TRUE(event.has_value()) << event.error().to_string();
    auto events = env().get_json({"get", "events", "-n", "client", "--field-selector", "involvedObject.name=typed"});
    ASSERT_EQ(events["items"].size(), 1u);
    EXPECT_EQ(events["items"][0]["reason"], "LeaderElected");
    EXPECT_EQ(events["items"][0]["source"]["component"], "elector");

    // What the control plane writes parses into the compact views.
    auto r = env().kubectl({"create", "deployment", "typed", "-n", "client", "--image=registry.invalid/t:1"});
    ASSERT_TRUE(r.ok()) << r.describe();
    ASSERT_TRUE(eventually(15s, [&] {
        auto pods = c.list(resources::pods, "client", {.label_selector = "app=typed"});
        return pods && pods->items.size() == 1 && pod::from_json(pods->items[0]).value_or(pod{}).ready == true;
    }));
    auto p = pod::from_json(c.list(resources::pods, "client", {.label_selector = "app=typed"})->items[0]);
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->phase, "Running");
    EXPECT_FALSE(p->pod_ip.empty());
    ASSERT_EQ(p->containers.size(), 1u);
    const auto* owner = p->controller_owner();
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(owner->kind, "ReplicaSet");
    auto rs = replica_set::from_json(*c.get(resources::replicasets, "client", owner->name));
    ASSERT_TRUE(rs.has_value()) << rs.error();
    EXPECT_EQ(rs->revision, 1);
    auto d = deployment::from_json(*c.get(resources::deployments, "client", "typed"));
    ASSERT_TRUE(d.has_value()) << d.error();
    EXPECT_EQ(d->revision, 1);
    EXPECT_EQ(d->strategy_type, "RollingUpdate");
    ASSERT_NE(find_label(d->selector_match_labels, "app"), nullptr);
    EXPECT_EQ(*find_label(d->selector_match_labels, "app"), "typed");
    auto n = node::from_json(*c.get(resources::nodes, "", p->node_name));
    ASSERT_TRUE(n.has_value()) << n.error();
    EXPECT_EQ(n->ready, true);
}

// The elector binary: it loads the kubeconfig, checks the API server, and
// says clearly what is wrong when it cannot.
TEST_F(kube_client_test, the_elector_binary_connects_and_stops_on_sigterm) {
    const std::string log = env().dir() + "/elector.log";
    child_process elector({elector_binary(), "--kubeconfig", env().kubeconfig(), "--log-format=json",
                           "--leader-api-bind-address=127.0.0.1:0"},
                          log, log);
    ASSERT_TRUE(eventually(10s, [&] { return read_text(log).find("connected to Kubernetes v1.20.2") != std::string::npos; }))
        << read_text(log);
    elector.signal(SIGTERM);
    auto status = elector.wait(5s);
    ASSERT_TRUE(status.has_value()) << "elector did not stop on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << read_text(log);
    std::stringstream lines(read_text(log));
    for (std::string line; std::getline(lines, line);) {
        EXPECT_FALSE(json::parse(line, nullptr, false).is_discarded()) << "not a JSON log line: " << line;
    }
}

TEST_F(kube_client_test, the_elector_binary_names_the_file_and_field_of_a_broken_kubeconfig) {
    const std::string broken = env().dir() + "/broken.kubeconfig";
    std::string text = read_text(env().kubeconfig());
    const std::string field = "client-key-data: ";
    auto at = text.find(field);
    ASSERT_NE(at, std::string::npos);
    text.insert(at + field.size(), "bm90$YmFzZTY0");  // "$" is not base64
    std::ofstream(broken) << text;
    auto r = run({elector_binary(), "--kubeconfig", broken}, {.timeout = 10s});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("kubeconfig " + broken), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("client-key-data: not valid base64"), std::string::npos) << r.err;

    r = run({elector_binary(), "--kubeconfig", env().dir() + "/missing"}, {.timeout = 10s});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(env().dir() + "/missing"), std::string::npos) << r.err;
}

TEST_F(kube_client_test, the_elector_binary_reports_an_unreachable_api_server) {
    int port = 0;
    {
        raw_server gone([](const raw_server::connection&) {});
        port = gone.port();
    }
    const std::string kubeconfig = env().dir() + "/unreachable.kubeconfig";
    std::ofstream(kubeconfig) << fmt::format(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{}'}}\n"
        "users:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\n"
        "current-context: x\n",
        port);
    auto r = run({elector_binary(), "--kubeconfig", kubeconfig, "--kube-api-timeout=2s"}, {.timeout = 20s});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(fmt::format("cannot reach the Kubernetes API at https://127.0.0.1:{}", port)), std::string::npos)
        << r.err;
}

// At --log-level=trace with --log-format=json, the bearer token (right or
// wrong) never reaches elector's output, and every line is a JSON object.
TEST_F(kube_client_test, the_elector_binary_never_logs_its_bearer_token) {
    const auto admin = admin_config();
    const std::string ca = env().dir() + "/token-log-ca.crt";
    std::ofstream(ca) << admin.ca_pem;
    std::string token = read_text(env().info()["token_file"]);
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())) != 0) token.pop_back();
    ASSERT_GE(token.size(), 16u);
    std::random_device random;
    const std::string wrong = fmt::format("elector-wrong-token-{:08x}{:08x}", random(), random());
    auto kubeconfig_with = [&](const std::string& name, const std::string& secret) {
        const std::string path = env().dir() + "/" + name + ".kubeconfig";
        std::ofstream(path) << fmt::format(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n"
            "  cluster: {{server: '{}', certificate-authority: '{}'}}\n"
            "users:\n- name: u\n  user: {{token: '{}'}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\n"
            "current-context: x\n",
            admin.server, ca, secret);
        return path;
    };
    // The JSON lines of `err`; fails the test on any line that is not one.
    auto json_lines = [](const std::string& err) {
        std::vector<json> out;
        std::stringstream in(err);
        for (std::string line; std::getline(in, line);) {
            auto j = json::parse(line, nullptr, false);
            EXPECT_TRUE(j.is_object()) << "not a JSON log line: " << line;
            if (!j.is_object()) continue;
            for (const char* key : {"time", "level", "msg"}) {
                EXPECT_TRUE(j.contains(key) && j[key].is_string()) << key << " missing in " << line;
            }
            out.push_back(std::move(j));
        }
        return out;
    };
    const std::vector<std::string> flags{"--log-level=trace",
                                         "--log-format=json",
                                         "--leader-elect",
                                         "--leader-election-namespace=client",
                                         "--leader-election-id=token-log",
                                         "--leader-election-retry-period=500ms",
                                         "--metrics-bind-address=127.0.0.1:0",
                                         "--health-probe-bind-address=127.0.0.1:0",
                                         "--leader-api-bind-address=127.0.0.1:0"};

    // The right token: it connects, leads, renews, and stops on SIGTERM.
    {
        std::vector<std::string> argv{elector_binary(), "--kubeconfig", kubeconfig_with("token-log", token)};
        argv.insert(argv.end(), flags.begin(), flags.end());
        const std::string out = env().dir() + "/token-log.out";
        const std::string err = env().dir() + "/token-log.err";
        child_process elector(argv, out, err);
        EXPECT_TRUE(eventually(10s, [&] { return read_text(err).find("renewed the lease") != std::string::npos; }))
            << read_text(err);
        elector.signal(SIGTERM);
        auto status = elector.wait(10s);
        ASSERT_TRUE(status.has_value()) << "elector did not stop on SIGTERM";
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << read_text(err);
        const std::string text = read_text(err);
        EXPECT_EQ(text.find(token), std::string::npos) << "the token is in the log:\n" << text;
        EXPECT_EQ(read_text(out).find(token), std::string::npos) << read_text(out);
        std::set<std::string> levels;
        bool started = false;
        for (const auto& j : json_lines(text)) {
            levels.insert(j["level"].get<std::string>());
            if (j.value("event", "") == "started-leading") {
                started = true;
                EXPECT_EQ(j.value("lease", ""), "client/token-log") << j.dump();
                EXPECT_FALSE(j.value("mono", "").empty()) << j.dump();
            }
        }
        EXPECT_TRUE(started) << "no started-leading line with its fields lifted:\n" << text;
        EXPECT_TRUE(levels.contains("debug")) << "--log-level=trace did not show debug lines";
    }
    // A wrong token: 401, said clearly, exit 1; the wrong token is not shown either.
    {
        std::vector<std::string> argv{elector_binary(), "--kubeconfig", kubeconfig_with("wrong-token-log", wrong)};
        argv.insert(argv.end(), flags.begin(), flags.end());
        auto r = run(argv, {.timeout = 10s});
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("Unauthorized (401)"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(wrong), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find(wrong), std::string::npos) << r.out;
        EXPECT_EQ(r.err.find(token), std::string::npos) << r.err;
        bool explained = false;
        for (const auto& j : json_lines(r.err)) {
            const bool unauthorized = j.value("error", "").find("Unauthorized (401)") != std::string::npos;
            if (j.value("level", "") == "error" && unauthorized) {
                explained = true;
                EXPECT_EQ(j.value("server", ""), admin.server) << j.dump();
            }
        }
        EXPECT_TRUE(explained) << "no error line with an error field:\n" << r.err;
    }
}

// --- a server that misbehaves ------------------------------------------------

cluster_config plain(const raw_server& s) { return {.server = s.url(), .source = "test"}; }

std::string http_response(int code, std::string_view body, std::string_view extra_headers = "") {
    return fmt::format("HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{}", code,
                       body.size(), extra_headers, body);
}

TEST(kube_client_bad_server, garbage_instead_of_http_is_a_decode_error) {
    raw_server s([](const raw_server::connection& c) { c.write("garbage\r\n\r\n"); });
    auto got = client(*transport::create(plain(s), {})).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_TRUE(got.error().kind == error_kind::decode || got.error().kind == error_kind::connection)
        << got.error().to_string();
    EXPECT_NE(got.error().message.find(s.url()), std::string::npos) << got.error().message;
}

TEST(kube_client_bad_server, a_2xx_answer_that_is_not_json_is_a_decode_error) {
    raw_server s([](const raw_server::connection& c) { c.write(http_response(200, "<html>hello</html>")); });
    auto got = client(*transport::create(plain(s), {})).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::decode) << got.error().to_string();
    EXPECT_NE(got.error().message.find("<html>hello"), std::string::npos);
}

TEST(kube_client_bad_server, truncated_json_is_a_clear_error) {
    raw_server s([](const raw_server::connection& c) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"kind\":\"Pod\",\"meta");
    });
    auto got = client(*transport::create(plain(s), {})).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::connection) << got.error().to_string();
    EXPECT_TRUE(got.error().retryable());
}

TEST(kube_client_bad_server, a_silent_server_times_out_at_the_request_timeout) {
    raw_server s([&](const raw_server::connection& c) { c.wait_for_close(s.stopping()); });
    auto started = std::chrono::steady_clock::now();
    auto got = client(*transport::create(plain(s), {.timeout = 500ms})).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::timeout) << got.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(kube_client_bad_server, an_unreachable_server_is_a_connection_error) {
    // Bind a port, then close it: nothing listens there.
    int port = 0;
    {
        raw_server gone([](const raw_server::connection&) {});
        port = gone.port();
    }
    cluster_config config{.server = fmt::format("https://127.0.0.1:{}", port)};
    metrics::registry reg;
    auto got = client(*transport::create(config, {}), client_metrics(reg)).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::connection) << got.error().to_string();
    EXPECT_NE(got.error().message.find(config.server), std::string::npos);
    const std::string text = reg.expose(metrics::exposition_format::prometheus_text);
    EXPECT_NE(text.find("elector_api_requests_total{verb=\"get\",code=\"<error>\"} 1\n"), std::string::npos) << text;
}

TEST(kube_client_bad_server, retry_after_and_user_agent) {
    raw_server s([](const raw_server::connection& c) {
        c.write(http_response(429, R"({"kind":"Status","reason":"TooManyRequests","message":"slow down","code":429})",
                              "Retry-After: 4\r\n"));
    });
    auto got = client(*transport::create(plain(s), {.user_agent = "elector/9.9.9 (test)"})).get(resources::pods, "ns", "p");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, error_kind::too_many_requests);
    ASSERT_TRUE(got.error().retry_after.has_value());
    EXPECT_EQ(got.error().retry_after->count(), 4);
    ASSERT_EQ(s.requests().size(), 1u);
    EXPECT_NE(s.requests()[0].find("User-Agent: elector/9.9.9 (test)"), std::string::npos) << s.requests()[0];
    EXPECT_NE(s.requests()[0].find("GET /api/v1/namespaces/ns/pods/p HTTP/1.1"), std::string::npos);
}

std::string gzip(std::string_view in) {
    z_stream z{};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(compressBound(static_cast<uLong>(in.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

TEST(kube_client_bad_server, gzip_responses_are_decoded_and_asked_for) {
    const std::string body = R"({"kind":"Pod","metadata":{"name":"p"}})";
    raw_server s([&](const raw_server::connection& c) {
        auto z = gzip(body);
        c.write(fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                            "Content-Length: {}\r\n\r\n{}", z.size(), z));
    });
    auto got = client(*transport::create(plain(s), {})).get(resources::pods, "ns", "p");
    ASSERT_TRUE(got.has_value()) << got.error().to_string();
    EXPECT_EQ((*got)["metadata"]["name"], "p");
    EXPECT_NE(s.requests()[0].find("gzip"), std::string::npos) << s.requests()[0];
}

std::string chunk(std::string_view data) { return fmt::format("{:x}\r\n{}\r\n", data.size(), data); }

TEST(kube_client_bad_server, a_watch_closed_mid_line_is_an_error_after_the_whole_events) {
    raw_server s([](const raw_server::connection& c) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.write(chunk("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MOD"));
        c.write(chunk("IFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"DELETED\",\"obj"));
        c.write("0\r\n\r\n");  // the server ends the response in the middle of the third event
    });
    std::vector<watch_event_type> seen;
    auto done = client(*transport::create(plain(s), {})).watch(resources::pods, "ns", {}, [&](watch_event&& e) {
        seen.push_back(e.type);
        return true;
    });
    ASSERT_FALSE(done.has_value());
    EXPECT_EQ(done.error().kind, error_kind::connection) << done.error().to_string();
    EXPECT_NE(done.error().message.find("middle of a line"), std::string::npos) << done.error().message;
    EXPECT_EQ(seen, (std::vector{watch_event_type::added, watch_event_type::modified}));
}

TEST(kube_client_bad_server, a_watch_connection_dropped_mid_chunk_is_a_connection_error) {
    raw_server s([](const raw_server::connection& c) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.write("40\r\n{\"type\":\"ADDED\",\"obj");  // then the connection closes
    });
    auto done = client(*transport::create(plain(s), {})).watch(resources::pods, "ns", {}, [](watch_event&&) { return true; });
    ASSERT_FALSE(done.has_value());
    EXPECT_EQ(done.error().kind, error_kind::connection) << done.error().to_string();
}

TEST(kube_client_bad_server, a_watch_with_garbage_events_or_an_error_event_ends_with_that_error) {
    raw_server s([](const raw_server::connection& c) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        if (c.request_head.find("gone") != std::string::npos) {
            c.write(chunk(R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","code":410,"message":"too old"}})" "\n"));
        } else {
            c.write(chunk("{\"type\":\"ADDED\",\"object\":{}}\nthis is not json\n"));
        }
        c.write("0\r\n\r\n");
    });
    client c(*transport::create(plain(s), {}));
    auto garbage = c.watch(resources::pods, "ns", {}, [](watch_event&&) { return true; });
    ASSERT_FALSE(garbage.has_value());
    EXPECT_EQ(garbage.error().kind, error_kind::decode);
    auto gone = c.watch(resources::pods, "gone", {}, [](watch_event&&) { return true; });
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().kind, error_kind::gone);
}

TEST(kube_client_bad_server, a_silent_watch_is_noticed_at_the_idle_timeout) {
    raw_server s([&](const raw_server::connection& c) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.wait_for_close(s.stopping());
    });
    const auto started = std::chrono::steady_clock::now();
    auto done = client(*transport::create(plain(s), {}))
                    .watch(resources::pods, "ns", {.idle_timeout = 1500ms}, [](watch_event&&) { return true; });
    ASSERT_FALSE(done.has_value());
    EXPECT_EQ(done.error().kind, error_kind::timeout) << done.error().to_string();
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(std::chrono::duration<double>(took).count(), 1.5 + allowance(3.5));
}

// A server, or a proxy in front of it, that echoes the request in its
// error: the bearer token is cut out of the error (which elector logs).
TEST(kube_client_bad_server, an_echoed_bearer_token_never_reaches_an_error) {
    const std::string token = "s3cret-t0ken-4f1d2c9b7e";
    raw_server s([](const raw_server::connection& c) {
        const auto& head = c.request_head;
        const auto at = head.find("Authorization:");
        const std::string echoed =
            at == std::string::npos ? "no Authorization header" : head.substr(at, head.find("\r\n", at) - at);
        if (head.find("/namespaces/status/") != std::string::npos) {
            c.write(http_response(
                401, fmt::format(R"({{"kind":"Status","reason":"Unauthorized","code":401,"message":"refused: {0}",)"
                                 R"("details":{{"causes":[{{"message":"{0}","field":"{0}"}}]}}}})",
                                 echoed)));
        } else if (head.find("watch=1") != std::string::npos) {
            c.write(http_response(403, "forbidden; you sent " + echoed));
        } else {
            c.write(http_response(500, "<html>proxy error; you sent " + echoed + " and " + echoed + "</html>"));
        }
    });
    auto config = plain(s);
    config.token = token;
    client c(*transport::create(config, {}));
    std::vector<std::string> errors;
    auto text = c.get(resources::pods, "text", "p");
    ASSERT_FALSE(text.has_value());
    errors.push_back(text.error().to_string());
    auto status = c.get(resources::pods, "status", "p");
    ASSERT_FALSE(status.has_value());
    EXPECT_EQ(status.error().kind, error_kind::unauthorized);
    ASSERT_EQ(status.error().causes.size(), 1u);
    errors.push_back(status.error().to_string() + " " + status.error().causes[0].field);
    auto watched = c.watch(resources::pods, "w", {}, [](watch_event&&) { return true; });
    ASSERT_FALSE(watched.has_value());
    EXPECT_EQ(watched.error().kind, error_kind::forbidden);
    errors.push_back(watched.error().to_string());
    // The server did get the token, and echoed it.
    ASSERT_EQ(s.requests().size(), 3u);
    for (const auto& r : s.requests()) EXPECT_NE(r.find("Authorization: Bearer " + token), std::string::npos) << r;
    for (const auto& e : errors) {
        EXPECT_EQ(e.find(token), std::string::npos) << e;
        EXPECT_NE(e.find("Authorization: Bearer [redacted]"), std::string::npos) << e;
    }
}

}  // namespace
}  // namespace elector::testing
