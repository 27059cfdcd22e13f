#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "kube/objects.hpp"
#include "kube/time_source.hpp"

// Kubernetes Events the way client-go's record package writes them, so that
// `kubectl get events` shows "x5 over 2m" instead of a flood:
//   - dedup: a repeat of an Event (same object, type, reason, message) seen
//     within the window patches that Event's count and lastTimestamp;
//   - aggregation: past `similar_limit` distinct messages for one (object,
//     type, reason) in the window, further new messages go into one Event
//     "(combined from similar events): <latest message>";
//   - spam filter: a token bucket per involved object; important Events
//     (leadership handovers) bypass it.
// The window slides: an Event or a group of similar Events is forgotten
// once it has not been seen for `window`.
namespace elector::controller {

// The pure part: remembers what was written and decides what to write next.
// No IO, no clock of its own, not thread-safe (event_recorder locks it).
class event_correlator {
public:
    using mono_time = std::chrono::steady_clock::time_point;

    struct options {
        std::chrono::seconds window{600};
        int similar_limit = 10;   // < 1 counts as 1
        int burst = 25;           // <= 0: no spam filter
        std::chrono::seconds refill{300};  // one token per this; <= 0: buckets never run dry
        std::size_t max_keys = 4096;       // per table (series, similar groups, buckets); < 1 counts as 1
    };

    enum class action {
        create,  // create a new Event with `count` and `message`
        patch,   // merge-patch Event `name`: count, lastTimestamp (and message when aggregate)
        none,    // counted locally: the Event's create is still in flight; the next write carries the count
        drop,    // the spam filter refused it
    };

    struct decision {
        action what = action::drop;
        bool aggregate = false;      // the "(combined from similar events)" Event
        std::string series;          // the remembered Event's key, for created()/create_failed()
        std::uint64_t series_id = 0;
        std::string name;            // patch: the Event to patch
        std::int32_t count = 1;      // the Event's count after this occurrence
        std::string message;         // the message to write (combined prefix included)
        kube::time_point first_timestamp;  // the Event's firstTimestamp (wall), for a (re-)create
    };

    static constexpr std::string_view combined_prefix = "(combined from similar events): ";

    explicit event_correlator(options o);

    // One occurrence. `object` identifies the involved object (its uid);
    // `now` is the steady time, `wall` the wall time written into the Event.
    // A drop changes nothing but the dropped() count.
    decision observe(std::string_view object, std::string_view type, std::string_view reason,
                     std::string_view message, bool important, mono_time now, kube::time_point wall);

    // The create that `d` asked for succeeded and the server named the Event
    // `name`: later occurrences patch it. Ignored if the series has since
    // been forgotten or replaced.
    void created(const decision& d, std::string name);
    // The create failed: the next occurrence creates again (with the count so far).
    void create_failed(const decision& d);

    // Drops everything remembered about one object.
    void forget(std::string_view object);

    [[nodiscard]] std::uint64_t dropped() const { return dropped_; }
    [[nodiscard]] std::size_t series_size() const { return series_.size(); }
    [[nodiscard]] std::size_t similar_size() const { return similar_.size(); }
    [[nodiscard]] std::size_t bucket_size() const { return buckets_.size(); }

private:
    // A string -> V map holding at most `capacity` entries, evicting the
    // least recently used.
    template <class V>
    class lru_map {
    public:
        explicit lru_map(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
        lru_map(const lru_map&) = delete;
        lru_map& operator=(const lru_map&) = delete;

        // Marks it most recently used; nullptr if absent.
        V* find(std::string_view key);
        // Inserts or replaces, most recently used; evicts the least recently used when full.
        V& put(std::string key, V value);
        void erase(std::string_view key);
        // Erases every entry whose key starts with `prefix`.
        void erase_prefix(std::string_view prefix);
        [[nodiscard]] std::size_t size() const { return index_.size(); }

    private:
        using list = std::list<std::pair<std::string, V>>;
        std::size_t capacity_;
        list items_;  // front: most recently used
        std::unordered_map<std::string_view, typename list::iterator> index_;  // views into items_' keys
    };

    struct series_state {
        std::uint64_t id = 0;
        std::string name;        // empty until created
        bool creating = false;   // a create is in flight
        std::int32_t count = 0;
        mono_time last_seen;
        kube::time_point first_timestamp;
    };
    struct similar_state {
        std::vector<std::string> messages;  // the distinct messages written as their own Events, <= similar_limit
        mono_time last_seen;
    };
    // A token bucket kept as time credit: one token is `refill` worth of
    // credit, full is `burst` tokens' worth; integral, so no rounding drift.
    struct bucket {
        std::chrono::steady_clock::duration credit{};
        mono_time last;
    };

    bool take_token(std::string_view object, mono_time now);
    [[nodiscard]] bool expired(mono_time last_seen, mono_time now) const;

    options options_;
    lru_map<series_state> series_;
    lru_map<similar_state> similar_;
    lru_map<bucket> buckets_;
    std::uint64_t next_id_ = 0;
    std::uint64_t dropped_ = 0;
};

// The IO shell: correlates under a lock, then writes the Event with the
// client outside it.
class event_recorder {
public:
    struct options {
        std::string reporting_controller = "elector";
        std::string reporting_instance;           // elector's identity
        std::chrono::seconds window{600};         // dedup and aggregation window (client-go: 10 min)
        int similar_limit = 10;                   // distinct messages per (object, type, reason) in the window before aggregating
        int burst = 25;                           // spam filter, per involved object (client-go: 25)
        std::chrono::seconds refill{300};         // one token per this (client-go: 1 per 5 min)
        std::size_t max_keys = 4096;              // bound on remembered keys (LRU eviction, per table)
    };
    enum class outcome { created, counted, aggregated, dropped, failed };

    event_recorder(const kube::client& client, options o, kube::time_source& clock = kube::time_source::system());

    // Thread-safe (several reconcile workers call it). Never throws; API
    // failures are logged (warn) and return failed. Important events (every
    // leadership handover) are never dropped by the spam filter and take no
    // token. The involved object is known by its uid (or, without one, by
    // apiVersion/kind/namespace/name).
    outcome record(const kube::object_reference& involved, std::string_view type, std::string_view reason,
                   std::string_view message, bool important = false) noexcept;

    // Forget all state about one involved object (its ElectionGroup was deleted).
    void forget(const std::string& uid);

    // Events the spam filter dropped so far.
    [[nodiscard]] std::uint64_t dropped() const;

private:
    const kube::client& client_;
    options options_;
    kube::time_source& clock_;
    mutable std::mutex mutex_;
    event_correlator correlator_;
};

std::string_view to_string(event_recorder::outcome o);

// Writes Events on a thread of its own, so that a reconcile never waits for
// one behind the client-side rate limit (client-go's broadcaster also writes
// from a goroutine of its own). Order is kept. At most `limit` Events wait;
// past that a new one is dropped, counted and logged. The destructor writes
// what is still queued for up to `drain`, then drops the rest.
class event_queue {
public:
    explicit event_queue(event_recorder& recorder, std::size_t limit = 4096,
                         std::chrono::milliseconds drain = std::chrono::seconds(2));
    ~event_queue();
    event_queue(const event_queue&) = delete;
    event_queue& operator=(const event_queue&) = delete;

    void record(kube::object_reference involved, std::string type, std::string reason, std::string message,
                bool important = false);
    // event_recorder::forget, in order with the Events queued before it.
    void forget(std::string uid);
    // Blocks until everything queued so far is written (tests).
    void flush();
    [[nodiscard]] std::uint64_t overflowed() const;

private:
    void post(std::function<void()> item, bool is_event);
    void run(const std::stop_token& stop);

    event_recorder& recorder_;
    std::size_t limit_;
    std::chrono::milliseconds drain_;
    mutable std::mutex mutex_;
    std::condition_variable_any changed_;
    std::deque<std::pair<std::function<void()>, bool>> items_;  // (item, is an Event)
    std::size_t events_queued_ = 0;
    std::uint64_t posted_ = 0, done_ = 0, overflowed_ = 0;
    std::jthread thread_;  // last: started once the rest is built
};

}  // namespace elector::controller
