#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>

#include "controller/event_recorder.hpp"
#include "controller/group_cache.hpp"
#include "controller/group_metrics.hpp"
#include "controller/scoped_informer.hpp"
#include "election/decide.hpp"
#include "kube/client.hpp"
#include "kube/time_source.hpp"
#include "kube/work_queue.hpp"

namespace elector::controller {

struct controller_options {
    int workers = 4;               // --max-concurrent-reconciles
    std::string identity;          // reportingInstance of the Events elector writes
    // Test builds only (ELECTOR_TEST_HOOKS): exit the process right after
    // step 1, 2 or 3 of a handover; 0: never. From ELECTOR_TEST_EXIT_AFTER_STEP.
    int exit_after_step = 0;
    // Where the group metrics go; nullptr: none.
    metrics::registry* metrics = nullptr;
};

// The newest version of objects elector wrote itself, until the informer
// catches up: a reconcile right after a write must not act on the version the
// write replaced (the approach of client-go's MutationCache, which also
// compares resourceVersions as integers). Entries older than a minute are
// dropped; a write's precondition still catches anything this misses.
template <class T>
class recent_writes {
public:
    using ptr = std::shared_ptr<const T>;

    void put(const std::string& key, ptr obj, std::chrono::steady_clock::time_point now) {
        std::lock_guard lock(mutex_);
        entries_[key] = {std::move(obj), now};
    }
    void erase(const std::string& key) {
        std::lock_guard lock(mutex_);
        entries_.erase(key);
    }
    // The newer of `cached` and what was written; without a cached object,
    // the written one only if `resurrect` (a Lease just created).
    ptr freshest(const std::string& key, ptr cached, std::chrono::steady_clock::time_point now, bool resurrect = false);

private:
    struct entry {
        ptr obj;
        std::chrono::steady_clock::time_point written;
    };
    std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
};

// Integer resourceVersions compared; nullopt if either is not an integer.
std::optional<bool> newer_resource_version(const std::string& a, const std::string& b);

// The ElectionGroup reconciler. It runs in the leading replica: informers on
// pods, ReplicaSets, Deployments, Nodes and elector's Leases feed a work queue
// of group keys; each reconcile takes a snapshot from the caches, asks
// election::decide() for a plan and carries it out in order: demote, Lease,
// promote, status and Event.
class election_controller {
public:
    election_controller(const kube::client& client, group_cache& groups, const scope& s, controller_options options,
                        kube::time_source& clock = kube::time_source::system());
    ~election_controller();
    election_controller(const election_controller&) = delete;
    election_controller& operator=(const election_controller&) = delete;

    // Starts the informers (idempotent). Every replica calls it at startup,
    // so that a standby takes over with warm caches.
    void start();
    // Every cache has listed once (what /readyz reports).
    [[nodiscard]] bool synced() const;
    // The cached Deployment NS/NAME, if any (the webhook's view of targets).
    [[nodiscard]] std::shared_ptr<const kube::deployment> deployment(const std::string& ns, const std::string& name) const;

    // Starts the informers, waits for them, runs the workers until `stop`.
    // When it returns no reconcile runs any more; the informers may still be
    // winding down (the destructor waits for them). false: the caches never
    // synced. Called once.
    bool run(std::stop_token stop);

    // Reconciles one group now (the workers call this); false: retry later.
    bool reconcile(const std::string& key);

private:
    struct group_state;
    struct caches;

    std::shared_ptr<group_state> state_of(const std::string& key);
    // The pods of the Deployment (owned through its ReplicaSets and matching
    // its selector), newest known versions, with whether they are of the
    // current revision.
    std::vector<std::pair<std::shared_ptr<const kube::pod>, bool>> pods_of(const kube::deployment& d,
                                                                           std::chrono::steady_clock::time_point mono);
    // The oldest other group of the same Deployment, if this one is younger.
    std::shared_ptr<const election::election_group> older_sibling(const election::election_group& g) const;
    // A group being deleted: clean up, then remove the finalizer.
    bool finalize(const election::election_group& g, const std::string& key);
    void enqueue(const std::string& key, bool urgent = false);
    void enqueue_groups_of_deployment(const std::string& ns, const std::string& name);
    void enqueue_groups_of_pod(const kube::pod& p);
    void worker(std::stop_token stop);

    const kube::client& client_;
    group_cache& groups_;
    scope scope_;
    controller_options options_;
    kube::time_source& clock_;
    kube::work_queue queue_;
    event_recorder events_;
    event_queue event_queue_;  // writes events_ on its own thread
    std::unique_ptr<group_metrics> metrics_;
    std::once_flag started_;
    std::unique_ptr<caches> caches_;
    std::mutex states_mutex_;
    std::unordered_map<std::string, std::shared_ptr<group_state>> states_;
};

}  // namespace elector::controller
