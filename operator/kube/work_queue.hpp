#pragma once

#include "kube/rate_limiter.hpp"
#include "kube/time_source.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <utility>

namespace elector::kube {

struct work_queue_options {
    // Backoff of add_rate_limited: base_delay * 2^(failures so far), at most max_delay.
    std::chrono::steady_clock::duration base_delay = std::chrono::milliseconds(5);
    std::chrono::steady_clock::duration max_delay = std::chrono::seconds(60);
};

// A controller work queue in the manner of client-go's workqueue: keys
// ("namespace/name") wait at most once, a key is handed to at most one worker
// at a time, and a key added while a worker has it is handed out again after
// done(), so no update is lost. Keys may be delayed (add_after), backed off
// per key (add_rate_limited) and marked urgent (ahead of every normal key).
//
// Worker loop:
//     while (auto item = queue.get(stop)) {
//         if (reconcile(item->key)) queue.forget(item->key); else queue.add_rate_limited(item->key);
//         queue.done(item->key);
//     }
class work_queue {
public:
    using duration = std::chrono::steady_clock::duration;
    using time_point = time_source::time_point;

    struct item {
        std::string key;
        // From the moment the key became ready (added, its delay ran out, or
        // re-queued by done) until get handed it out.
        duration waited;
    };

    struct stats {
        std::uint64_t adds_total;     // adds that queued a key or marked an active key dirty
        std::uint64_t retries_total;  // add_rate_limited calls
        std::size_t ready;            // as len()
        std::size_t delayed;          // keys with a pending add_after / add_rate_limited
        std::size_t active;           // handed out, done() not yet called
        std::size_t waiting_getters;  // get() calls blocked for want of a ready key
    };

    // `clock` must outlive the queue.
    explicit work_queue(work_queue_options options = {}, time_source& clock = time_source::system());
    ~work_queue();
    work_queue(const work_queue&) = delete;
    work_queue& operator=(const work_queue&) = delete;

    // No effect after shut_down.
    void add(const std::string& key, priority p = priority::normal);
    // add(key, p) once `delay` has passed. While a delayed add of the key is
    // pending, the earlier deadline and the higher priority win.
    void add_after(const std::string& key, duration delay, priority p = priority::normal);
    // add_after with the key's backoff, and counts one more failure of the
    // key. Returns the delay chosen (zero after shut_down, when nothing happens).
    duration add_rate_limited(const std::string& key, priority p = priority::normal);
    // Resets the key's failure count: its next backoff is base_delay again.
    void forget(const std::string& key);
    // Failures counted for the key since the last forget.
    int retries(const std::string& key) const;

    // Blocks until a key is ready and hands it out, urgent keys first, then in
    // the order they became ready. nullopt once the queue shuts down or `stop`
    // is requested, even if keys are ready. The caller must call done(key).
    std::optional<item> get(std::stop_token stop = {});
    // Ends the processing of a key handed out by get. If it was added again
    // meanwhile, it is ready again now. Ignored for a key that is not active.
    void done(const std::string& key);

    // Getters return nullopt from now on, ready and delayed keys are dropped,
    // later adds are ignored. Active keys may still be done().
    void shut_down();
    // shut_down, then waits until every active key is done(). Must not be
    // called by a worker that holds an active key.
    void shut_down_with_drain();
    bool shutting_down() const;

    // Keys ready to be handed out (delayed keys count once their delay passed).
    std::size_t len();
    stats read_stats();

private:
    // Urgent (rank 0) before normal (rank 1), then first come first served.
    using ready_slot = std::pair<int, std::uint64_t>;
    using delay_slot = std::pair<time_point, std::uint64_t>;

    struct entry {
        std::optional<ready_slot> ready;
        time_point ready_since{};
        bool active = false;
        std::optional<priority> dirty;  // added while active: ready again at this priority on done()
        std::optional<delay_slot> delayed;
        priority delayed_priority = priority::normal;
    };

    bool add_locked(const std::string& key, priority p, time_point ready_since);
    void add_after_locked(const std::string& key, duration delay, priority p);
    void make_ready_locked(const std::string& key, entry& e, priority p, time_point ready_since);
    void promote_due_locked(time_point now);
    void shut_down_locked();
    duration backoff(int failures) const;
    void wake();

    work_queue_options options_;
    time_source& clock_;
    mutable std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::condition_variable drained_cv_;
    bool shutting_down_ = false;
    std::unordered_map<std::string, entry> entries_;  // keys ready, active or delayed
    std::map<ready_slot, std::string> ready_;
    std::map<delay_slot, std::string> delayed_;
    std::unordered_map<std::string, int> failures_;
    std::uint64_t sequence_ = 0;
    std::size_t active_ = 0;
    std::size_t waiting_getters_ = 0;
    std::uint64_t adds_total_ = 0;
    std::uint64_t retries_total_ = 0;
    std::uint64_t subscription_ = 0;
};

}  // namespace elector::kube
