#include "kube/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace elector::kube {
namespace {

using namespace std::chrono_literals;
using clock = rate_limiter::clock;

double ms_of(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(rate_limiter, burst_goes_at_once_then_requests_are_spaced_by_one_over_qps) {
    const auto t0 = clock::time_point{} + 1h;
    rate_limiter limiter(10, 3, t0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.reserve(priority::normal, t0), 0ns) << i;
    EXPECT_EQ(limiter.reserve(priority::normal, t0), 100ms);
    EXPECT_EQ(limiter.reserve(priority::normal, t0), 200ms);  // queued behind the previous one
}

TEST(rate_limiter, tokens_refill_with_time_up_to_the_burst) {
    const auto t0 = clock::time_point{} + 1h;
    rate_limiter limiter(10, 2, t0);
    limiter.reserve(priority::normal, t0);
    limiter.reserve(priority::normal, t0);
    EXPECT_EQ(limiter.reserve(priority::normal, t0 + 100ms), 0ns);
    // A long idle period refills to the burst, no more.
    const auto later = t0 + 1h;
    EXPECT_EQ(limiter.reserve(priority::normal, later), 0ns);
    EXPECT_EQ(limiter.reserve(priority::normal, later), 0ns);
    EXPECT_EQ(limiter.reserve(priority::normal, later), 100ms);
}

TEST(rate_limiter, urgent_requests_pass_without_a_token_and_cost_normal_ones_nothing) {
    const auto t0 = clock::time_point{} + 1h;
    rate_limiter limiter(10, 1, t0);
    EXPECT_EQ(limiter.reserve(priority::normal, t0), 0ns);
    EXPECT_EQ(limiter.reserve(priority::normal, t0), 100ms);
    // A thousand renewals at once neither wait nor push normal traffic back.
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.reserve(priority::urgent, t0), 0ns) << i;
    EXPECT_EQ(limiter.reserve(priority::normal, t0), 200ms);
    // Nor do they use up a refilled burst.
    rate_limiter idle(10, 2, t0);
    for (int i = 0; i < 1000; ++i) idle.reserve(priority::urgent, t0 + 1s);
    EXPECT_EQ(idle.reserve(priority::normal, t0 + 1s), 0ns);
    EXPECT_EQ(idle.reserve(priority::normal, t0 + 1s), 0ns);
    EXPECT_EQ(idle.reserve(priority::normal, t0 + 1s), 100ms);
}

TEST(rate_limiter, try_reserve_takes_a_free_token_or_nothing) {
    const auto t0 = clock::time_point{} + 1h;
    rate_limiter limiter(10, 2, t0);
    EXPECT_EQ(limiter.try_reserve(t0), 0ns);
    EXPECT_EQ(limiter.try_reserve(t0), 0ns);
    // None free: nothing taken, and the time until one is.
    EXPECT_NEAR(ms_of(limiter.try_reserve(t0)), 100.0, 0.001);
    EXPECT_NEAR(ms_of(limiter.try_reserve(t0 + 40ms)), 60.0, 0.001);
    EXPECT_EQ(limiter.try_reserve(t0 + 100ms), 0ns);
    // Normal requests in debt keep it refusing until the debt is paid.
    EXPECT_EQ(limiter.reserve(priority::normal, t0 + 100ms), 100ms);
    EXPECT_NEAR(ms_of(limiter.try_reserve(t0 + 100ms)), 200.0, 0.001);
    EXPECT_EQ(limiter.try_reserve(t0 + 300ms), 0ns);
    // Urgent requests do not touch it.
    for (int i = 0; i < 100; ++i) limiter.reserve(priority::urgent, t0 + 400ms);
    EXPECT_EQ(limiter.try_reserve(t0 + 400ms), 0ns);
}

}  // namespace
}  // namespace elector::kube
