// The informer against a real kube-apiserver while things break: under a
// stream of creates, updates and deletes its cache must end equal to a fresh
// list (uid and resourceVersion of every object), also across an API server
// restart, an etcd compaction that makes its resourceVersion too old (410),
// and an API server frozen with SIGSTOP for 20 s.
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "kube/client.hpp"
#include "kube/cluster_config.hpp"
#include "kube/informer.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using namespace elector::kube;

client make_client(const control_plane& env, client_observer observer = {}) {
    auto config = load_kubeconfig({.explicit_path = env.kubeconfig()});
    if (!config) throw std::runtime_error(config.error());
    auto t = transport::create(*config, {.qps = 1000, .burst = 1000, .timeout = 3000ms});
    if (!t) throw std::runtime_error(t.error());
    return client(*t, std::move(observer));
}

// uid -> resourceVersion of every pod in the namespace, from a fresh list.
std::map<std::string, std::string> server_view(const client& c, const std::string& ns) {
    std::map<std::string, std::string> out;
    auto listed = c.list_all(resources::pods, ns, {.limit = 500});
    if (!listed) return {{"<error>", listed.error().to_string()}};
    for (const auto& p : listed->items) out[p["metadata"]["uid"]] = p["metadata"]["resourceVersion"];
    return out;
}

std::map<std::string, std::string> cache_view(const informer<pod>& inf) {
    std::map<std::string, std::string> out;
    for (const auto& p : inf.cache().list()) out[p->meta.uid] = p->meta.resource_version;
    return out;
}

// Creates, relabels and deletes pods at random until stopped; API errors (the
// server may be restarting or frozen) are counted, not fatal.
class churn {
public:
    churn(const client& c, std::string ns) : client_(c), ns_(std::move(ns)) {
        thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    }
    void stop() {
        thread_.request_stop();
        thread_.join();
    }
    [[nodiscard]] int ops() const { return ops_; }

private:
    void run(std::stop_token stop) {
        std::mt19937 rng(42);
        std::vector<std::string> live;
        int next = 0;
        while (!stop.stop_requested()) {
            const int dice = static_cast<int>(rng() % 10);
            if (live.size() < 5 || dice < 4) {
                const std::string name = fmt::format("p-{}", next++);
                json pod{{"apiVersion", "v1"}, {"kind", "Pod"},
                         {"metadata", {{"name", name}, {"labels", {{"gen", "0"}}}}},
                         {"spec", {{"nodeName", "nowhere"},  // never scheduled or run: only we write
                                   {"containers", {{{"name", "c"}, {"image", "registry.invalid/c:1"}}}}}}};
                if (client_.create(resources::pods, ns_, pod)) live.push_back(name);
            } else if (dice < 8) {
                const auto& name = live[rng() % live.size()];
                (void)client_.patch(resources::pods, ns_, name, patch_type::merge,
                                    {{"metadata", {{"labels", {{"gen", std::to_string(rng() % 1000)}}}}}});
            } else {
                const auto i = rng() % live.size();
                (void)client_.remove(resources::pods, ns_, live[i], {.grace_period_seconds = 0});
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
            }
            ++ops_;
            std::this_thread::sleep_for(5ms);
        }
    }
    const client& client_;
    std::string ns_;
    std::atomic<int> ops_{0};
    std::jthread thread_;
};

class informer_test : public ::testing::Test {
protected:
    void start_informer(const control_plane& env, const client& c, const std::string& ns) {
        auto r = env.kubectl({"create", "namespace", ns});
        ASSERT_TRUE(r.ok()) << r.describe();
        inf_ = std::make_unique<informer<pod>>(c, resources::pods, informer_options{.namespace_ = ns},
                                               informer_handlers<pod>{.on_add = [&](const pod&) { ++adds_; },
                                                                      .on_update = [&](const pod&, const pod&) { ++updates_; },
                                                                      .on_delete = [&](const pod&) { ++deletes_; }});
        inf_->start();
        ASSERT_TRUE(inf_->wait_for_sync(10s));
    }

    void expect_converges(const client& c, const std::string& ns) {
        std::map<std::string, std::string> server, cache;
        EXPECT_TRUE(eventually(20s, [&] {
            server = server_view(c, ns);
            cache = cache_view(*inf_);
            return server == cache;
        })) << "cache " << cache.size() << " objects, server " << server.size();
        EXPECT_FALSE(server.empty());
    }

    std::unique_ptr<informer<pod>> inf_;
    std::atomic<int> adds_{0}, updates_{0}, deletes_{0};
};

TEST_F(informer_test, the_cache_equals_a_fresh_list_after_a_stream_of_changes) {
    control_plane env({.nodes = 1});
    auto c = make_client(env);
    start_informer(env, c, "churn");
    churn writer(c, "churn");
    // At least 200 writes of churn: about 4 s here, longer under TSan.
    const auto enough = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(allowance(20.0)));
    EXPECT_TRUE(eventually(enough, [&] { return writer.ops() > 200; }));
    writer.stop();
    expect_converges(c, "churn");
    EXPECT_GT(adds_, 0);
    EXPECT_GT(updates_, 0);
    EXPECT_GT(deletes_, 0);
    EXPECT_EQ(inf_->stats().lists, 1u) << "no relist needed without faults";
    EXPECT_EQ(inf_->stats().skipped_objects, 0u);
    inf_->stop();
}

TEST_F(informer_test, nothing_is_lost_across_an_api_server_restart) {
    control_plane env({.nodes = 1});
    auto c = make_client(env);
    start_informer(env, c, "restart");
    churn writer(c, "restart");
    std::this_thread::sleep_for(2s);
    const pid_t before = env.pid("apiserver");
    env.restart("apiserver");
    EXPECT_NE(env.pid("apiserver"), before);
    std::this_thread::sleep_for(2s);
    writer.stop();
    expect_converges(c, "restart");
    EXPECT_GE(inf_->stats().watch_errors + inf_->stats().lists - 1, 1u) << "the restart went unnoticed";
    inf_->stop();
}

TEST_F(informer_test, a_compacted_resource_version_leads_to_a_relist_and_nothing_is_lost) {
    // Served from etcd directly (no watch cache), a watch resumed from a
    // compacted revision is answered with 410 Gone.
    control_plane env({.nodes = 1, .watch_cache = false});
    std::atomic<int> restarts = 0;
    std::atomic<int> relists = 0;
    auto c = make_client(env, {.watch_restarted = [&](std::string_view r) { restarts += r == "pods"; },
                               .relisted = [&](std::string_view r) { relists += r == "pods"; }});
    start_informer(env, c, "compact");
    {
        churn writer(c, "compact");
        std::this_thread::sleep_for(2s);
        writer.stop();
    }
    expect_converges(c, "compact");
    // Move etcd's revision past the informer's last pod event, then compact.
    auto r = env.kubectl({"create", "namespace", "elsewhere"});
    ASSERT_TRUE(r.ok()) << r.describe();
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(c.create({"", "v1", "configmaps", true}, "elsewhere",
                             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", fmt::format("cm-{}", i)}}}}));
    }
    EXPECT_GT(env.compact_etcd(), 0);
    // The informer's watch ends within its timeout (10 s), resumes from the
    // compacted revision, is told 410 and lists again.
    ASSERT_TRUE(eventually(30s, [&] { return inf_->stats().lists >= 2; }, 250ms))
        << "no relist after compaction; watch errors: " << inf_->stats().watch_errors;
    EXPECT_GE(relists.load(), 1) << "the observer (elector_watch_relists_total) is told of the relist";
    EXPECT_GE(restarts.load(), 1) << "and of the watch that ended with 410 Gone";
    {
        churn writer(c, "compact");
        std::this_thread::sleep_for(2s);
        writer.stop();
    }
    expect_converges(c, "compact");
    inf_->stop();
}

TEST_F(informer_test, a_frozen_api_server_is_noticed_within_15s_and_nothing_is_lost) {
    control_plane env({.nodes = 1});
    auto c = make_client(env);
    start_informer(env, c, "frozen");
    churn writer(c, "frozen");
    std::this_thread::sleep_for(2s);
    const auto errors_before = inf_->stats().watch_errors;
    env.stop("apiserver");  // SIGSTOP: connections stay open, nothing is answered
    const auto frozen_at = std::chrono::steady_clock::now();
    const bool noticed = eventually(19s, [&] { return inf_->stats().watch_errors > errors_before; }, 100ms);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen_at).count();
    RecordProperty("silent_watch_noticed_after_seconds", fmt::format("{:.1f}", took));
    std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, 20.0 - took)));
    env.cont("apiserver");
    EXPECT_TRUE(noticed) << "the frozen API server went unnoticed for 19 s";
    // The idle deadline is 15 s after the last byte; libcurl checks it about once a second.
    EXPECT_LE(took, 15.0 + allowance(2.0));
    std::this_thread::sleep_for(3s);
    writer.stop();
    expect_converges(c, "frozen");
    inf_->stop();
}

}  // namespace
}  // namespace elector::testing
