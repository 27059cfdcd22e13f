#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "kube/time.hpp"

namespace elector::kube {

// The time elector runs on, injected everywhere time matters (work queue,
// leader election): a monotonic clock for every delay, expiry and deadline,
// and the wall clock only for timestamps written into objects. Production
// uses system(); tests substitute a manual clock so that nothing sleeps.
class time_source {
public:
    using time_point = std::chrono::steady_clock::time_point;

    virtual ~time_source() = default;

    // Called with callers' mutexes held: must not block on a lock that is
    // held while a wake function (see subscribe) runs.
    virtual time_point now() const = 0;
    virtual kube::time_point wall_now() const = 0;

    // Blocks on `cv`, whose mutex `lock` holds, until it is notified or
    // `deadline` (time_point::max(): none) passes. May return early: callers
    // re-check their state.
    virtual void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) = 0;

    // A clock whose time jumps (a manual one) must call every subscribed
    // `wake` after each jump, since a waiter blocked on a condition variable
    // cannot see it. A real clock's timed waits end by themselves, so the
    // defaults do nothing. unsubscribe must not return while `wake` runs.
    virtual std::uint64_t subscribe(std::function<void()> wake);
    virtual void unsubscribe(std::uint64_t id);

    // steady_clock and system_clock; stateless, shared.
    static time_source& system();
};

}  // namespace elector::kube
