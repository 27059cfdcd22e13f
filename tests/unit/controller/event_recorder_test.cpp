#include "controller/event_recorder.hpp"

#include "../kube/manual_time_source.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace elector::controller {
namespace {

using namespace std::chrono_literals;
using action = event_correlator::action;
using mono_time = event_correlator::mono_time;
using json = nlohmann::json;

const mono_time t0 = mono_time(std::chrono::hours(1));
const kube::time_point wall0 = *kube::parse_time("2026-03-01T00:00:00Z");

// The wall clock moves with the steady one.
kube::time_point wall_at(mono_time t) {
    return wall0 + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - t0);
}

// A correlator with the client-go defaults and a time the test moves.
struct correlator_fixture {
    explicit correlator_fixture(event_correlator::options o = {}) : c(o) {}

    event_correlator::decision observe(std::string_view object, std::string_view reason, std::string_view message,
                                       bool important = false, std::string_view type = "Normal") {
        return c.observe(object, type, reason, message, important, now, wall_at(now));
    }
    // Observes and, when asked to create, says the server named it `name`.
    event_correlator::decision write(std::string_view object, std::string_view reason, std::string_view message,
                                     const std::string& name, bool important = false) {
        auto d = observe(object, reason, message, important);
        if (d.what == action::create) c.created(d, name);
        return d;
    }

    event_correlator c;
    mono_time now = t0;
};

TEST(event_correlator, identical_events_create_once_then_patch_with_increasing_count) {
    correlator_fixture f;
    auto first = f.write("uid-1", "LeaderElected", "pod a is leader", "ev-1");
    EXPECT_EQ(first.what, action::create);
    EXPECT_EQ(first.count, 1);
    EXPECT_FALSE(first.aggregate);
    EXPECT_EQ(first.message, "pod a is leader");
    EXPECT_EQ(first.first_timestamp, wall0);
    for (int i = 2; i <= 6; ++i) {
        f.now += 30s;
        auto d = f.observe("uid-1", "LeaderElected", "pod a is leader");
        EXPECT_EQ(d.what, action::patch) << i;
        EXPECT_EQ(d.name, "ev-1");
        EXPECT_EQ(d.count, i);
        EXPECT_EQ(d.message, "pod a is leader");
        EXPECT_EQ(d.first_timestamp, wall0) << "firstTimestamp stays the first occurrence's";
    }
    EXPECT_EQ(f.c.series_size(), 1u);
}

TEST(event_correlator, a_new_event_after_the_window_passes_without_a_repeat) {
    correlator_fixture f;
    auto first = f.write("uid-1", "R", "same", "ev-1");
    f.now += 600s;  // exactly the window: still the same Event
    EXPECT_EQ(f.observe("uid-1", "R", "same").what, action::patch);
    f.now += 601s;
    auto again = f.observe("uid-1", "R", "same");
    EXPECT_EQ(again.what, action::create);
    EXPECT_EQ(again.count, 1);
    EXPECT_EQ(again.first_timestamp, wall_at(f.now));
    EXPECT_NE(again.series_id, first.series_id);
    // A late answer for the old series does not name the new one.
    f.c.created(first, "stale");
    f.c.created(again, "ev-2");
    auto next = f.observe("uid-1", "R", "same");
    EXPECT_EQ(next.what, action::patch);
    EXPECT_EQ(next.name, "ev-2");
    EXPECT_EQ(next.count, 2);
}

TEST(event_correlator, the_window_slides_with_each_repeat) {
    correlator_fixture f;
    f.write("uid-1", "R", "same", "ev-1");
    for (int i = 0; i < 5; ++i) {
        f.now += 500s;  // 2500 s after the first, never 600 s without a repeat
        auto d = f.observe("uid-1", "R", "same");
        EXPECT_EQ(d.what, action::patch) << i;
        EXPECT_EQ(d.count, i + 2);
    }
}

TEST(event_correlator, the_eleventh_distinct_message_aggregates_and_later_ones_patch_the_aggregate) {
    correlator_fixture f;
    for (int i = 0; i < 10; ++i) {
        auto d = f.write("uid-1", "Failover", "message " + std::to_string(i), "ev-" + std::to_string(i));
        EXPECT_EQ(d.what, action::create) << i;
        EXPECT_FALSE(d.aggregate) << i;
        EXPECT_EQ(d.message, "message " + std::to_string(i));
    }
    auto eleventh = f.write("uid-1", "Failover", "message 10", "agg");
    EXPECT_EQ(eleventh.what, action::create);
    EXPECT_TRUE(eleventh.aggregate);
    EXPECT_EQ(eleventh.count, 1);
    EXPECT_EQ(eleventh.message, "(combined from similar events): message 10");
    for (int i = 11; i < 15; ++i) {
        auto d = f.observe("uid-1", "Failover", "message " + std::to_string(i));
        EXPECT_EQ(d.what, action::patch) << i;
        EXPECT_TRUE(d.aggregate);
        EXPECT_EQ(d.name, "agg");
        EXPECT_EQ(d.count, i - 9);
        EXPECT_EQ(d.message, "(combined from similar events): message " + std::to_string(i));
    }
    // One of the first ten again is a repeat of its own Event.
    auto repeat = f.observe("uid-1", "Failover", "message 3");
    EXPECT_EQ(repeat.what, action::patch);
    EXPECT_FALSE(repeat.aggregate);
    EXPECT_EQ(repeat.name, "ev-3");
    EXPECT_EQ(repeat.count, 2);
    // After a quiet window, messages are Events of their own again.
    f.now += 601s;
    auto fresh = f.observe("uid-1", "Failover", "message 99");
    EXPECT_EQ(fresh.what, action::create);
    EXPECT_FALSE(fresh.aggregate);
}

TEST(event_correlator, reasons_types_and_objects_are_independent) {
    correlator_fixture f;
    for (int i = 0; i < 10; ++i) f.write("uid-1", "A", "m" + std::to_string(i), "a-" + std::to_string(i));
    ASSERT_TRUE(f.observe("uid-1", "A", "m10").aggregate);
    auto other_reason = f.observe("uid-1", "B", "m10");
    EXPECT_EQ(other_reason.what, action::create);
    EXPECT_FALSE(other_reason.aggregate);
    auto other_type = f.observe("uid-1", "A", "m11", false, "Warning");
    EXPECT_EQ(other_type.what, action::create);
    EXPECT_FALSE(other_type.aggregate);
    auto other_object = f.observe("uid-2", "A", "m0");
    EXPECT_EQ(other_object.what, action::create) << "uid-2 has no Event for m0 yet";
    EXPECT_FALSE(other_object.aggregate);
    EXPECT_EQ(other_object.count, 1);
    // Parts cannot run into each other: ("ab", "c") is not ("a", "bc").
    f.write("ab", "c", "x", "ab-c");
    auto shifted = f.observe("a", "bc", "x");
    EXPECT_EQ(shifted.what, action::create);
}

TEST(event_correlator, spam_filter_drops_the_26th_event_and_refills_one_token_per_refill) {
    correlator_fixture f;
    for (int i = 1; i <= 25; ++i) {
        auto d = f.write("uid-1", "R", "same", "ev-1");
        EXPECT_NE(d.what, action::drop) << i;
        EXPECT_EQ(d.count, i);
    }
    EXPECT_EQ(f.observe("uid-1", "R", "same").what, action::drop);
    EXPECT_EQ(f.observe("uid-1", "R", "other").what, action::drop);
    EXPECT_EQ(f.c.dropped(), 2u);
    // Another object has its own bucket.
    EXPECT_EQ(f.observe("uid-2", "R", "same").what, action::create);

    f.now += 299s;
    EXPECT_EQ(f.observe("uid-1", "R", "same").what, action::drop);
    f.now += 1s;
    auto refilled = f.observe("uid-1", "R", "same");
    EXPECT_EQ(refilled.what, action::patch);
    EXPECT_EQ(refilled.count, 26) << "dropped occurrences are not counted";
    EXPECT_EQ(f.observe("uid-1", "R", "same").what, action::drop);
    EXPECT_EQ(f.c.dropped(), 4u);

    // A long quiet refills up to burst, never beyond.
    f.now += 24h;
    int allowed = 0;
    for (int i = 0; i < 40; ++i) allowed += f.observe("uid-1", "R", "same").what != action::drop;
    EXPECT_EQ(allowed, 25);
}

TEST(event_correlator, important_events_are_never_dropped_and_take_no_token) {
    correlator_fixture f;
    for (int i = 0; i < 100; ++i) {
        auto d = f.write("uid-1", "LeaderElected", "term " + std::to_string(i), "ev-" + std::to_string(i), true);
        EXPECT_NE(d.what, action::drop) << i;
    }
    int allowed = 0;
    for (int i = 0; i < 30; ++i) allowed += f.observe("uid-1", "R", "same").what != action::drop;
    EXPECT_EQ(allowed, 25) << "the important events took no token";
    for (int i = 0; i < 10; ++i) EXPECT_NE(f.observe("uid-1", "LeaderElected", "again", true).what, action::drop);
    EXPECT_EQ(f.c.dropped(), 5u);
}

TEST(event_correlator, forget_resets_one_object_only) {
    correlator_fixture f;
    for (auto* object : {"uid-1", "uid-10"}) {
        for (int i = 0; i < 25; ++i) f.write(object, "R", "m" + std::to_string(i % 12), "ev");
        ASSERT_EQ(f.observe(object, "R", "m0").what, action::drop);
    }
    auto late = f.observe("uid-1", "S", "in flight", true);
    ASSERT_EQ(late.what, action::create);

    f.c.forget("uid-1");
    f.c.created(late, "ignored");  // the answer for a forgotten series is dropped
    auto d = f.observe("uid-1", "R", "m0");
    EXPECT_EQ(d.what, action::create) << "no bucket, no Event remembered";
    EXPECT_EQ(d.count, 1);
    EXPECT_FALSE(d.aggregate);
    EXPECT_EQ(f.observe("uid-1", "R", "m11").aggregate, false) << "similar messages forgotten";
    auto s = f.observe("uid-1", "S", "in flight", true);
    EXPECT_EQ(s.what, action::create);

    // "uid-10" (whose key starts like "uid-1") kept everything.
    EXPECT_EQ(f.observe("uid-10", "R", "m0").what, action::drop);
    auto kept = f.observe("uid-10", "R", "m0", true);
    EXPECT_EQ(kept.what, action::patch);
    EXPECT_GT(kept.count, 1);
}

TEST(event_correlator, max_keys_bounds_every_table_and_evicts_the_least_recently_used) {
    correlator_fixture f({.max_keys = 8});
    for (int i = 0; i < 50; ++i) {
        const auto object = "uid-" + std::to_string(i);
        f.write(object, "R", "a", object + "-a");
        f.write(object, "R", "b", object + "-b");
        EXPECT_LE(f.c.series_size(), 8u);
        EXPECT_LE(f.c.similar_size(), 8u);
        EXPECT_LE(f.c.bucket_size(), 8u);
    }
    EXPECT_EQ(f.c.series_size(), 8u);
    auto newest = f.observe("uid-49", "R", "b");
    EXPECT_EQ(newest.what, action::patch);
    EXPECT_EQ(newest.name, "uid-49-b");
    EXPECT_EQ(f.observe("uid-0", "R", "a").what, action::create) << "evicted long ago";

    // Use keeps an entry alive: after "1" is touched, "2" is the least recently used.
    correlator_fixture g({.max_keys = 3});
    g.write("x", "R", "1", "x1");
    g.write("x", "R", "2", "x2");
    g.write("x", "R", "3", "x3");
    EXPECT_EQ(g.observe("x", "R", "1").what, action::patch);
    g.write("x", "R", "4", "x4");  // evicts "2", the least recently used
    EXPECT_EQ(g.observe("x", "R", "1").what, action::patch);
    EXPECT_EQ(g.observe("x", "R", "3").what, action::patch);
    EXPECT_EQ(g.observe("x", "R", "2").what, action::create);
}

TEST(event_correlator, repeats_while_a_create_is_in_flight_are_counted_into_the_next_write) {
    correlator_fixture f;
    auto first = f.observe("uid-1", "R", "same");
    ASSERT_EQ(first.what, action::create);
    auto second = f.observe("uid-1", "R", "same");
    EXPECT_EQ(second.what, action::none);
    EXPECT_EQ(second.count, 2);
    f.c.create_failed(first);
    auto retry = f.observe("uid-1", "R", "same");
    EXPECT_EQ(retry.what, action::create) << "the failed create is retried";
    EXPECT_EQ(retry.count, 3);
    EXPECT_EQ(retry.first_timestamp, wall0);
    f.c.created(retry, "ev-1");
    auto next = f.observe("uid-1", "R", "same");
    EXPECT_EQ(next.what, action::patch);
    EXPECT_EQ(next.count, 4);
}

// ---- event_recorder against a fake events API ----

class manual_clock final : public kube::testing::manual_time_source {
public:
    manual_clock() : manual_time_source(t0) {}
    kube::time_point wall_now() const override { return wall_at(now()); }
    void wait_until(std::unique_lock<std::mutex>&, std::condition_variable&, time_point deadline) override {
        jump_to(deadline);
    }
};

// /api/v1/namespaces/NS/events: POST names the Event from generateName,
// PATCH applies a JSON merge patch, both as the API server answers them.
class fake_events_api {
public:
    fake_events_api() {
        server_.Post(R"(/api/v1/namespaces/([^/]+)/events)", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::unique_lock gate(gate_mutex_);
                ++arrived;
                gate_changed_.notify_all();
                gate_changed_.wait(gate, [&] { return !held; });
            }
            std::lock_guard lock(mutex_);
            ++creates;
            if (fail_next > 0) {
                --fail_next;
                return status(res, 500, "InternalError", "etcd is sad");
            }
            auto event = json::parse(req.body);
            const std::string name = event["metadata"]["generateName"].get<std::string>() + std::to_string(++serial_);
            event["metadata"].erase("generateName");
            event["metadata"]["name"] = name;
            event["metadata"]["namespace"] = req.matches[1].str();
            events[name] = event;
            res.status = 201;
            res.set_content(event.dump(), "application/json");
        });
        server_.Patch(R"(/api/v1/namespaces/([^/]+)/events/([^/]+))",
                      [this](const httplib::Request& req, httplib::Response& res) {
                          std::lock_guard lock(mutex_);
                          ++patches;
                          patch_content_types.push_back(req.get_header_value("Content-Type"));
                          auto it = events.find(req.matches[2].str());
                          if (it == events.end()) {
                              return status(res, 404, "NotFound",
                                            "events \"" + req.matches[2].str() + "\" not found");
                          }
                          it->second.merge_patch(json::parse(req.body));
                          res.set_content(it->second.dump(), "application/json");
                      });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        kube::cluster_config config{.server = "http://127.0.0.1:" + std::to_string(port_)};
        auto t = kube::transport::create(config, {});
        if (!t) throw std::runtime_error(t.error());
        client = std::make_unique<kube::client>(*t);
    }
    ~fake_events_api() {
        client.reset();  // closes the kept-alive connections, or stop() would wait out their keep-alive
        server_.stop();
        thread_.join();
    }

    std::vector<json> all() {
        std::lock_guard lock(mutex_);
        std::vector<json> out;
        for (auto& [name, e] : events) out.push_back(e);
        return out;
    }
    json get(const std::string& name) {
        std::lock_guard lock(mutex_);
        return events.at(name);
    }

    // While held, creates wait (after counting themselves in `arrived`).
    void hold() {
        std::lock_guard gate(gate_mutex_);
        held = true;
    }
    void release() {
        std::lock_guard gate(gate_mutex_);
        held = false;
        gate_changed_.notify_all();
    }
    bool wait_arrived(int n) {
        std::unique_lock gate(gate_mutex_);
        return gate_changed_.wait_for(gate, 5s, [&] { return arrived >= n; });
    }
    std::vector<std::string> messages_in_creation_order() {
        std::lock_guard lock(mutex_);
        std::map<int, std::string> by_serial;
        for (auto& [name, e] : events) by_serial[std::stoi(name.substr(name.rfind('.') + 1))] = e["message"];
        std::vector<std::string> out;
        for (auto& [serial, m] : by_serial) out.push_back(m);
        return out;
    }

    std::mutex mutex_;
    std::map<std::string, json> events;
    std::vector<std::string> patch_content_types;
    int creates = 0;
    int patches = 0;
    int fail_next = 0;
    std::unique_ptr<kube::client> client;

private:
    static void status(httplib::Response& res, int code, const std::string& reason, const std::string& message) {
        res.status = code;
        res.set_content(json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"reason", reason},
                             {"message", message}, {"code", code}}
                            .dump(),
                        "application/json");
    }

    std::mutex gate_mutex_;
    std::condition_variable gate_changed_;
    bool held = false;
    int arrived = 0;
    httplib::Server server_;
    std::thread thread_;
    int port_ = 0;
    int serial_ = 0;
};

const kube::object_reference group_a{.api_version = "elector.dev/v1alpha1", .kind = "ElectionGroup", .name = "web",
                                     .namespace_ = "apps", .uid = "uid-a", .resource_version = "7"};
const kube::object_reference group_b{.api_version = "elector.dev/v1alpha1", .kind = "ElectionGroup", .name = "db",
                                     .namespace_ = "apps", .uid = "uid-b", .resource_version = "9"};

using outcome = event_recorder::outcome;

TEST(event_recorder, creates_once_then_patches_count_and_last_timestamp) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {.reporting_instance = "elector-0"}, clock);
    EXPECT_EQ(r.record(group_a, "Normal", "LeaderElected", "pod web-1 leads (term 3)"), outcome::created);
    clock.advance(30s);
    EXPECT_EQ(r.record(group_a, "Normal", "LeaderElected", "pod web-1 leads (term 3)"), outcome::counted);
    clock.advance(30s);
    EXPECT_EQ(r.record(group_a, "Normal", "LeaderElected", "pod web-1 leads (term 3)"), outcome::counted);

    auto events = api.all();
    ASSERT_EQ(events.size(), 1u);
    const auto& e = events[0];
    EXPECT_EQ(e["count"], 3);
    EXPECT_EQ(e["firstTimestamp"], "2026-03-01T00:00:00Z");
    EXPECT_EQ(e["lastTimestamp"], "2026-03-01T00:01:00Z");
    EXPECT_EQ(e["metadata"]["namespace"], "apps");
    EXPECT_EQ(e["involvedObject"]["uid"], "uid-a");
    EXPECT_EQ(e["reason"], "LeaderElected");
    EXPECT_EQ(e["message"], "pod web-1 leads (term 3)");
    EXPECT_EQ(e["reportingInstance"], "elector-0");
    EXPECT_EQ(e["reportingComponent"], "elector");
    EXPECT_EQ(api.creates, 1);
    EXPECT_EQ(api.patches, 2);
    for (const auto& ct : api.patch_content_types) EXPECT_EQ(ct, "application/merge-patch+json");
}

TEST(event_recorder, a_patch_that_finds_the_event_gone_creates_it_again) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {}, clock);
    ASSERT_EQ(r.record(group_a, "Warning", "TargetNotFound", "no Deployment web"), outcome::created);
    {
        std::lock_guard lock(api.mutex_);
        api.events.clear();  // expired (TTL) or deleted
    }
    clock.advance(2min);
    EXPECT_EQ(r.record(group_a, "Warning", "TargetNotFound", "no Deployment web"), outcome::counted);
    auto events = api.all();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["count"], 2);
    EXPECT_EQ(events[0]["firstTimestamp"], "2026-03-01T00:00:00Z");
    EXPECT_EQ(events[0]["lastTimestamp"], "2026-03-01T00:02:00Z");
    EXPECT_EQ(events[0]["type"], "Warning");
    // And the re-created Event is the one patched next.
    EXPECT_EQ(r.record(group_a, "Warning", "TargetNotFound", "no Deployment web"), outcome::counted);
    EXPECT_EQ(api.get(events[0]["metadata"]["name"])["count"], 3);
    EXPECT_EQ(api.creates, 2);
}

TEST(event_recorder, aggregates_the_eleventh_distinct_message_into_one_event) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {}, clock);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(r.record(group_a, "Warning", "Unhealthy", "probe " + std::to_string(i)), outcome::created);
    }
    EXPECT_EQ(r.record(group_a, "Warning", "Unhealthy", "probe 10"), outcome::aggregated);
    clock.advance(5s);
    EXPECT_EQ(r.record(group_a, "Warning", "Unhealthy", "probe 11"), outcome::aggregated);
    EXPECT_EQ(r.record(group_a, "Warning", "Unhealthy", "probe 12"), outcome::aggregated);
    auto events = api.all();
    ASSERT_EQ(events.size(), 11u);
    int combined = 0;
    for (const auto& e : events) {
        const auto message = e["message"].get<std::string>();
        if (!message.starts_with("(combined from similar events): ")) continue;
        ++combined;
        EXPECT_EQ(message, "(combined from similar events): probe 12");
        EXPECT_EQ(e["count"], 3);
        EXPECT_EQ(e["lastTimestamp"], "2026-03-01T00:00:05Z");
    }
    EXPECT_EQ(combined, 1);
}

TEST(event_recorder, api_failures_return_failed_and_the_next_occurrence_creates) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {}, clock);
    api.fail_next = 1;
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::failed);
    EXPECT_TRUE(api.all().empty());
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::created);
    auto events = api.all();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["count"], 2) << "the failed occurrence still counts";
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::counted);
    EXPECT_EQ(api.get(events[0]["metadata"]["name"])["count"], 3);
}

TEST(event_recorder, spam_filter_drops_without_writing_but_never_important_events) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {.burst = 2}, clock);
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::created);
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::counted);
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::dropped);
    EXPECT_EQ(r.record(group_a, "Normal", "R", "n"), outcome::dropped);
    EXPECT_EQ(r.dropped(), 2u);
    EXPECT_EQ(api.creates + api.patches, 2);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(r.record(group_a, "Normal", "LeaderElected", "term " + std::to_string(i), true), outcome::created);
    }
    EXPECT_EQ(r.record(group_b, "Normal", "R", "m"), outcome::created);
    r.forget("uid-a");
    EXPECT_EQ(r.record(group_a, "Normal", "R", "m"), outcome::created) << "forgotten: a new Event, a full bucket";
    EXPECT_EQ(r.dropped(), 2u);
}

TEST(event_recorder, concurrent_workers_lose_no_occurrence) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {.burst = 1000}, clock);
    constexpr int workers = 4;
    constexpr int per_worker = 25;
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            const auto& group = w % 2 == 0 ? group_a : group_b;
            for (int i = 0; i < per_worker; ++i) {
                if (r.record(group, "Normal", "R", "same") == outcome::failed) ++failed;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    // One more each: the last patch carries every occurrence so far.
    r.record(group_a, "Normal", "R", "same");
    r.record(group_b, "Normal", "R", "same");
    auto events = api.all();
    ASSERT_EQ(events.size(), 2u);
    for (const auto& e : events) EXPECT_EQ(e["count"], 2 * per_worker + 1) << e.dump();
}

TEST(event_recorder, sends_invalid_utf8_replaced_rather_than_throwing) {
    fake_events_api api;
    manual_clock clock;
    event_recorder r(*api.client, {}, clock);
    EXPECT_EQ(r.record(group_a, "Normal", "bad\xff", "m"), outcome::created);
    EXPECT_EQ(r.record(group_a, "Normal", "good", "m"), outcome::created);
    const auto events = api.all();
    ASSERT_EQ(events.size(), 2u);
    std::set<std::string> reasons;
    for (const auto& e : events) reasons.insert(e.value("reason", ""));
    EXPECT_TRUE(reasons.contains("bad\xef\xbf\xbd")) << "U+FFFD in place of the invalid byte";
}

TEST(event_queue, record_returns_at_once_and_events_are_written_in_order) {
    fake_events_api api;
    event_recorder r(*api.client, {.reporting_instance = "elector-0"});
    event_queue q(r);
    api.hold();  // the API answers nothing until released
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) q.record(group_a, "Normal", "LeaderElected", "pod web-" + std::to_string(i) + " leads");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "record() waited for the API";
    ASSERT_TRUE(api.wait_arrived(1));
    EXPECT_TRUE(api.all().empty());
    api.release();
    q.flush();
    EXPECT_EQ(api.messages_in_creation_order(),
              (std::vector<std::string>{"pod web-0 leads", "pod web-1 leads", "pod web-2 leads", "pod web-3 leads",
                                        "pod web-4 leads"}));
    EXPECT_EQ(q.overflowed(), 0u);
}

TEST(event_queue, past_the_limit_new_events_are_dropped_and_counted) {
    fake_events_api api;
    event_recorder r(*api.client, {.reporting_instance = "elector-0"});
    event_queue q(r, 2);
    api.hold();
    q.record(group_a, "Normal", "LeaderElected", "first");  // taken by the writer, which waits on the API
    ASSERT_TRUE(api.wait_arrived(1));
    for (int i = 0; i < 4; ++i) q.record(group_b, "Normal", "LeaderElected", "queued " + std::to_string(i));
    EXPECT_EQ(q.overflowed(), 2u);
    api.release();
    q.flush();
    EXPECT_EQ(api.messages_in_creation_order(), (std::vector<std::string>{"first", "queued 0", "queued 1"}));
}

TEST(event_queue, the_destructor_writes_what_is_queued) {
    fake_events_api api;
    event_recorder r(*api.client, {.reporting_instance = "elector-0"});
    std::thread release;
    {
        event_queue q(r);
        api.hold();
        for (int i = 0; i < 3; ++i) q.record(group_a, "Normal", "LeaderElected", "m" + std::to_string(i));
        ASSERT_TRUE(api.wait_arrived(1));
        release = std::thread([&] {
            std::this_thread::sleep_for(100ms);
            api.release();  // well within the 2 s the destructor drains for
        });
    }
    release.join();
    EXPECT_EQ(api.messages_in_creation_order(), (std::vector<std::string>{"m0", "m1", "m2"}));
}

}  // namespace
}  // namespace elector::controller
