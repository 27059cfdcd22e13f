#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace elector::kube {
class client;
}

namespace elector::testing {

struct leader_observation {
    std::string pod;
    std::string term;              // the pod's elector.dev/term annotation ("" if none)
    std::string resource_version;  // of the event (or list) that showed the pod labelled
    double mono;                   // CLOCK_MONOTONIC seconds when that event arrived
};

// Watches every pod of one namespace through one watch stream (so states are
// seen in resourceVersion order; a broken stream resumes from the last
// resourceVersion, and relists only when that is gone) and tracks, per group,
// which pods carry label_key=label_value. A pod's group is the value of its
// `group_label` label; pods without it are ignored. Any state in which two
// pods of one group carry the label at once is a violation.
//
// It also tracks, per group, its "ready leaders": labelled pods that are
// Ready (condition Ready=True) and not terminating (no deletionTimestamp),
// and the longest interval during which a group had none after it first had
// one, timed by event arrival (CLOCK_MONOTONIC).
//
// The constructor lists the namespace (throws if it cannot) before it
// returns; the destructor stops the watch thread.
class leader_watch {
public:
    leader_watch(const std::string& kubeconfig, std::string ns, std::string label_key = "role",
                 std::string label_value = "leader", std::string group_label = "app");
    ~leader_watch();
    leader_watch(const leader_watch&) = delete;
    leader_watch& operator=(const leader_watch&) = delete;

    // One line per violating state: "rv 1234: pods a, b of group g both labelled role=leader".
    [[nodiscard]] std::vector<std::string> violations() const;
    // The pods of the group that carry the label now.
    [[nodiscard]] std::set<std::string> labelled(const std::string& group) const;
    // Blocks until exactly one pod of the group is labelled and it is not
    // `previous` ("" = any); returns it with the arrival time of the event
    // that first showed its label, or nullopt on timeout.
    [[nodiscard]] std::optional<leader_observation> wait_for_leader(const std::string& group,
                                                                    const std::string& previous,
                                                                    std::chrono::milliseconds timeout) const;
    // Watch events applied (ADDED, MODIFIED, DELETED; not bookmarks).
    [[nodiscard]] std::size_t events() const;
    // Times the namespace was listed (1 after construction; more after 410 Gone).
    [[nodiscard]] std::size_t lists() const;
    // The longest interval, after the group first had a ready leader, during
    // which it had none (an interval still open counts up to now); only
    // intervals since the last reset_ready_gap() count. Zero for a group
    // never seen with a ready leader.
    [[nodiscard]] std::chrono::duration<double> longest_ready_gap(const std::string& group) const;
    // Forgets the group's gaps so far; a gap open now counts from now on.
    void reset_ready_gap(const std::string& group);

private:
    struct pod_state {
        std::string uid;
        std::string group;
        std::string term;
        bool labelled = false;
        bool ready_leader = false;    // labelled, Ready=True and no deletionTimestamp
        double labelled_at = 0;       // when the label was first seen on this uid
        std::string labelled_rv;
    };
    // Per group: when it had no ready leader, as event arrival times.
    struct ready_gaps {
        bool seen = false;            // it has had a ready leader
        std::optional<double> open;   // since when it has had none (after `seen`)
        double longest = 0;           // longest closed gap
    };

    // A pod's state from the pod object; `before` is what was known of it.
    pod_state read_pod(const nlohmann::json& pod, const pod_state* before, double mono, const std::string& rv) const;
    std::string relist();  // returns the list's resourceVersion; throws on failure
    void run(std::stop_token stop);
    // Both with mutex_ held.
    void apply(const nlohmann::json& pod, bool deleted, double mono);
    void check(const std::string& group, const std::string& rv);
    void track_ready(const std::string& group, double mono);

    std::string ns_;
    std::string label_key_;
    std::string label_value_;
    std::string group_label_;
    std::unique_ptr<kube::client> client_;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::map<std::string, pod_state> pods_;                     // by pod name
    std::map<std::string, std::set<std::string>> labelled_;      // group -> labelled pod names
    std::map<std::string, std::set<std::string>> reported_;      // group -> last violating set reported
    std::map<std::string, std::set<std::string>> ready_leaders_;  // group -> labelled Ready live pods
    std::map<std::string, ready_gaps> gaps_;                      // by group
    std::vector<std::string> violations_;
    std::size_t events_ = 0;
    std::size_t lists_ = 0;
    std::string resource_version_;

    std::jthread thread_;  // last: stopped and joined first
};

}  // namespace elector::testing
