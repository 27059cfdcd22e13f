#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "kube/client.hpp"
#include "kube/objects.hpp"
#include "log/logging.hpp"

namespace elector::kube {

// "namespace/name", or "name" for cluster-scoped objects: the key a store
// and a work queue use.
std::string key_of(const object_meta& meta);

// A thread-safe cache of one kind's compact records (T has `object_meta meta`)
// with secondary indexes. Readers share; the informer alone writes.
template <class T>
class store {
public:
    using ptr = std::shared_ptr<const T>;
    using index_function = std::function<std::vector<std::string>(const T&)>;

    // Indexes are added before the informer starts.
    void add_index(const std::string& name, index_function f) {
        std::unique_lock lock(mutex_);
        index_functions_[name] = std::move(f);
        for (const auto& [key, obj] : items_) index_insert(name, key, *obj);
    }

    [[nodiscard]] ptr get(const std::string& key) const {
        std::shared_lock lock(mutex_);
        auto it = items_.find(key);
        return it == items_.end() ? nullptr : it->second;
    }

    [[nodiscard]] std::vector<ptr> list() const {
        std::shared_lock lock(mutex_);
        std::vector<ptr> out;
        out.reserve(items_.size());
        for (const auto& [key, obj] : items_) out.push_back(obj);
        return out;
    }

    [[nodiscard]] std::vector<ptr> by_index(const std::string& index, const std::string& value) const {
        std::shared_lock lock(mutex_);
        std::vector<ptr> out;
        auto i = indexes_.find(index);
        if (i == indexes_.end()) return out;
        auto v = i->second.find(value);
        if (v == i->second.end()) return out;
        out.reserve(v->second.size());
        for (const auto& key : v->second) out.push_back(items_.at(key));
        return out;
    }

    [[nodiscard]] std::size_t size() const {
        std::shared_lock lock(mutex_);
        return items_.size();
    }

    // Stores obj under key; returns what was there before (or null).
    ptr upsert(const std::string& key, ptr obj) {
        std::unique_lock lock(mutex_);
        ptr old;
        if (auto it = items_.find(key); it != items_.end()) {
            old = it->second;
            index_erase_all(key, *old);
            it->second = obj;
        } else {
            items_.emplace(key, obj);
        }
        for (const auto& [name, f] : index_functions_) index_insert(name, key, *obj);
        return old;
    }

    // Removes key; returns what was there (or null).
    ptr erase(const std::string& key) {
        std::unique_lock lock(mutex_);
        auto it = items_.find(key);
        if (it == items_.end()) return nullptr;
        ptr old = it->second;
        index_erase_all(key, *old);
        items_.erase(it);
        return old;
    }

    // Every key, for the informer's relist.
    [[nodiscard]] std::vector<std::string> keys() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        out.reserve(items_.size());
        for (const auto& [key, obj] : items_) out.push_back(key);
        return out;
    }

private:
    void index_insert(const std::string& name, const std::string& key, const T& obj) {
        for (auto& value : index_functions_.at(name)(obj)) indexes_[name][std::move(value)].insert(key);
    }
    void index_erase_all(const std::string& key, const T& obj) {
        for (const auto& [name, f] : index_functions_) {
            auto& index = indexes_[name];
            for (const auto& value : f(obj)) {
                auto v = index.find(value);
                if (v == index.end()) continue;
                v->second.erase(key);
                if (v->second.empty()) index.erase(v);
            }
        }
    }

    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, ptr> items_;
    std::unordered_map<std::string, index_function> index_functions_;
    std::unordered_map<std::string, std::unordered_map<std::string, std::unordered_set<std::string>>> indexes_;
};

// The indexes elector uses.
namespace indexes {
inline constexpr const char* by_namespace = "namespace";
inline constexpr const char* by_owner_uid = "owner-uid";  // every owner reference's uid
template <class T>
std::vector<std::string> namespace_of(const T& obj) {
    return {obj.meta.namespace_};
}
template <class T>
std::vector<std::string> owner_uids(const T& obj) {
    std::vector<std::string> out;
    for (const auto& o : obj.meta.owner_references) out.push_back(o.uid);
    return out;
}
// "key=value" for every label, so that a label selector's equality terms are lookups.
template <class T>
std::vector<std::string> label_pairs(const T& obj) {
    std::vector<std::string> out;
    out.reserve(obj.meta.labels.size());
    for (const auto& [k, v] : obj.meta.labels) out.push_back(k + "=" + v);
    return out;
}
inline constexpr const char* by_label = "label";
}  // namespace indexes

template <class T>
struct informer_handlers {
    std::function<void(const T&)> on_add;
    std::function<void(const T& before, const T& after)> on_update;
    std::function<void(const T&)> on_delete;
};

struct informer_options {
    std::string namespace_;        // "" = all namespaces
    std::string label_selector;
    std::string field_selector;
    std::int64_t page_size = 500;  // list in pages of this many objects
    // The server ends each watch after about this long (jittered 80-100%), so
    // watches are renewed all the time, and the client gives up on a watch
    // that sends nothing for idle_timeout: a frozen API server (TCP accepted,
    // nothing sent) is noticed within idle_timeout.
    std::chrono::seconds watch_timeout{10};
    std::chrono::milliseconds idle_timeout{15000};
    std::chrono::milliseconds backoff_base{100};
    std::chrono::milliseconds backoff_max{5000};
};

struct informer_stats {
    std::uint64_t lists = 0;           // full lists (1 + relists)
    std::uint64_t watches = 0;         // watch requests made
    std::uint64_t watch_errors = 0;    // watches that ended with an error
    std::uint64_t events = 0;          // ADDED/MODIFIED/DELETED applied
    std::uint64_t skipped_objects = 0; // objects that did not parse (missing identity)
};

namespace detail {
// Jittered exponential backoff for attempt n (0-based): base·2^n capped,
// scaled by a random factor in [0.5, 1).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max);
// watch_timeout scaled by a random factor in [0.8, 1].
int jittered_timeout_seconds(std::chrono::seconds timeout);
}  // namespace detail

// Lists, then watches from the list's resourceVersion (with bookmarks), and
// keeps `cache()` equal to the server's state: relists on 410 Gone, resumes a
// broken watch from the last resourceVersion seen, backs off with jitter on
// errors. Handlers run on the informer's thread after the cache is updated.
// Objects that do not parse are skipped and counted, never fatal.
template <class T>
class informer {
public:
    informer(const client& c, resource r, informer_options options, informer_handlers<T> handlers = {})
        : client_(c), resource_(std::move(r)), options_(std::move(options)), handlers_(std::move(handlers)) {}
    ~informer() { stop(); }
    informer(const informer&) = delete;
    informer& operator=(const informer&) = delete;

    [[nodiscard]] store<T>& cache() { return store_; }
    [[nodiscard]] const store<T>& cache() const { return store_; }

    void start() {
        thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    }
    void stop() {
        if (thread_.joinable()) {
            thread_.request_stop();  // wakes sleep(); a running watch notices within a second
            thread_.join();
        }
    }
    // Asks the thread to stop without waiting: stopping many informers,
    // call this on each first, then stop() on each.
    void request_stop() {
        if (thread_.joinable()) thread_.request_stop();
    }

    [[nodiscard]] bool has_synced() const { return synced_.load(); }
    bool wait_for_sync(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return wake_.wait_for(lock, timeout, [&] { return synced_.load(); });
    }
    [[nodiscard]] informer_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    [[nodiscard]] std::string resource_version() const {
        std::lock_guard lock(mutex_);
        return resource_version_;
    }

private:
    void run(std::stop_token stop) {
        std::string rv;
        int failures = 0;
        bool listed_once = false;
        while (!stop.stop_requested()) {
            if (rv.empty()) {
                if (listed_once && client_.observer().relisted) client_.observer().relisted(resource_.plural);
                auto listed = list_and_replace();
                if (!listed) {
                    spdlog::warn("cannot list resource={} error={}", log::q(resource_.plural),
                                 log::q(listed.error().to_string()));
                    sleep(stop, detail::backoff_delay(failures++, options_.backoff_base, options_.backoff_max));
                    continue;
                }
                rv = *listed;
                listed_once = true;
                failures = 0;
            }
            auto watched = watch_from(rv, stop);
            if (stop.stop_requested()) break;
            if (watched) {
                failures = 0;  // the server ended the watch: renew it from rv
                continue;
            }
            count([](informer_stats& s) { ++s.watch_errors; });
            if (client_.observer().watch_restarted) client_.observer().watch_restarted(resource_.plural);
            if (watched.error().kind == error_kind::gone) {
                spdlog::info("watch expired, listing again resource={} error={}", log::q(resource_.plural),
                             log::q(watched.error().to_string()));
                rv.clear();
                continue;
            }
            spdlog::warn("watch failed resource={} error={}", log::q(resource_.plural),
                         log::q(watched.error().to_string()));
            sleep(stop, detail::backoff_delay(failures++, options_.backoff_base, options_.backoff_max));
        }
    }

    void sleep(std::stop_token& stop, std::chrono::milliseconds d) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, stop, d, [] { return false; });  // returns early when stop is requested
    }

    template <class F>
    void count(F&& f) {
        std::lock_guard lock(mutex_);
        f(stats_);
    }

    std::shared_ptr<const T> parse(const json& object) {
        auto parsed = T::from_json(object);
        if (!parsed) {
            count([](informer_stats& s) { ++s.skipped_objects; });
            spdlog::warn("skipping an object that does not parse resource={} error={}", log::q(resource_.plural),
                         log::q(parsed.error()));
            return nullptr;
        }
        return std::make_shared<const T>(std::move(*parsed));
    }

    // Lists everything, page by page, and makes the cache equal to it,
    // telling the handlers what changed. Returns the list's resourceVersion.
    // Each page's JSON is dropped before the next is fetched: a 10,000-pod
    // list never exists as one document, so it cannot pin the heap.
    result<std::string> list_and_replace() {
        list_options page_options{.label_selector = options_.label_selector,
                                  .field_selector = options_.field_selector,
                                  .limit = options_.page_size};
        std::string list_rv;
        std::unordered_set<std::string> seen;
        while (true) {
            auto page = client_.list(resource_, options_.namespace_, page_options);
            if (!page) return std::unexpected(std::move(page.error()));
            if (list_rv.empty()) list_rv = page->resource_version;
            for (const auto& item : page->items) apply_listed(item, seen);
            if (page->continue_token.empty()) break;
            page_options.continue_token = std::move(page->continue_token);
            page_options.resource_version.clear();  // the continue token carries the snapshot
        }
        count([](informer_stats& s) { ++s.lists; });
        for (const auto& key : store_.keys()) {
            if (seen.contains(key)) continue;
            if (auto old = store_.erase(key); old && handlers_.on_delete) handlers_.on_delete(*old);
        }
        {
            std::lock_guard lock(mutex_);
            resource_version_ = list_rv;
            synced_ = true;
        }
        wake_.notify_all();
        return list_rv;
    }

    void apply_listed(const json& item, std::unordered_set<std::string>& seen) {
        auto obj = parse(item);
        if (!obj) return;
        auto key = key_of(obj->meta);
        auto old = store_.upsert(key, obj);
        seen.insert(std::move(key));
        if (!old) {
            if (handlers_.on_add) handlers_.on_add(*obj);
        } else if (old->meta.resource_version != obj->meta.resource_version) {
            if (handlers_.on_update) handlers_.on_update(*old, *obj);
        }
    }

    result<void> watch_from(std::string& rv, std::stop_token& stop) {
        count([](informer_stats& s) { ++s.watches; });
        return client_.watch(resource_, options_.namespace_,
                             {.resource_version = rv,
                              .label_selector = options_.label_selector,
                              .field_selector = options_.field_selector,
                              .allow_bookmarks = true,
                              .timeout_seconds = detail::jittered_timeout_seconds(options_.watch_timeout),
                              .idle_timeout = options_.idle_timeout,
                              .stop = stop},
                             [&](watch_event&& e) {
                                 apply(e, rv);
                                 return true;
                             });
    }

    void apply(const watch_event& e, std::string& rv) {
        if (const auto* meta = e.object.contains("metadata") ? &e.object["metadata"] : nullptr;
            meta != nullptr && meta->contains("resourceVersion") && (*meta)["resourceVersion"].is_string()) {
            rv = (*meta)["resourceVersion"].get<std::string>();
            set_resource_version(rv);
        }
        if (e.type == watch_event_type::bookmark) return;
        auto obj = parse(e.object);
        if (!obj) return;
        count([](informer_stats& s) { ++s.events; });
        const auto key = key_of(obj->meta);
        if (e.type == watch_event_type::deleted) {
            store_.erase(key);
            if (handlers_.on_delete) handlers_.on_delete(*obj);  // the object's final state
            return;
        }
        auto old = store_.upsert(key, obj);
        if (!old) {
            if (handlers_.on_add) handlers_.on_add(*obj);
        } else if (handlers_.on_update) {
            handlers_.on_update(*old, *obj);
        }
    }

    void set_resource_version(const std::string& rv) {
        std::lock_guard lock(mutex_);
        resource_version_ = rv;
    }

    const client& client_;
    resource resource_;
    informer_options options_;
    informer_handlers<T> handlers_;
    store<T> store_;
    std::atomic<bool> synced_{false};
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    informer_stats stats_;
    std::string resource_version_;
    std::jthread thread_;
};

}  // namespace elector::kube
