#include "kube/rate_limiter.hpp"

#include <algorithm>
#include <thread>

namespace elector::kube {

rate_limiter::rate_limiter(double qps, int burst, clock::time_point now)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(now) {}

void rate_limiter::refill_locked(clock::time_point now) {
    if (now <= last_) return;
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
    last_ = now;
}

rate_limiter::clock::duration rate_limiter::reserve(priority p, clock::time_point now) {
    if (p == priority::urgent) return clock::duration::zero();
    std::lock_guard lock(mutex_);
    refill_locked(now);
    tokens_ -= 1.0;
    if (tokens_ >= 0.0) return clock::duration::zero();
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

rate_limiter::clock::duration rate_limiter::try_reserve(clock::time_point now) {
    std::lock_guard lock(mutex_);
    refill_locked(now);
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return clock::duration::zero();
    }
    const auto wait = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>((1.0 - tokens_) / qps_));
    return std::max(wait, clock::duration(1));
}

void rate_limiter::acquire(priority p) {
    if (auto wait = reserve(p); wait > clock::duration::zero()) std::this_thread::sleep_for(wait);
}

}  // namespace elector::kube
