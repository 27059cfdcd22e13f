#include "kube/work_queue.hpp"

#include "manual_time_source.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace elector::kube {
namespace {

using namespace std::chrono_literals;
using duration = work_queue::duration;

// Time moves only when the test says so; advance() wakes the queues' waiting getters.
class manual_clock final : public testing::manual_time_source {
public:
    manual_clock() : manual_time_source(time_point(duration(1h))) {}

    kube::time_point wall_now() const override {
        return kube::time_point(std::chrono::duration_cast<kube::time_point::duration>(now().time_since_epoch()));
    }

    void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point) override {
        cv.wait(lock);
    }
};

std::string next_key(work_queue& queue) {
    auto item = queue.get();
    return item ? item->key : "<shut down>";
}

// Spins (no sleep) until `n` getters are blocked in the queue.
void await_waiting_getters(work_queue& queue, std::size_t n) {
    while (queue.read_stats().waiting_getters != n) std::this_thread::yield();
}

TEST(work_queue, a_key_already_waiting_is_not_added_twice) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    EXPECT_EQ(queue.len(), 2u);
    EXPECT_EQ(next_key(queue), "ns/a");
    EXPECT_EQ(next_key(queue), "ns/b");
    EXPECT_EQ(queue.len(), 0u);
    EXPECT_EQ(queue.read_stats().adds_total, 2u);
}

TEST(work_queue, a_key_added_while_active_is_queued_once_after_done) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    ASSERT_EQ(next_key(queue), "ns/a");
    queue.add("ns/a");
    queue.add("ns/a");
    EXPECT_EQ(queue.len(), 0u) << "never handed to a second worker while active";
    queue.done("ns/a");
    EXPECT_EQ(queue.len(), 1u);
    EXPECT_EQ(next_key(queue), "ns/a");
    queue.done("ns/a");
    EXPECT_EQ(queue.len(), 0u);
    EXPECT_EQ(queue.read_stats().adds_total, 2u);
}

TEST(work_queue, done_without_a_re_add_leaves_nothing_and_unknown_keys_are_ignored) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    ASSERT_EQ(next_key(queue), "ns/a");
    queue.done("ns/a");
    queue.done("ns/a");
    queue.done("ns/unknown");
    const auto stats = queue.read_stats();
    EXPECT_EQ(stats.ready, 0u);
    EXPECT_EQ(stats.active, 0u);
    queue.add("ns/a");
    EXPECT_EQ(next_key(queue), "ns/a");
}

TEST(work_queue, workers_never_share_a_key_and_no_update_is_lost) {
    constexpr int keys = 50;
    constexpr int adds = 1000;
    constexpr int workers = 8;
    work_queue queue;
    std::vector<std::string> names;
    std::unordered_map<std::string, int> index;
    for (int k = 0; k < keys; ++k) {
        names.push_back("ns/key-" + std::to_string(k));
        index.emplace(names.back(), k);
    }
    std::array<std::atomic<int>, keys> version{};
    std::array<std::atomic<int>, keys> processed_version{};
    std::array<std::atomic<int>, keys> in_flight{};
    std::atomic<int> max_in_flight{0};
    std::atomic<int> processings{0};

    std::vector<std::jthread> pool;
    for (int w = 0; w < workers; ++w) {
        pool.emplace_back([&] {
            while (auto item = queue.get()) {
                const int k = index.at(item->key);
                const int now_in_flight = in_flight[k].fetch_add(1) + 1;
                int seen = max_in_flight.load();
                while (now_in_flight > seen && !max_in_flight.compare_exchange_weak(seen, now_in_flight)) {}
                processed_version[k].store(version[k].load());
                std::this_thread::yield();
                in_flight[k].fetch_sub(1);
                processings.fetch_add(1);
                queue.done(item->key);
            }
        });
    }
    std::jthread adder([&] {
        for (int i = 0; i < adds; ++i) {
            const int k = (i * 7) % keys;
            version[k].fetch_add(1);
            queue.add(names[k], i % 9 == 0 ? priority::urgent : priority::normal);
            if (i % 16 == 0) std::this_thread::yield();
        }
    });
    adder.join();
    for (;;) {
        const auto stats = queue.read_stats();
        if (stats.ready == 0 && stats.active == 0) break;
        std::this_thread::yield();
    }
    queue.shut_down();
    pool.clear();

    EXPECT_EQ(max_in_flight.load(), 1);
    for (int k = 0; k < keys; ++k) {
        EXPECT_EQ(processed_version[k].load(), version[k].load()) << names[k];
    }
    EXPECT_GE(processings.load(), keys);
    EXPECT_LE(processings.load(), adds);
    EXPECT_EQ(queue.read_stats().adds_total, static_cast<std::uint64_t>(processings.load()));
}

TEST(work_queue, delayed_keys_become_ready_in_deadline_order) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add_after("ns/a", 30ms);
    queue.add_after("ns/b", 10ms);
    queue.add_after("ns/c", 20ms);
    EXPECT_EQ(queue.len(), 0u);
    EXPECT_EQ(queue.read_stats().delayed, 3u);
    clock.advance(9ms);
    EXPECT_EQ(queue.len(), 0u);
    clock.advance(1ms);
    EXPECT_EQ(queue.len(), 1u);
    EXPECT_EQ(next_key(queue), "ns/b");
    clock.advance(25ms);
    EXPECT_EQ(queue.len(), 2u);
    EXPECT_EQ(next_key(queue), "ns/c");
    EXPECT_EQ(next_key(queue), "ns/a");
}

TEST(work_queue, a_zero_delay_is_a_plain_add) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add_after("ns/a", 0ms);
    queue.add_after("ns/b", -5ms);
    EXPECT_EQ(queue.len(), 2u);
}

TEST(work_queue, the_earliest_deadline_wins) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add_after("ns/a", 50ms);
    queue.add_after("ns/a", 10ms);
    queue.add_after("ns/b", 10ms);
    queue.add_after("ns/b", 50ms);
    EXPECT_EQ(queue.read_stats().delayed, 2u);
    clock.advance(10ms);
    EXPECT_EQ(queue.len(), 2u);
    EXPECT_EQ(next_key(queue), "ns/a");
    EXPECT_EQ(next_key(queue), "ns/b");
    queue.done("ns/a");
    queue.done("ns/b");
    clock.advance(40ms);
    EXPECT_EQ(queue.len(), 0u) << "the later deadlines were replaced, not kept";
    EXPECT_EQ(queue.read_stats().delayed, 0u);
}

TEST(work_queue, a_delayed_key_due_while_active_is_queued_after_done) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    ASSERT_EQ(next_key(queue), "ns/a");
    queue.add_after("ns/a", 5ms);
    clock.advance(5ms);
    EXPECT_EQ(queue.len(), 0u);
    queue.done("ns/a");
    EXPECT_EQ(next_key(queue), "ns/a");
}

TEST(work_queue, advancing_the_clock_wakes_a_getter_waiting_for_a_delayed_key) {
    manual_clock clock;
    work_queue queue({}, clock);
    std::optional<work_queue::item> got;
    std::jthread getter([&] { got = queue.get(); });
    await_waiting_getters(queue, 1);
    queue.add_after("ns/a", 10ms);
    clock.advance(5ms);
    await_waiting_getters(queue, 1);  // woke, found nothing due, waits again
    clock.advance(7ms);
    getter.join();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->key, "ns/a");
    EXPECT_EQ(got->waited, 2ms) << "ready since its deadline, 2 ms before the clock reached it";
}

TEST(work_queue, backoff_doubles_per_failure_from_5ms_up_to_60s) {
    manual_clock clock;
    work_queue queue({}, clock);
    auto expected = duration(5ms);
    for (int failures = 0; failures < 20; ++failures) {
        EXPECT_EQ(queue.retries("ns/a"), failures);
        EXPECT_EQ(queue.add_rate_limited("ns/a"), expected) << failures;
        expected = std::min<duration>(expected * 2, 60s);
    }
    EXPECT_EQ(queue.retries("ns/a"), 20);
    EXPECT_EQ(queue.add_rate_limited("ns/b"), 5ms) << "failures are counted per key";
    for (int i = 0; i < 100; ++i) queue.add_rate_limited("ns/a");
    EXPECT_EQ(queue.add_rate_limited("ns/a"), 60s);
    queue.forget("ns/a");
    EXPECT_EQ(queue.retries("ns/a"), 0);
    EXPECT_EQ(queue.add_rate_limited("ns/a"), 5ms);
    EXPECT_EQ(queue.retries("ns/b"), 1);
}

TEST(work_queue, backoff_values_in_full_and_with_custom_base_and_cap) {
    manual_clock clock;
    work_queue queue({}, clock);
    const std::vector<duration> expected = {5ms,    10ms,    20ms,    40ms,    80ms,    160ms,  320ms, 640ms,
                                            1280ms, 2560ms,  5120ms,  10240ms, 20480ms, 40960ms, 60s,  60s};
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(queue.add_rate_limited("ns/a"), expected[i]) << i;

    work_queue custom({.base_delay = 1s, .max_delay = 3s}, clock);
    EXPECT_EQ(custom.add_rate_limited("ns/a"), 1s);
    EXPECT_EQ(custom.add_rate_limited("ns/a"), 2s);
    EXPECT_EQ(custom.add_rate_limited("ns/a"), 3s);
    EXPECT_EQ(custom.add_rate_limited("ns/a"), 3s);
}

TEST(work_queue, a_rate_limited_key_is_ready_after_its_backoff) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add_rate_limited("ns/a");
    clock.advance(4ms);
    EXPECT_EQ(queue.len(), 0u);
    clock.advance(1ms);
    ASSERT_EQ(next_key(queue), "ns/a");
    queue.add_rate_limited("ns/a");
    queue.done("ns/a");
    clock.advance(9ms);
    EXPECT_EQ(queue.len(), 0u);
    clock.advance(1ms);
    EXPECT_EQ(next_key(queue), "ns/a");
}

TEST(work_queue, urgent_keys_go_ahead_of_normal_ones_in_their_own_order) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/c", priority::urgent);
    queue.add("ns/d", priority::urgent);
    EXPECT_EQ(next_key(queue), "ns/c");
    EXPECT_EQ(next_key(queue), "ns/d");
    EXPECT_EQ(next_key(queue), "ns/a");
    EXPECT_EQ(next_key(queue), "ns/b");
}

TEST(work_queue, an_urgent_add_promotes_a_waiting_normal_key_and_a_normal_add_does_not_demote) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/c");
    queue.add("ns/c", priority::urgent);
    queue.add("ns/c");
    EXPECT_EQ(queue.len(), 3u);
    EXPECT_EQ(next_key(queue), "ns/c");
    EXPECT_EQ(next_key(queue), "ns/a");
    EXPECT_EQ(next_key(queue), "ns/b");
}

TEST(work_queue, an_urgent_add_while_active_is_queued_urgent_after_done) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    ASSERT_EQ(next_key(queue), "ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    queue.add("ns/a", priority::urgent);
    queue.done("ns/a");
    EXPECT_EQ(next_key(queue), "ns/a");
    EXPECT_EQ(next_key(queue), "ns/b");
}

TEST(work_queue, a_delayed_urgent_key_goes_ahead_when_due) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add_after("ns/b", 5ms);
    queue.add_after("ns/b", 10ms, priority::urgent);
    clock.advance(5ms);
    EXPECT_EQ(next_key(queue), "ns/b") << "earliest deadline with the highest priority asked";
    EXPECT_EQ(next_key(queue), "ns/a");
}

TEST(work_queue, shut_down_wakes_every_blocked_getter_and_ignores_later_adds) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add_after("ns/delayed", 5ms);
    std::atomic<int> nullopts{0};
    std::vector<std::jthread> getters;
    for (int i = 0; i < 3; ++i) {
        getters.emplace_back([&] {
            if (!queue.get()) nullopts.fetch_add(1);
        });
    }
    await_waiting_getters(queue, 3);
    queue.shut_down();
    getters.clear();
    EXPECT_EQ(nullopts.load(), 3);
    EXPECT_TRUE(queue.shutting_down());

    queue.add("ns/a");
    queue.add_after("ns/b", 1ms);
    EXPECT_EQ(queue.add_rate_limited("ns/c"), 0ms);
    clock.advance(10ms);
    EXPECT_EQ(queue.len(), 0u);
    EXPECT_FALSE(queue.get());
    EXPECT_EQ(queue.read_stats().delayed, 0u);
}

TEST(work_queue, shut_down_drops_ready_keys) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.shut_down();
    EXPECT_EQ(queue.len(), 0u);
    EXPECT_FALSE(queue.get());
}

TEST(work_queue, shut_down_with_drain_returns_only_after_active_keys_are_done) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add("ns/b");
    ASSERT_EQ(next_key(queue), "ns/a");
    ASSERT_EQ(next_key(queue), "ns/b");
    queue.add("ns/a");  // dirty: would be re-queued on done, but the queue is shutting down

    std::atomic<bool> drained{false};
    std::jthread drainer([&] {
        queue.shut_down_with_drain();
        drained = true;
    });
    while (!queue.shutting_down()) std::this_thread::yield();
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();
    EXPECT_FALSE(drained.load());
    EXPECT_FALSE(queue.get()) << "no new work while draining";

    queue.done("ns/a");
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();
    EXPECT_FALSE(drained.load()) << "ns/b is still active";
    EXPECT_EQ(queue.len(), 0u) << "the dirty key is not re-queued";

    queue.done("ns/b");
    drainer.join();
    EXPECT_TRUE(drained.load());
    EXPECT_EQ(queue.read_stats().active, 0u);
}

TEST(work_queue, shut_down_with_drain_returns_at_once_when_nothing_is_active) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.shut_down_with_drain();
    EXPECT_TRUE(queue.shutting_down());
}

TEST(work_queue, a_stop_request_cancels_a_blocked_get) {
    manual_clock clock;
    work_queue queue({}, clock);
    std::atomic<bool> returned_nullopt{false};
    std::jthread getter([&](std::stop_token stop) { returned_nullopt = !queue.get(stop).has_value(); });
    await_waiting_getters(queue, 1);
    getter.request_stop();
    getter.join();
    EXPECT_TRUE(returned_nullopt.load());
    EXPECT_FALSE(queue.shutting_down());

    queue.add("ns/a");
    EXPECT_EQ(next_key(queue), "ns/a") << "the queue itself keeps working";
}

TEST(work_queue, an_already_requested_stop_returns_nullopt_even_with_keys_ready) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    std::stop_source source;
    source.request_stop();
    EXPECT_FALSE(queue.get(source.get_token()));
    EXPECT_EQ(queue.len(), 1u);
}

TEST(work_queue, a_plain_add_wakes_a_blocked_getter) {
    manual_clock clock;
    work_queue queue({}, clock);
    std::optional<work_queue::item> got;
    std::jthread getter([&] { got = queue.get(); });
    await_waiting_getters(queue, 1);
    queue.add("ns/a");
    getter.join();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->key, "ns/a");
}

TEST(work_queue, counters_and_the_wait_between_ready_and_get) {
    manual_clock clock;
    work_queue queue({}, clock);
    queue.add("ns/a");
    queue.add("ns/a");  // de-duplicated: not counted
    clock.advance(7ms);
    queue.add("ns/b");
    clock.advance(3ms);
    auto a = queue.get();
    auto b = queue.get();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->waited, 10ms);
    EXPECT_EQ(b->waited, 3ms);

    queue.add("ns/a");  // active: marked dirty, counted
    clock.advance(2ms);
    queue.done("ns/a");  // ready again from here
    clock.advance(4ms);
    a = queue.get();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->waited, 4ms);

    queue.add_rate_limited("ns/c");
    queue.add_rate_limited("ns/c");
    auto stats = queue.read_stats();
    EXPECT_EQ(stats.adds_total, 3u);
    EXPECT_EQ(stats.retries_total, 2u);
    EXPECT_EQ(stats.delayed, 1u);
    EXPECT_EQ(stats.active, 2u);
    EXPECT_EQ(stats.ready, 0u);
    EXPECT_EQ(stats.waiting_getters, 0u);

    clock.advance(5ms);
    stats = queue.read_stats();
    EXPECT_EQ(stats.adds_total, 4u) << "a delayed add counts when it comes due";
    EXPECT_EQ(stats.ready, 1u);
    EXPECT_EQ(stats.delayed, 0u);
}

TEST(work_queue, a_destroyed_queue_is_no_longer_woken_by_its_clock) {
    manual_clock clock;
    {
        work_queue queue({}, clock);
        queue.add_after("ns/a", 1ms);
    }
    clock.advance(1s);
    work_queue queue({}, clock);
    queue.add_after("ns/a", 1ms);
    clock.advance(1ms);
    EXPECT_EQ(queue.len(), 1u);
}

TEST(work_queue, the_steady_clock_hands_out_a_delayed_key_on_time) {
    work_queue queue;
    const auto start = std::chrono::steady_clock::now();
    queue.add_after("ns/a", 5ms);
    const auto item = queue.get();
    ASSERT_TRUE(item);
    EXPECT_EQ(item->key, "ns/a");
    EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
}

}  // namespace
}  // namespace elector::kube
