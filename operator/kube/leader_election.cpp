#include "kube/leader_election.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.hpp"

namespace elector::kube {

namespace {

// The API server keeps MicroTime: written times are cut the same way, so a
// record read back compares equal to the one written.
kube::time_point to_microseconds(kube::time_point t) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

bool same_record(const lease& a, const lease& b) {
    return a.holder_identity == b.holder_identity && a.lease_duration_seconds == b.lease_duration_seconds &&
           a.acquire_time == b.acquire_time && a.renew_time == b.renew_time &&
           a.lease_transitions == b.lease_transitions;
}

result<lease> to_lease(result<json> object) {
    if (!object) return std::unexpected(std::move(object.error()));
    auto l = lease::from_json(*object);
    if (!l) return std::unexpected(make_error(error_kind::decode, std::move(l.error())));
    return std::move(*l);
}

}  // namespace

api_lease_lock::api_lease_lock(const client& c, std::string ns, std::string name, std::chrono::milliseconds timeout)
    : client_(c), namespace_(std::move(ns)), name_(std::move(name)),
      options_{.prio = priority::urgent, .timeout = timeout} {}

result<lease> api_lease_lock::get() { return to_lease(client_.get(resources::leases, namespace_, name_, options_)); }

result<lease> api_lease_lock::create(const lease& l) {
    lease object = with_identity(l);
    object.meta.resource_version.clear();
    return to_lease(client_.create(resources::leases, namespace_, object.to_json(), options_));
}

result<lease> api_lease_lock::update(const lease& l) {
    if (l.meta.resource_version.empty()) {
        return std::unexpected(
            make_error(error_kind::other, fmt::format("lease {}: update without a resourceVersion", describe())));
    }
    return to_lease(client_.update(resources::leases, with_identity(l).to_json(), options_));
}

std::string api_lease_lock::describe() const { return namespace_ + "/" + name_; }

lease api_lease_lock::with_identity(const lease& l) const {
    lease object = l;
    object.meta.name = name_;
    object.meta.namespace_ = namespace_;
    return object;
}

std::expected<void, std::string> leader_election_config::validate() const {
    if (identity.empty()) return std::unexpected("leader election identity must not be empty");
    if (lease_duration.count() <= 0) return std::unexpected("leaseDuration must be greater than zero");
    if (renew_deadline.count() <= 0) return std::unexpected("renewDeadline must be greater than zero");
    if (retry_period.count() <= 0) return std::unexpected("retryPeriod must be greater than zero");
    if (lease_duration <= renew_deadline) return std::unexpected("leaseDuration must be greater than renewDeadline");
    // Exact for whole milliseconds, where client-go's float product 1.2 × retryPeriod is exact as well.
    if (renew_deadline.count() * 5 <= retry_period.count() * 6) {
        return std::unexpected("renewDeadline must be greater than retryPeriod*JitterFactor (1.2)");
    }
    return {};
}

leader_elector::leader_elector(leader_election_config config, lease_lock& lock, time_source& clock,
                               leader_callbacks callbacks)
    : config_(std::move(config)), lock_(lock), clock_(clock), callbacks_(std::move(callbacks)),
      description_(lock.describe()), random_(std::random_device{}()) {
    if (auto valid = config_.validate(); !valid) throw std::invalid_argument(valid.error());
    subscription_ = clock_.subscribe([this] { wake(); });
}

leader_elector::~leader_elector() { clock_.unsubscribe(subscription_); }

void leader_elector::run(std::stop_token stop) {
    // Constructed before any lock is taken: if stop is already requested, the
    // callback runs right here and takes the lock itself.
    std::stop_callback on_stop(stop, [this] { wake(); });

    spdlog::info("leader election: trying to acquire the lease id={} lease={}", log::q(config_.identity),
                 log::q(description_));
    if (!acquire(stop)) {
        spdlog::info("leader election: stopped before acquiring the lease id={} lease={}", log::q(config_.identity),
                     log::q(description_));
        return;
    }
    if (stop.stop_requested()) {
        // Acquired just as the stop came: no work was started, so the lease can go at once.
        {
            std::lock_guard lock(mutex_);
            leading_ = false;
        }
        if (config_.release_on_cancel) release();
        return;
    }

    std::jthread leading;
    if (callbacks_.on_started_leading) {
        leading = std::jthread([this](std::stop_token token) { callbacks_.on_started_leading(std::move(token)); });
    }
    const bool stopped = renew(stop);
    {
        std::lock_guard lock(mutex_);
        leading_ = false;
    }
    if (stopped) {
        spdlog::info("leader election: stepping down, stop requested id={} lease={}", log::q(config_.identity),
                     log::q(description_));
    } else {
        spdlog::warn("leader election: lost the lease id={} lease={}", log::q(config_.identity), log::q(description_));
    }

    // Every writer stops before the lease may pass to anyone else.
    leading.request_stop();
    if (leading.joinable()) leading.join();
    if (stopped && config_.release_on_cancel) release();
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

void leader_elector::nudge() {
    std::lock_guard lock(mutex_);
    nudged_ = true;
    cv_.notify_all();
}

bool leader_elector::is_leader() const {
    std::lock_guard lock(mutex_);
    return leading_;
}

std::string leader_elector::leader() const {
    std::lock_guard lock(mutex_);
    return observed_ ? observed_->holder_identity : std::string();
}

bool leader_elector::acquire(const std::stop_token& stop) {
    for (;;) {
        if (stop.stop_requested()) return false;
        {
            // A nudge that arrives during the attempt makes the next wait end at once.
            std::lock_guard lock(mutex_);
            nudged_ = false;
        }
        const attempt a = try_acquire_or_renew(std::nullopt);
        report_transition();
        if (a == attempt::acquired) {
            {
                std::lock_guard lock(mutex_);
                leading_ = true;
            }
            spdlog::info("leader election: acquired the lease id={} lease={}", log::q(config_.identity),
                         log::q(description_));
            return true;
        }
        if (sleep_until(next_attempt(a), stop, true) == wake_reason::stop) return false;
    }
}

leader_elector::time_point leader_elector::next_attempt(attempt last) {
    time_point next = clock_.now() + jittered_retry_period();
    if (last != attempt::held_by_other) return next;
    // The record expires, by this process's own observation, at
    // observed_time + lease_duration: try right then rather than up to a
    // jittered retry period later (client-go waits; elector takes over on time).
    std::lock_guard lock(mutex_);
    return std::min(next, observed_time_ + config_.lease_duration + std::chrono::milliseconds(1));
}

bool leader_elector::renew(const std::stop_token& stop) {
    for (;;) {
        if (stop.stop_requested()) return true;
        // client-go: one series of attempts, immediately and then on a
        // retry_period ticker, must succeed before the renew deadline.
        const time_point deadline = clock_.now() + config_.renew_deadline;
        std::optional<time_point> tick;
        for (;;) {
            const attempt a = try_acquire_or_renew(deadline);
            report_transition();
            const time_point now = clock_.now();
            // A success that comes back after the deadline counts as a failure,
            // as client-go's context deadline would have cancelled its request.
            if (a == attempt::acquired && now < deadline) break;
            if (a == attempt::held_by_other) {
                spdlog::warn("leader election: the lease is now held by another holder id={} lease={} holder={}",
                             log::q(config_.identity), log::q(description_), log::q(leader()));
                return false;
            }
            if (now >= deadline) return false;
            if (!tick) {
                tick = now + config_.retry_period;
            } else {
                while (*tick <= now) *tick += config_.retry_period;
            }
            if (sleep_until(std::min(*tick, deadline), stop, false) == wake_reason::stop) return true;
            if (clock_.now() >= deadline) return false;
        }
        spdlog::debug("leader election: renewed the lease id={} lease={}", log::q(config_.identity),
                      log::q(description_));
        if (sleep_until(clock_.now() + config_.retry_period, stop, false) == wake_reason::stop) return true;
    }
}

leader_elector::attempt leader_elector::try_acquire_or_renew(std::optional<time_point> deadline) {
    const time_point now = clock_.now();
    lease desired;
    desired.holder_identity = config_.identity;
    desired.lease_duration_seconds =
        static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
    desired.acquire_time = desired.renew_time = to_microseconds(clock_.wall_now());

    // client-go cancels a renewal's requests at the renew deadline: nothing is
    // written once it has passed.
    auto current = lock_.get();
    if (deadline && clock_.now() >= *deadline) return attempt::failed;
    if (!current) {
        if (current.error().kind != error_kind::not_found) {
            spdlog::warn("leader election: cannot read the lease lease={} error={}", log::q(description_),
                         log::q(current.error().to_string()));
            return attempt::failed;
        }
        auto created = lock_.create(desired);
        if (!created) {
            spdlog::warn("leader election: cannot create the lease lease={} error={}", log::q(description_),
                         log::q(created.error().to_string()));
            return attempt::failed;
        }
        observe(*created, true);
        return attempt::acquired;
    }

    observe(*current, false);
    const bool mine = current->holder_identity == config_.identity;
    if (!current->holder_identity.empty() && !mine) {
        time_point observed_at;
        {
            std::lock_guard lock(mutex_);
            observed_at = observed_time_;
        }
        if (observed_at + config_.lease_duration > now) {
            spdlog::debug("leader election: the lease is held by another holder and has not expired lease={} holder={}",
                          log::q(description_), log::q(current->holder_identity));
            return attempt::held_by_other;
        }
    }

    desired.meta = current->meta;
    if (mine) {
        desired.acquire_time = current->acquire_time;
        desired.lease_transitions = current->lease_transitions;
    } else {
        // Wraps as client-go's int32 would, without signed overflow.
        desired.lease_transitions =
            static_cast<std::int32_t>(static_cast<std::uint32_t>(current->lease_transitions) + 1u);
    }
    auto updated = lock_.update(desired);
    if (!updated) {
        spdlog::warn("leader election: cannot update the lease lease={} error={}", log::q(description_),
                     log::q(updated.error().to_string()));
        return attempt::failed;
    }
    if (!mine) {
        spdlog::info("leader election: took over the lease id={} lease={} from={} transitions={}",
                     log::q(config_.identity), log::q(description_),
                     current->holder_identity.empty() ? std::string("-") : log::q(current->holder_identity),
                     desired.lease_transitions);
    }
    observe(*updated, true);
    return attempt::acquired;
}

void leader_elector::observe(const lease& current, bool written) {
    const time_point now = clock_.now();
    std::lock_guard lock(mutex_);
    // Expiry counts from when this process last saw the record change, on its
    // own monotonic clock: the holder's timestamps come from another machine.
    if (written || !observed_ || !same_record(*observed_, current)) observed_time_ = now;
    observed_ = current;
}

void leader_elector::report_transition() {
    std::string holder = leader();
    if (holder == reported_leader_) return;
    reported_leader_ = holder;
    if (callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
}

void leader_elector::release() {
    lease released;
    {
        std::lock_guard lock(mutex_);
        if (!observed_ || observed_->holder_identity != config_.identity) return;
        released = *observed_;
    }
    // Exactly client-go's release record: the next candidate need not wait out a lease.
    released.holder_identity.clear();
    released.lease_duration_seconds = 1;
    released.acquire_time = released.renew_time = to_microseconds(clock_.wall_now());
    auto updated = lock_.update(released);
    if (!updated) {
        spdlog::error("leader election: cannot release the lease id={} lease={} error={}", log::q(config_.identity),
                      log::q(description_), log::q(updated.error().to_string()));
        return;
    }
    observe(*updated, true);
    spdlog::info("leader election: released the lease id={} lease={}", log::q(config_.identity), log::q(description_));
}

leader_elector::wake_reason leader_elector::sleep_until(time_point deadline, const std::stop_token& stop,
                                                        bool nudgeable) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (stop.stop_requested()) return wake_reason::stop;
        if (nudgeable && nudged_) return wake_reason::nudge;
        if (clock_.now() >= deadline) return wake_reason::deadline;
        clock_.wait_until(lock, cv_, deadline);
    }
}

leader_elector::duration leader_elector::jittered_retry_period() {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const std::chrono::duration<double> base = config_.retry_period;
    return std::chrono::duration_cast<duration>(base * (1.0 + unit(random_) * leader_election_jitter_factor));
}

void leader_elector::wake() {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
}

}  // namespace elector::kube
