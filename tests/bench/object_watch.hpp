#pragma once

// The benchmarks' own watches: one watch stream of one kind in one namespace
// (optionally narrowed by a field selector), every event recorded with its
// arrival time on CLOCK_MONOTONIC and a small summary of the object that the
// caller chooses (a Lease's holder, a pod's leader label). Callers wait for
// the first entry after a given index that satisfies a predicate, so an event
// that arrived before a fault can never count as its answer; or they read the
// current state of every object, with the arrival time of the entry at which
// each member of its summary took its current value.
//
// A broken stream resumes from the last resourceVersion; after 410 Gone (or
// repeated failures) the namespace is listed again and every listed object is
// recorded as an entry with type LISTED (objects missing from the list are
// forgotten).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.hpp"

namespace elector::bench {

struct watch_entry {
    double mono = 0;       // CLOCK_MONOTONIC seconds when the event (or list) arrived
    std::string type;      // ADDED, MODIFIED, DELETED; LISTED for a (re)list
    std::string name;      // metadata.name
    std::string resource_version;
    nlohmann::json data;   // the summary
};

// What the watch knows of one object that exists now.
struct object_state {
    watch_entry last;  // its latest entry (never DELETED)
    // Per member of the summary: arrival of the entry at which it took its current value.
    std::map<std::string, double> since;
    // since[member], or 0 if the summary has no such member.
    [[nodiscard]] double changed_at(const std::string& member) const;
};

struct watch_options {
    std::string field_selector;  // "" = every object of the namespace
    // false: no entry log (size() stays 0, wait_for() finds nothing); only the
    // objects' states and the counts, for a long watch of many objects.
    bool keep_entries = true;
};

class object_watch {
public:
    using summarize = std::function<nlohmann::json(const nlohmann::json& object)>;

    // Lists (throws if it cannot) before it returns, then watches on a thread.
    object_watch(const std::string& kubeconfig, kube::resource r, std::string ns, summarize summary,
                 watch_options options = {});
    ~object_watch();
    object_watch(const object_watch&) = delete;
    object_watch& operator=(const object_watch&) = delete;

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::vector<watch_entry> entries(std::size_t from = 0) const;
    // The latest entry of the object (nullopt if it does not exist).
    [[nodiscard]] std::optional<watch_entry> latest(const std::string& name) const;
    // Blocks until an entry with index >= from satisfies `match`; returns the first such.
    [[nodiscard]] std::optional<watch_entry> wait_for(std::size_t from, const std::function<bool(const watch_entry&)>& match,
                                                      std::chrono::milliseconds timeout) const;
    // Every object that exists now, by name (states are shared, never changed: a copy is cheap).
    [[nodiscard]] std::map<std::string, std::shared_ptr<const object_state>> objects() const;
    [[nodiscard]] std::size_t count() const;  // objects().size()
    // ADDED and MODIFIED events so far (lists and bookmarks not counted).
    [[nodiscard]] std::size_t writes() const;
    // Times the stream broke (any reason other than the server's normal end).
    [[nodiscard]] std::size_t breaks() const;

private:
    std::string relist();
    void run(std::stop_token stop);
    // Both with mutex_ held.
    void record(const nlohmann::json& object, std::string type, double mono);
    void update(const watch_entry& e);

    kube::resource resource_;
    std::string ns_;
    summarize summary_;
    watch_options options_;
    std::unique_ptr<kube::client> client_;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<watch_entry> entries_;
    std::map<std::string, std::shared_ptr<const object_state>> objects_;
    std::string resource_version_;
    std::size_t writes_ = 0;
    std::size_t breaks_ = 0;

    std::jthread thread_;  // last: stopped and joined first
};

// Summaries.
// A Lease: {"holder": holderIdentity or "", "transitions": leaseTransitions or -1, "renew": renewTime or ""}.
nlohmann::json lease_summary(const nlohmann::json& lease);
// A pod: {"label": value of the label `key` or "" , "term": elector.dev/term or ""}.
object_watch::summarize pod_label_summary(std::string key);
// The holder named by the latest entry of a Lease watch (lease_summary) of the Lease `name` ("" if none).
std::string holder_of(const object_watch& w, const std::string& name);

}  // namespace elector::bench
