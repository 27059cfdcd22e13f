#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "kube/time_source.hpp"

namespace elector::kube::testing {

// A time_source whose time moves only when a test says so: advance() moves
// it and wakes every subscribed waiter. Subclasses say how a wait behaves and
// what the wall clock reads.
class manual_time_source : public time_source {
public:
    using duration = std::chrono::steady_clock::duration;

    explicit manual_time_source(time_point start) : now_(start.time_since_epoch().count()) {}

    // Atomic so that now() takes no lock: callers call it under their own mutex.
    time_point now() const override { return time_point(duration(now_.load())); }

    std::uint64_t subscribe(std::function<void()> wake) override {
        std::lock_guard lock(mutex_);
        wakes_.emplace(++last_id_, std::move(wake));
        return last_id_;
    }

    void unsubscribe(std::uint64_t id) override {
        std::lock_guard lock(mutex_);
        wakes_.erase(id);
    }

    void advance(duration d) {
        std::lock_guard lock(mutex_);
        now_ += d.count();
        for (auto& [id, wake] : wakes_) wake();
    }

protected:
    // Moves time forward to `t` (never back) without waking anyone: for a
    // waiter that jumps straight to its own deadline.
    void jump_to(time_point t) {
        const auto target = t.time_since_epoch().count();
        auto current = now_.load();
        while (current < target && !now_.compare_exchange_weak(current, target)) {
        }
    }

private:
    std::atomic<duration::rep> now_;
    std::mutex mutex_;
    std::map<std::uint64_t, std::function<void()>> wakes_;
    std::uint64_t last_id_ = 0;
};

}  // namespace elector::kube::testing
