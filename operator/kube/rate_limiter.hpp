#pragma once

#include <chrono>
#include <mutex>

namespace elector::kube {

enum class priority {
    normal,  // informers, status, events
    urgent,  // lease renewals and failover writes: not rate limited
};

// Client-side rate limit (--kube-api-qps, --kube-api-burst): a token bucket
// holding up to `burst` tokens, refilled at `qps` per second. A normal
// request takes a token and waits while the bucket is in debt; requests are
// served in the order they reserved.
//
// Urgent requests (the Lease writes and label patches of an election) pass
// without a token, as kube-controller-manager's leader election does on a
// client of its own: elector runs one election per group, and N groups renew
// N / retryPeriod times a second whatever the limit says. A limit that
// counted them would either throttle a failover behind renewals or, once the
// renewals alone exceed --kube-api-qps, starve every status write and relist.
// They are bounded by construction instead: one renewal per group per
// retryPeriod, and handovers, which the work queue backs off per group.
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    rate_limiter(double qps, int burst, clock::time_point now = clock::now());

    // Takes a token; returns how long the caller must wait before sending.
    clock::duration reserve(priority p, clock::time_point now = clock::now());

    // reserve() and sleep for the wait.
    void acquire(priority p);

    // A normal request that goes only if a token is free now (writes that
    // can be retried later rather than hold their caller): takes the token
    // and returns zero, or takes nothing and returns how long until one is.
    clock::duration try_reserve(clock::time_point now = clock::now());

private:
    void refill_locked(clock::time_point now);

    std::mutex mutex_;
    double qps_;
    double burst_;
    double tokens_;
    clock::time_point last_;
};

}  // namespace elector::kube
