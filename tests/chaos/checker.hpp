#pragma once

// The chaos soak's checker: what it knows of the groups comes only from its
// own watches (pods, Leases and ElectionGroups of the namespace, and Nodes),
// never from elector. Each stream is applied in resourceVersion order, so
// the state after each pod event is a state the API server really had; a
// relist (after 410 Gone) is applied as one snapshot. It keeps:
//
//   - states with two pods of one group labelled leader (each pod event, or
//     relist, after which some group has two or more labelled pods);
//   - per group, intervals without a ready leader: no pod that carries the
//     label, is Ready and is not terminating (by event arrival, from
//     start_tracking() on);
//   - terms that went down: a labelled pod's elector.dev/term below one seen
//     on a labelled pod of the group before, status.term below an earlier
//     status.term, the Lease's leaseTransitions below an earlier value;
//   - every change of a Lease's holderIdentity, with its arrival time;
//   - per pod and per node, the history of eligibility (pod: phase Running,
//     Ready, not terminating, every container running; node: Ready), to ask
//     whether a pod was ineligible at any instant of an interval.
//
// A group is the value of the pods' `group_label` label, equal to the
// Deployment's, ElectionGroup's and Lease's name.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "stream_watch.hpp"

namespace elector::chaos {

struct leaderless_interval {
    std::string group;
    double from = 0;
    double to = 0;      // arrival of the event that ended it; for an open one, the `now` asked for
    bool open = false;  // still without a ready leader
};

struct holder_change {
    std::string group;  // the Lease's name
    double mono = 0;    // arrival of the Lease event
    std::string from, to;
    std::int64_t transitions = -1;
};

class checker {
public:
    explicit checker(std::set<std::string> groups, std::string label_key = "role", std::string label_value = "leader",
                     std::string group_label = "app");

    // The sinks of the four streams.
    stream_sink pods();
    stream_sink leases();
    stream_sink groups();
    stream_sink nodes();

    // Leaderless intervals and holder changes count from here (groups without
    // a ready leader now start an interval now).
    void start_tracking(double mono);

    // --- the current state (for the fault driver and the progress lines) ---
    // The one pod of the group carrying the label; "" if none or several.
    [[nodiscard]] std::string leader_of(const std::string& group) const;
    // The group's pods that exist and are not terminating.
    [[nodiscard]] std::vector<std::string> pods_of(const std::string& group) const;
    // The group's pods that exist, are Ready and not terminating.
    [[nodiscard]] std::size_t ready_pods(const std::string& group) const;
    // The node the pod was last seen on ("" if never scheduled or unknown).
    [[nodiscard]] std::string node_of(const std::string& pod) const;
    // Groups with a pod (existing) on the node.
    [[nodiscard]] std::set<std::string> groups_on(const std::string& node) const;
    // Groups without a ready leader now.
    [[nodiscard]] std::vector<std::string> leaderless_now() const;

    // --- findings ---
    // One line per violating state (relative times from `t0`).
    [[nodiscard]] std::vector<std::string> two_leader_states(double t0) const;
    [[nodiscard]] std::size_t two_leader_count() const;
    [[nodiscard]] std::vector<std::string> term_decreases(double t0) const;
    // Since start_tracking(); open ones end at `now`.
    [[nodiscard]] std::vector<leaderless_interval> leaderless(double now) const;
    // Since start_tracking(), in arrival order.
    [[nodiscard]] std::vector<holder_change> holder_changes() const;
    // Why the pod was not eligible at some instant of [from, to] (the pod was
    // not Running+Ready, terminating, had a container not running, did not
    // exist, or its node was not Ready), or nullopt if it was eligible throughout.
    [[nodiscard]] std::optional<std::string> ineligible_during(const std::string& pod, double from, double to) const;
    // Things that should not happen but are no violation of elector's
    // guarantees (a Lease deleted, a labelled pod without a term).
    [[nodiscard]] std::vector<std::string> anomalies() const;

private:
    // What the streams showed late or not at all (a broken stream, a relist),
    // from the Ready condition's lastTransitionTime (whole seconds, so 1 s of
    // slack): True, then True again with a newer transition time: not True
    // from the previous sight to that time; turned not True well before the
    // event arrived: not True from then on.
    struct history_gaps {
        double last_seen = 0;                             // arrival of the latest state seen
        bool was_ready = false;
        std::string since;                                // the Ready condition's lastTransitionTime then
        std::vector<std::pair<double, double>> unseen;   // intervals not Ready that no event showed
        void observe(bool ready, const std::string& transition, double mono);
        [[nodiscard]] bool overlaps(double from, double to) const;
    };
    struct pod_record {
        std::string group;
        std::string node;
        std::string term;
        bool exists = false;
        bool labelled = false;
        bool ready = false;        // Ready=True
        bool terminating = false;  // deletionTimestamp
        std::vector<std::pair<double, bool>> eligible;  // (arrival, eligible) at each change
        history_gaps gaps;
    };
    struct lease_record {
        bool exists = false;
        std::string holder;
        std::int64_t transitions = -1;
    };

    // All with mutex_ held.
    void apply_pod(const nlohmann::json& pod, bool deleted, double mono, bool check);
    void check_group(const std::string& group, double mono, const std::string& rv);
    void apply_lease(const nlohmann::json& lease, bool deleted, double mono);
    void apply_group(const nlohmann::json& eg, double mono);
    void apply_node(const nlohmann::json& node, bool deleted, double mono);
    [[nodiscard]] bool has_ready_leader(const std::string& group) const;
    static bool value_in(const std::vector<std::pair<double, bool>>& history, double from, double to, bool value);

    std::set<std::string> groups_;
    std::string label_key_, label_value_, group_label_;

    mutable std::mutex mutex_;
    std::map<std::string, pod_record> pods_;                 // by name, kept after deletion
    std::map<std::string, std::set<std::string>> members_;  // group -> existing pods
    std::map<std::string, lease_record> leases_;
    std::map<std::string, std::vector<std::pair<double, bool>>> node_ready_;
    std::map<std::string, history_gaps> node_gaps_;
    std::map<std::string, std::int64_t> max_pod_term_, max_status_term_, max_transitions_;
    std::map<std::string, std::set<std::string>> reported_;  // group -> last violating set
    std::vector<std::pair<double, std::string>> two_leaders_;
    std::size_t two_leader_states_ = 0;
    std::vector<std::pair<double, std::string>> term_decreases_;
    std::vector<std::string> anomalies_;
    std::set<std::string> unlabelled_term_reported_;
    bool tracking_ = false;
    std::map<std::string, double> open_;  // group -> leaderless since
    std::vector<leaderless_interval> closed_;
    std::vector<holder_change> changes_;
};

}  // namespace elector::chaos
