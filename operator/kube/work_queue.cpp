#include "kube/work_queue.hpp"

#include <algorithm>
#include <limits>

namespace elector::kube {

namespace {

int rank(priority p) { return p == priority::urgent ? 0 : 1; }

}  // namespace

work_queue::work_queue(work_queue_options options, time_source& clock) : options_(options), clock_(clock) {
    subscription_ = clock_.subscribe([this] { wake(); });
}

work_queue::~work_queue() { clock_.unsubscribe(subscription_); }

void work_queue::add(const std::string& key, priority p) {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    if (add_locked(key, p, clock_.now())) ready_cv_.notify_one();
}

void work_queue::add_after(const std::string& key, duration delay, priority p) {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    add_after_locked(key, delay, p);
}

work_queue::duration work_queue::add_rate_limited(const std::string& key, priority p) {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return duration::zero();
    auto& failures = failures_[key];
    const auto delay = backoff(failures);
    if (failures < std::numeric_limits<int>::max()) ++failures;
    ++retries_total_;
    add_after_locked(key, delay, p);
    return delay;
}

void work_queue::forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    failures_.erase(key);
}

int work_queue::retries(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
}

std::optional<work_queue::item> work_queue::get(std::stop_token stop) {
    // Constructed before taking the lock: if stop is already requested, the
    // callback runs right here and takes the lock itself.
    std::stop_callback on_stop(stop, [this] { wake(); });
    std::unique_lock lock(mutex_);
    for (;;) {
        if (shutting_down_ || stop.stop_requested()) return std::nullopt;
        const auto now = clock_.now();
        promote_due_locked(now);
        if (!ready_.empty()) {
            auto node = ready_.extract(ready_.begin());
            auto& e = entries_.at(node.mapped());
            e.ready.reset();
            e.active = true;
            ++active_;
            const auto waited = std::max(duration::zero(), now - e.ready_since);
            return item{std::move(node.mapped()), waited};
        }
        const auto deadline = delayed_.empty() ? time_point::max() : delayed_.begin()->first.first;
        ++waiting_getters_;
        clock_.wait_until(lock, ready_cv_, deadline);
        --waiting_getters_;
    }
}

void work_queue::done(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.active) return;
    auto& e = it->second;
    e.active = false;
    --active_;
    if (e.dirty && !shutting_down_) {
        make_ready_locked(key, e, *e.dirty, clock_.now());
        ready_cv_.notify_one();
    }
    e.dirty.reset();
    if (!e.ready && !e.delayed) entries_.erase(it);
    if (active_ == 0) drained_cv_.notify_all();
}

void work_queue::shut_down() {
    std::lock_guard lock(mutex_);
    shut_down_locked();
}

void work_queue::shut_down_with_drain() {
    std::unique_lock lock(mutex_);
    shut_down_locked();
    drained_cv_.wait(lock, [this] { return active_ == 0; });
}

bool work_queue::shutting_down() const {
    std::lock_guard lock(mutex_);
    return shutting_down_;
}

std::size_t work_queue::len() {
    std::lock_guard lock(mutex_);
    promote_due_locked(clock_.now());
    return ready_.size();
}

work_queue::stats work_queue::read_stats() {
    std::lock_guard lock(mutex_);
    promote_due_locked(clock_.now());
    return stats{
        .adds_total = adds_total_,
        .retries_total = retries_total_,
        .ready = ready_.size(),
        .delayed = delayed_.size(),
        .active = active_,
        .waiting_getters = waiting_getters_,
    };
}

// Returns whether the key became ready (rather than de-duplicated or marked dirty).
bool work_queue::add_locked(const std::string& key, priority p, time_point ready_since) {
    auto& e = entries_[key];
    if (e.active) {
        if (!e.dirty) ++adds_total_;
        e.dirty = e.dirty ? std::max(*e.dirty, p) : p;
        return false;
    }
    if (e.ready) {
        if (p == priority::urgent && e.ready->first != rank(priority::urgent)) {
            ready_.erase(*e.ready);
            e.ready = ready_slot{rank(priority::urgent), sequence_++};
            ready_.emplace(*e.ready, key);
        }
        return false;
    }
    ++adds_total_;
    make_ready_locked(key, e, p, ready_since);
    return true;
}

void work_queue::add_after_locked(const std::string& key, duration delay, priority p) {
    const auto now = clock_.now();
    if (delay <= duration::zero()) {
        if (add_locked(key, p, now)) ready_cv_.notify_one();
        return;
    }
    const auto deadline = delay >= time_point::max() - now ? time_point::max() : now + delay;
    auto& e = entries_[key];
    if (e.delayed) {
        e.delayed_priority = std::max(e.delayed_priority, p);
        if (e.delayed->first <= deadline) return;
        delayed_.erase(*e.delayed);
    } else {
        e.delayed_priority = p;
    }
    e.delayed = delay_slot{deadline, sequence_++};
    delayed_.emplace(*e.delayed, key);
    // Getters waiting for a later deadline must wait for this one instead.
    ready_cv_.notify_all();
}

void work_queue::make_ready_locked(const std::string& key, entry& e, priority p, time_point ready_since) {
    e.ready = ready_slot{rank(p), sequence_++};
    e.ready_since = ready_since;
    ready_.emplace(*e.ready, key);
}

void work_queue::promote_due_locked(time_point now) {
    bool promoted = false;
    while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
        auto node = delayed_.extract(delayed_.begin());
        auto& e = entries_.at(node.mapped());
        e.delayed.reset();
        const auto p = std::exchange(e.delayed_priority, priority::normal);
        // A delayed key is ready from its deadline on, however late it is noticed.
        promoted = add_locked(node.mapped(), p, node.key().first) || promoted;
    }
    if (promoted) ready_cv_.notify_all();
}

void work_queue::shut_down_locked() {
    shutting_down_ = true;
    ready_.clear();
    delayed_.clear();
    std::erase_if(entries_, [](const auto& kv) { return !kv.second.active; });
    for (auto& kv : entries_) {
        kv.second.ready.reset();
        kv.second.dirty.reset();
        kv.second.delayed.reset();
    }
    ready_cv_.notify_all();
}

work_queue::duration work_queue::backoff(int failures) const {
    auto delay = std::min(options_.base_delay, options_.max_delay);
    for (int i = 0; i < failures && delay > duration::zero() && delay < options_.max_delay; ++i) {
        delay = delay > options_.max_delay / 2 ? options_.max_delay : delay * 2;
    }
    return delay;
}

void work_queue::wake() {
    // Taking the lock orders this wake-up after any getter's check of its
    // condition, so a getter about to wait cannot miss it.
    { std::lock_guard lock(mutex_); }
    ready_cv_.notify_all();
}

}  // namespace elector::kube
