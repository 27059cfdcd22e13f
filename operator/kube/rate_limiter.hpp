#pragma once

#include <chrono>
#include <mutex>

namespace elector::kube {

enum class priority {
    normal,  // informers, status, events
    urgent,  // lease renewals and failover writes: never wait behind normal traffic
};

// Client-side rate limit (--kube-api-qps, --kube-api-burst): a token bucket
// holding up to `burst` tokens, refilled at `qps` per second. A normal
// request takes a token and waits while the bucket is in debt; requests are
// served in the order they reserved. An urgent request takes its token too
// but never waits: it may push the bucket into debt, which delays later
// normal requests, so the long-run rate stays bounded while a failover is
// not throttled behind a relist.
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    rate_limiter(double qps, int burst, clock::time_point now = clock::now());

    // Takes a token; returns how long the caller must wait before sending.
    clock::duration reserve(priority p, clock::time_point now = clock::now());

    // reserve() and sleep for the wait.
    void acquire(priority p);

private:
    std::mutex mutex_;
    double qps_;
    double burst_;
    double tokens_;
    clock::time_point last_;
};

}  // namespace elector::kube
