#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>

#include "kube/client.hpp"
#include "kube/error.hpp"
#include "kube/objects.hpp"
#include "kube/time_source.hpp"
#include "kube/time.hpp"

// Leader election among elector's own replicas: client-go 1.20's
// leaderelection algorithm on a coordination.k8s.io/v1 Lease, with the lock
// and the clock injected.
namespace elector::kube {

// Where the election record lives. Implementations must be thread-compatible
// (the elector calls them from its run() thread only).
class lease_lock {
public:
    virtual ~lease_lock() = default;

    // The current Lease; a missing one is the error NotFound.
    virtual result<lease> get() = 0;
    // Creates the Lease (the lock sets its name and namespace); AlreadyExists if there is one.
    virtual result<lease> create(const lease& l) = 0;
    // Replaces the Lease on condition that l.meta.resource_version is still current, else Conflict.
    virtual result<lease> update(const lease& l) = 0;
    // "namespace/name", for logs.
    [[nodiscard]] virtual std::string describe() const = 0;
};

// The Lease `ns/name` through the API server. Every call goes on the urgent
// lane with its own timeout, which should be well below the renew deadline.
class api_lease_lock final : public lease_lock {
public:
    // `c` must outlive the lock.
    api_lease_lock(const client& c, std::string ns, std::string name,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));

    result<lease> get() override;
    result<lease> create(const lease& l) override;
    // An update without a resourceVersion is refused without a request: it would overwrite blindly.
    result<lease> update(const lease& l) override;
    [[nodiscard]] std::string describe() const override;

private:
    [[nodiscard]] lease with_identity(const lease& l) const;

    const client& client_;
    std::string namespace_;
    std::string name_;
    call_options options_;
};

struct leader_election_config {
    std::string identity;
    std::chrono::milliseconds lease_duration{15000};
    std::chrono::milliseconds renew_deadline{10000};
    std::chrono::milliseconds retry_period{2000};
    bool release_on_cancel = true;

    // client-go's rules: identity non-empty, every duration > 0,
    // lease_duration > renew_deadline > 1.2 × retry_period.
    [[nodiscard]] std::expected<void, std::string> validate() const;
};

// client-go's JitterFactor: acquire retries wait retry_period × (1 + [0, 1.2)).
inline constexpr double leader_election_jitter_factor = 1.2;

// Every callback may be empty.
struct leader_callbacks {
    // Runs on a thread owned by the elector; the work must stop when `leading`
    // is stop-requested. The elector joins this thread before anything else
    // happens on stepping down.
    std::function<void(std::stop_token leading)> on_started_leading;
    // On the run() thread, after the leading thread has been joined (and the
    // Lease released, if it is released). Called only after on_started_leading.
    std::function<void()> on_stopped_leading;
    // On the run() thread, whenever the observed holder changes ("" once it is released).
    std::function<void(const std::string& identity)> on_new_leader;
};

class leader_elector {
public:
    // Throws std::invalid_argument when config.validate() fails. `lock` and
    // `clock` must outlive the elector.
    leader_elector(leader_election_config config, lease_lock& lock, time_source& clock,
                   leader_callbacks callbacks);
    ~leader_elector();
    leader_elector(const leader_elector&) = delete;
    leader_elector& operator=(const leader_elector&) = delete;

    // Blocks: tries to acquire every retry_period (jittered) until it does or
    // `stop` is requested, then leads and renews until the lease is lost or
    // `stop` is requested, steps down and returns. Call it once.
    void run(std::stop_token stop);

    // Makes a waiting acquire attempt happen now (a watcher saw the Lease change).
    void nudge();

    // Between acquiring and stepping down.
    [[nodiscard]] bool is_leader() const;
    // The holder of the record last observed; "" before the first read or once released.
    [[nodiscard]] std::string leader() const;
    [[nodiscard]] const leader_election_config& config() const { return config_; }

private:
    using time_point = time_source::time_point;
    using duration = std::chrono::steady_clock::duration;

    enum class attempt { acquired, held_by_other, failed };
    enum class wake_reason { deadline, stop, nudge };

    // `deadline`: the renew deadline, after which no request is made.
    attempt try_acquire_or_renew(std::optional<time_point> deadline);
    void observe(const lease& current, bool written);
    void report_transition();
    bool acquire(const std::stop_token& stop);
    time_point next_attempt(attempt last);
    // True when `stop` ended it, false when the lease was lost.
    bool renew(const std::stop_token& stop);
    void release();
    wake_reason sleep_until(time_point deadline, const std::stop_token& stop, bool nudgeable);
    duration jittered_retry_period();
    void wake();

    leader_election_config config_;
    lease_lock& lock_;
    time_source& clock_;
    leader_callbacks callbacks_;
    std::string description_;
    std::mt19937_64 random_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool nudged_ = false;
    bool leading_ = false;
    // The last Lease read or written (its resourceVersion is the next write's
    // precondition) and the local monotonic time its record last changed.
    std::optional<lease> observed_;
    time_point observed_time_{};

    std::string reported_leader_;  // run() thread only
    std::uint64_t subscription_ = 0;
};

}  // namespace elector::kube
