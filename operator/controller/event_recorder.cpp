#include "controller/event_recorder.hpp"

#include <algorithm>
#include <exception>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kube/time.hpp"
#include "log/logging.hpp"

namespace elector::controller {

namespace {

using steady_duration = std::chrono::steady_clock::duration;

// Keys are length-prefixed parts ("5:uid-1" "6:Normal" ...), so no choice of
// characters in a part can make two different events collide, and an
// object's entries are exactly the keys that start with its encoded uid.
void append_part(std::string& key, std::string_view part) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
}

std::string part(std::string_view s) {
    std::string key;
    append_part(key, s);
    return key;
}

// Bounds that keep burst × refill representable in steady_clock ticks.
constexpr int max_burst = 1'000'000;
constexpr std::chrono::seconds max_refill = std::chrono::hours(24 * 365 * 10);

event_correlator::options sanitized(event_correlator::options o) {
    o.similar_limit = std::max(o.similar_limit, 1);
    o.burst = std::min(o.burst, max_burst);
    o.refill = std::min(o.refill, max_refill);
    o.max_keys = std::max<std::size_t>(o.max_keys, 1);
    return o;
}

}  // namespace

// ---- lru_map ----

template <class V>
V* event_correlator::lru_map<V>::find(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    items_.splice(items_.begin(), items_, it->second);  // iterators and the key's storage stay valid
    return &it->second->second;
}

template <class V>
V& event_correlator::lru_map<V>::put(std::string key, V value) {
    if (auto* existing = find(key)) {
        *existing = std::move(value);
        return *existing;
    }
    while (index_.size() >= capacity_ && !items_.empty()) {
        index_.erase(std::string_view(items_.back().first));
        items_.pop_back();
    }
    items_.emplace_front(std::move(key), std::move(value));
    index_.emplace(std::string_view(items_.front().first), items_.begin());
    return items_.front().second;
}

template <class V>
void event_correlator::lru_map<V>::erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    auto item = it->second;
    index_.erase(it);
    items_.erase(item);
}

template <class V>
void event_correlator::lru_map<V>::erase_prefix(std::string_view prefix) {
    for (auto it = items_.begin(); it != items_.end();) {
        if (std::string_view(it->first).starts_with(prefix)) {
            index_.erase(std::string_view(it->first));
            it = items_.erase(it);
        } else {
            ++it;
        }
    }
}

// ---- event_correlator ----

event_correlator::event_correlator(options o)
    : options_(sanitized(o)), series_(options_.max_keys), similar_(options_.max_keys), buckets_(options_.max_keys) {}

bool event_correlator::expired(mono_time last_seen, mono_time now) const {
    return now - last_seen > options_.window;
}

bool event_correlator::take_token(std::string_view object, mono_time now) {
    if (options_.burst <= 0) return true;  // no spam filter
    if (options_.refill <= std::chrono::seconds::zero()) return true;  // refilled instantly: never dry
    const steady_duration cost = options_.refill;
    const steady_duration full = cost * options_.burst;
    auto* b = buckets_.find(object);
    if (b == nullptr) {
        b = &buckets_.put(std::string(object), bucket{.credit = full, .last = now});
    } else if (now > b->last) {
        b->credit = std::min(full, b->credit + (now - b->last));
        b->last = now;
    }
    if (b->credit < cost) return false;
    b->credit -= cost;
    return true;
}

event_correlator::decision event_correlator::observe(std::string_view object, std::string_view type,
                                                     std::string_view reason, std::string_view message,
                                                     bool important, mono_time now, kube::time_point wall) {
    if (!important && !take_token(object, now)) {
        ++dropped_;
        return decision{.what = action::drop, .message = std::string(message)};
    }

    // Aggregation: the first similar_limit distinct messages of (object, type,
    // reason) are Events of their own; later new ones share one Event.
    std::string group_key = part(object);
    append_part(group_key, type);
    append_part(group_key, reason);
    auto* group = similar_.find(group_key);
    if (group != nullptr && expired(group->last_seen, now)) group->messages.clear();
    if (group == nullptr) group = &similar_.put(group_key, similar_state{});
    group->last_seen = now;
    bool aggregate = false;
    if (std::find(group->messages.begin(), group->messages.end(), message) == group->messages.end()) {
        if (group->messages.size() < static_cast<std::size_t>(options_.similar_limit)) {
            group->messages.emplace_back(message);
        } else {
            aggregate = true;
        }
    }

    // Dedup: one remembered Event per series.
    std::string key = std::move(group_key);
    if (aggregate) {
        key += 'a';
    } else {
        key += 'm';
        append_part(key, message);
    }
    decision d{.aggregate = aggregate,
               .message = aggregate ? fmt::format("{}{}", combined_prefix, message) : std::string(message)};
    auto* s = series_.find(key);
    if (s == nullptr || expired(s->last_seen, now)) {
        s = &series_.put(key, series_state{.id = ++next_id_,
                                           .creating = true,
                                           .count = 1,
                                           .last_seen = now,
                                           .first_timestamp = wall});
        d.what = action::create;
    } else {
        s->last_seen = now;
        ++s->count;
        if (!s->name.empty()) {
            d.what = action::patch;
            d.name = s->name;
        } else if (s->creating) {
            d.what = action::none;
        } else {
            s->creating = true;
            d.what = action::create;
        }
    }
    d.series = std::move(key);
    d.series_id = s->id;
    d.count = s->count;
    d.first_timestamp = s->first_timestamp;
    return d;
}

void event_correlator::created(const decision& d, std::string name) {
    auto* s = series_.find(d.series);
    if (s == nullptr || s->id != d.series_id) return;
    s->name = std::move(name);
    s->creating = false;
}

void event_correlator::create_failed(const decision& d) {
    auto* s = series_.find(d.series);
    if (s == nullptr || s->id != d.series_id) return;
    s->name.clear();
    s->creating = false;
}

void event_correlator::forget(std::string_view object) {
    const std::string prefix = part(object);
    series_.erase_prefix(prefix);
    similar_.erase_prefix(prefix);
    buckets_.erase(object);
}

// ---- event_recorder ----

namespace {

event_correlator::options correlator_options(const event_recorder::options& o) {
    return {.window = o.window, .similar_limit = o.similar_limit, .burst = o.burst, .refill = o.refill,
            .max_keys = o.max_keys};
}

// uid identifies an object across renames and re-creations; without one
// (should not happen for stored objects), its coordinates.
std::string object_key(const kube::object_reference& r) {
    if (!r.uid.empty()) return r.uid;
    return fmt::format("{}/{}/{}/{}", r.api_version, r.kind, r.namespace_, r.name);
}

std::string name_of(const kube::json& object) {
    if (!object.is_object()) return {};
    auto metadata = object.find("metadata");
    if (metadata == object.end() || !metadata->is_object()) return {};
    auto name = metadata->find("name");
    if (name == metadata->end() || !name->is_string()) return {};
    return name->get<std::string>();
}

}  // namespace

std::string_view to_string(event_recorder::outcome o) {
    switch (o) {
        case event_recorder::outcome::created: return "created";
        case event_recorder::outcome::counted: return "counted";
        case event_recorder::outcome::aggregated: return "aggregated";
        case event_recorder::outcome::dropped: return "dropped";
        case event_recorder::outcome::failed: return "failed";
    }
    return "unknown";
}

event_recorder::event_recorder(const kube::client& client, options o, kube::time_source& clock)
    : client_(client), options_(std::move(o)), clock_(clock), correlator_(correlator_options(options_)) {}

std::uint64_t event_recorder::dropped() const {
    std::lock_guard lock(mutex_);
    return correlator_.dropped();
}

void event_recorder::forget(const std::string& uid) {
    std::lock_guard lock(mutex_);
    correlator_.forget(uid);
}

event_recorder::outcome event_recorder::record(const kube::object_reference& involved, std::string_view type,
                                               std::string_view reason, std::string_view message,
                                               bool important) noexcept {
    event_correlator::decision d;
    bool may_be_creating = false;
    try {
        const auto mono = clock_.now();
        const auto wall = clock_.wall_now();
        {
            std::lock_guard lock(mutex_);
            d = correlator_.observe(object_key(involved), type, reason, message, important, mono, wall);
        }
        // Until the create below is settled, an exception must not leave the series "creating" forever.
        may_be_creating = d.what == event_correlator::action::create;
        using action = event_correlator::action;
        const outcome success = d.aggregate ? outcome::aggregated
                                : d.what == action::create ? outcome::created
                                                           : outcome::counted;
        if (d.what == action::drop) {
            spdlog::debug("spam filter dropped an event kind={} object={} reason={} message={}", log::q(involved.kind),
                          log::q(involved.namespace_ + "/" + involved.name), log::q(reason), log::q(message));
            return outcome::dropped;
        }
        if (d.what == action::none) return success;

        kube::json event = kube::make_event({.involved = involved,
                                             .type = std::string(type),
                                             .reason = std::string(reason),
                                             .message = d.message,
                                             .reporting_controller = options_.reporting_controller,
                                             .reporting_instance = options_.reporting_instance,
                                             .now = wall,
                                             .count = d.count});
        event["firstTimestamp"] = kube::format_time(d.first_timestamp);
        const std::string ns = event["metadata"]["namespace"].get<std::string>();

        if (d.what == action::patch) {
            kube::json patch = {{"count", d.count}, {"lastTimestamp", event["lastTimestamp"]}};
            if (d.aggregate) patch["message"] = event["message"];
            auto patched = client_.patch(kube::resources::events, ns, d.name, kube::patch_type::merge, patch);
            if (patched) return success;
            if (patched.error().kind != kube::error_kind::not_found) {
                spdlog::warn("cannot update an event kind={} object={} event_name={} reason={} error={}",
                             log::q(involved.kind), log::q(involved.namespace_ + "/" + involved.name), log::q(d.name),
                             log::q(reason), log::q(patched.error().to_string()));
                return outcome::failed;
            }
            // Gone (its TTL passed, or someone deleted it): write it anew, count and first time kept.
            spdlog::debug("an event is gone, creating it again event_name={}", log::q(ns + "/" + d.name));
        }

        may_be_creating = true;
        auto created = client_.create(kube::resources::events, ns, event);
        auto name = created ? name_of(*created) : std::string();
        {
            std::lock_guard lock(mutex_);
            // Without a name there is nothing to patch: the next occurrence creates.
            if (name.empty()) {
                correlator_.create_failed(d);
            } else {
                correlator_.created(d, std::move(name));
            }
            may_be_creating = false;
        }
        if (!created) {
            spdlog::warn("cannot record an event kind={} object={} reason={} error={}", log::q(involved.kind),
                         log::q(involved.namespace_ + "/" + involved.name), log::q(reason),
                         log::q(created.error().to_string()));
            return outcome::failed;
        }
        return success;
    } catch (const std::exception& e) {
        try {
            if (may_be_creating) {
                std::lock_guard lock(mutex_);
                correlator_.create_failed(d);
            }
            spdlog::warn("cannot record an event kind={} object={} reason={} error={}", log::q(involved.kind),
                         log::q(involved.namespace_ + "/" + involved.name), log::q(reason), log::q(e.what()));
        } catch (...) {
        }
        return outcome::failed;
    } catch (...) {
        return outcome::failed;
    }
}

event_queue::event_queue(event_recorder& recorder, std::size_t limit, std::chrono::milliseconds drain)
    : recorder_(recorder), limit_(std::max<std::size_t>(1, limit)), drain_(drain),
      thread_([this](const std::stop_token& stop) { run(stop); }) {}

event_queue::~event_queue() {
    thread_.request_stop();
    changed_.notify_all();
    thread_.join();
}

void event_queue::record(kube::object_reference involved, std::string type, std::string reason, std::string message,
                         bool important) {
    post(
        [this, involved = std::move(involved), type = std::move(type), reason = std::move(reason),
         message = std::move(message), important] { recorder_.record(involved, type, reason, message, important); },
        true);
}

void event_queue::forget(std::string uid) {
    post([this, uid = std::move(uid)] { recorder_.forget(uid); }, false);
}

void event_queue::post(std::function<void()> item, bool is_event) {
    {
        std::lock_guard lock(mutex_);
        if (is_event && events_queued_ >= limit_) {
            if (overflowed_++ % 1000 == 0) {
                spdlog::warn("events are written more slowly than they happen; dropping new ones queued={} dropped={}",
                             events_queued_, overflowed_);
            }
            return;
        }
        items_.emplace_back(std::move(item), is_event);
        events_queued_ += is_event ? 1 : 0;
        ++posted_;
    }
    changed_.notify_all();
}

void event_queue::flush() {
    std::unique_lock lock(mutex_);
    const auto target = posted_;
    changed_.wait(lock, [&] { return done_ >= target; });
}

std::uint64_t event_queue::overflowed() const {
    std::lock_guard lock(mutex_);
    return overflowed_;
}

void event_queue::run(const std::stop_token& stop) {
    std::optional<std::chrono::steady_clock::time_point> give_up;
    std::unique_lock lock(mutex_);
    while (true) {
        changed_.wait(lock, stop, [&] { return !items_.empty(); });
        if (stop.stop_requested() && !give_up) give_up = std::chrono::steady_clock::now() + drain_;
        if (items_.empty() || (give_up && std::chrono::steady_clock::now() >= *give_up)) break;
        auto [item, is_event] = std::move(items_.front());
        items_.pop_front();
        events_queued_ -= is_event ? 1 : 0;
        lock.unlock();
        item();  // event_recorder::record never throws
        lock.lock();
        ++done_;
        changed_.notify_all();
    }
    if (!items_.empty()) {
        spdlog::warn("stopping with events not written count={}", events_queued_);
        done_ += items_.size();
        items_.clear();
        events_queued_ = 0;
    }
    changed_.notify_all();
}

}  // namespace elector::controller
