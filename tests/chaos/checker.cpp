#include "checker.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench_support.hpp"
#include "kube/time.hpp"
#include "leadership.hpp"

namespace elector::chaos {

namespace {

using bench::member;
using bench::string_at;
using nlohmann::json;

const char* const term_annotation = "elector.dev/term";

// A term or count written as text ("12"); nullopt if it is not a number.
std::optional<std::int64_t> number(const std::string& text) {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (end == nullptr || *end != '\0') return std::nullopt;
    return v;
}

const json& condition(const json& object, const char* type) {
    static const json none = json::object();
    const json& status = member(object, "status");
    auto conditions = status.find("conditions");
    if (conditions == status.end() || !conditions->is_array()) return none;
    for (const auto& c : *conditions) {
        if (c.is_object() && string_at(c, "type") == type) return c;
    }
    return none;
}

bool condition_true(const json& object, const char* type) { return string_at(condition(object, type), "status") == "True"; }

// A wall-clock time written by the API server, on CLOCK_MONOTONIC (0 if unreadable).
double to_monotonic(const std::string& rfc3339) {
    const auto t = kube::parse_time(rfc3339);
    if (!t) return 0;
    const double ago = std::chrono::duration<double>(std::chrono::system_clock::now() - *t).count();
    return testing::monotonic_now() - ago;
}

// Every container has a running state (none waiting or terminated: crashed).
bool containers_running(const json& pod) {
    const json& status = member(pod, "status");
    auto statuses = status.find("containerStatuses");
    if (statuses == status.end() || !statuses->is_array() || statuses->empty()) return false;
    for (const auto& c : *statuses) {
        if (!c.is_object() || !member(c, "state").contains("running")) return false;
    }
    return true;
}

}  // namespace

void checker::history_gaps::observe(bool ready, const std::string& transition, double mono) {
    if (last_seen > 0 && !transition.empty() && transition != since) {
        const double back = to_monotonic(transition);
        if (ready && was_ready && back > last_seen) {
            unseen.emplace_back(last_seen, back + 1);
        } else if (!ready && back > 0 && back < mono - 1) {
            unseen.emplace_back(std::max(last_seen, back - 1), mono);
        }
    }
    last_seen = mono;
    was_ready = ready;
    since = transition;
}

bool checker::history_gaps::overlaps(double from, double to) const {
    return std::any_of(unseen.begin(), unseen.end(), [&](const auto& u) { return u.first <= to && from <= u.second; });
}

checker::checker(std::set<std::string> groups, std::string label_key, std::string label_value, std::string group_label)
    : groups_(std::move(groups)),
      label_key_(std::move(label_key)),
      label_value_(std::move(label_value)),
      group_label_(std::move(group_label)) {}

// --- streams ---------------------------------------------------------------------

stream_sink checker::pods() {
    return {.snapshot =
                [this](const std::vector<json>& items, double mono) {
                    std::lock_guard lock(mutex_);
                    std::set<std::string> listed;
                    for (const auto& item : items) listed.insert(string_at(member(item, "metadata"), "name"));
                    // Gone since the last state seen: deleted while the stream was broken.
                    for (const auto& [name, p] : pods_) {
                        if (p.exists && !listed.contains(name)) {
                            apply_pod({{"metadata", {{"name", name}}}}, true, mono, false);
                        }
                    }
                    for (const auto& item : items) apply_pod(item, false, mono, false);
                    for (const auto& g : groups_) check_group(g, mono, "list");
                },
            .event = [this](kube::watch_event_type type, const json& object, double mono) {
                std::lock_guard lock(mutex_);
                apply_pod(object, type == kube::watch_event_type::deleted, mono, true);
            }};
}

stream_sink checker::leases() {
    return {.snapshot =
                [this](const std::vector<json>& items, double mono) {
                    std::lock_guard lock(mutex_);
                    std::set<std::string> listed;
                    for (const auto& item : items) {
                        listed.insert(string_at(member(item, "metadata"), "name"));
                        apply_lease(item, false, mono);
                    }
                    for (const auto& [name, l] : leases_) {
                        if (l.exists && !listed.contains(name)) apply_lease({{"metadata", {{"name", name}}}}, true, mono);
                    }
                },
            .event = [this](kube::watch_event_type type, const json& object, double mono) {
                std::lock_guard lock(mutex_);
                apply_lease(object, type == kube::watch_event_type::deleted, mono);
            }};
}

stream_sink checker::groups() {
    return {.snapshot =
                [this](const std::vector<json>& items, double mono) {
                    std::lock_guard lock(mutex_);
                    for (const auto& item : items) apply_group(item, mono);
                },
            .event = [this](kube::watch_event_type type, const json& object, double mono) {
                std::lock_guard lock(mutex_);
                if (type != kube::watch_event_type::deleted) apply_group(object, mono);
            }};
}

stream_sink checker::nodes() {
    return {.snapshot =
                [this](const std::vector<json>& items, double mono) {
                    std::lock_guard lock(mutex_);
                    for (const auto& item : items) apply_node(item, false, mono);
                },
            .event = [this](kube::watch_event_type type, const json& object, double mono) {
                std::lock_guard lock(mutex_);
                apply_node(object, type == kube::watch_event_type::deleted, mono);
            }};
}

void checker::apply_pod(const json& pod, bool deleted, double mono, bool check) {
    const json& meta = member(pod, "metadata");
    const std::string name = string_at(meta, "name");
    auto it = pods_.find(name);
    std::string group = string_at(member(meta, "labels"), group_label_.c_str());
    if (group.empty() && it != pods_.end()) group = it->second.group;
    if (name.empty() || !groups_.contains(group)) return;
    pod_record& p = pods_[name];
    p.group = group;
    bool eligible = false;
    if (deleted) {
        p.exists = false;
        p.labelled = false;
        p.ready = false;
        members_[group].erase(name);
    } else {
        p.exists = true;
        members_[group].insert(name);
        if (auto node = string_at(member(pod, "spec"), "nodeName"); !node.empty()) p.node = node;
        p.labelled = string_at(member(meta, "labels"), label_key_.c_str()) == label_value_;
        p.term = string_at(member(meta, "annotations"), term_annotation);
        p.ready = condition_true(pod, "Ready");
        p.gaps.observe(p.ready, string_at(condition(pod, "Ready"), "lastTransitionTime"), mono);
        p.terminating = meta.contains("deletionTimestamp");
        eligible = p.ready && !p.terminating && string_at(member(pod, "status"), "phase") == "Running" &&
                   containers_running(pod);
        const std::string rv = string_at(meta, "resourceVersion");
        if (p.labelled) {
            if (auto term = number(p.term)) {
                auto& max = max_pod_term_[group];
                if (*term < max) {
                    term_decreases_.emplace_back(
                        mono, fmt::format("group {}: pod {} labelled with term {} after term {} was seen (rv {})",
                                          group, name, *term, max, rv));
                }
                max = std::max(max, *term);
            } else if (unlabelled_term_reported_.insert(name + "/" + p.term).second) {
                anomalies_.push_back(fmt::format("pod {} of group {} labelled with term '{}' (rv {})", name, group,
                                                 p.term, rv));
            }
        }
    }
    if (p.eligible.empty() || p.eligible.back().second != eligible) p.eligible.emplace_back(mono, eligible);
    if (check) check_group(group, mono, string_at(meta, "resourceVersion"));
}

bool checker::has_ready_leader(const std::string& group) const {
    auto m = members_.find(group);
    if (m == members_.end()) return false;
    for (const auto& name : m->second) {
        const auto& p = pods_.at(name);
        if (p.labelled && p.ready && !p.terminating) return true;
    }
    return false;
}

void checker::check_group(const std::string& group, double mono, const std::string& rv) {
    std::set<std::string> labelled;
    if (auto m = members_.find(group); m != members_.end()) {
        for (const auto& name : m->second) {
            if (pods_.at(name).labelled) labelled.insert(name);
        }
    }
    if (labelled.size() >= 2) {
        ++two_leader_states_;
        if (reported_[group] != labelled) {
            two_leaders_.emplace_back(mono, fmt::format("rv {}: group {}: pods {} labelled {}={} at once", rv, group,
                                                        fmt::join(labelled, ", "), label_key_, label_value_));
        }
        reported_[group] = labelled;
    } else {
        reported_.erase(group);
    }
    if (!tracking_) return;
    const bool led = has_ready_leader(group);
    auto open = open_.find(group);
    if (!led && open == open_.end()) {
        open_[group] = mono;
    } else if (led && open != open_.end()) {
        closed_.push_back({group, open->second, mono, false});
        open_.erase(open);
    }
}

void checker::apply_lease(const json& lease, bool deleted, double mono) {
    const json& meta = member(lease, "metadata");
    const std::string name = string_at(meta, "name");
    if (!groups_.contains(name)) return;
    lease_record& l = leases_[name];
    if (deleted) {
        if (l.exists) anomalies_.push_back(fmt::format("Lease {} deleted (holder {})", name, l.holder));
        l.exists = false;
        return;
    }
    l.exists = true;
    const json& spec = member(lease, "spec");
    const std::string holder = string_at(spec, "holderIdentity");
    std::int64_t transitions = -1;
    if (auto t = spec.find("leaseTransitions"); t != spec.end() && t->is_number_integer()) {
        transitions = t->get<std::int64_t>();
    }
    auto& max = max_transitions_.try_emplace(name, -1).first->second;
    if (transitions < max) {
        term_decreases_.emplace_back(mono, fmt::format("Lease {}: leaseTransitions {} after {} (rv {})", name,
                                                       transitions, max, string_at(meta, "resourceVersion")));
    }
    max = std::max(max, transitions);
    if (holder != l.holder && tracking_) changes_.push_back({name, mono, l.holder, holder, transitions});
    l.holder = holder;
    l.transitions = transitions;
}

void checker::apply_group(const json& eg, double mono) {
    const json& meta = member(eg, "metadata");
    const std::string name = string_at(meta, "name");
    if (!groups_.contains(name)) return;
    const json& status = member(eg, "status");
    auto term = status.find("term");
    if (term == status.end() || !term->is_number_integer()) return;
    const auto t = term->get<std::int64_t>();
    auto& max = max_status_term_[name];
    if (t < max) {
        term_decreases_.emplace_back(mono, fmt::format("group {}: status.term {} after {} (rv {})", name, t, max,
                                                       string_at(meta, "resourceVersion")));
    }
    max = std::max(max, t);
}

void checker::apply_node(const json& node, bool deleted, double mono) {
    const std::string name = string_at(member(node, "metadata"), "name");
    const bool ready = !deleted && condition_true(node, "Ready");
    if (!deleted) node_gaps_[name].observe(ready, string_at(condition(node, "Ready"), "lastTransitionTime"), mono);
    auto& history = node_ready_[name];
    if (history.empty() || history.back().second != ready) history.emplace_back(mono, ready);
}

void checker::start_tracking(double mono) {
    std::lock_guard lock(mutex_);
    tracking_ = true;
    for (const auto& g : groups_) {
        if (!has_ready_leader(g)) open_[g] = mono;
    }
}

// --- the current state -------------------------------------------------------------

std::string checker::leader_of(const std::string& group) const {
    std::lock_guard lock(mutex_);
    std::string leader;
    auto m = members_.find(group);
    if (m == members_.end()) return "";
    for (const auto& name : m->second) {
        if (!pods_.at(name).labelled) continue;
        if (!leader.empty()) return "";
        leader = name;
    }
    return leader;
}

std::vector<std::string> checker::pods_of(const std::string& group) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    if (auto m = members_.find(group); m != members_.end()) {
        for (const auto& name : m->second) {
            if (!pods_.at(name).terminating) out.push_back(name);
        }
    }
    return out;
}

std::size_t checker::ready_pods(const std::string& group) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    if (auto m = members_.find(group); m != members_.end()) {
        for (const auto& name : m->second) {
            const auto& p = pods_.at(name);
            n += p.ready && !p.terminating ? 1 : 0;
        }
    }
    return n;
}

std::string checker::node_of(const std::string& pod) const {
    std::lock_guard lock(mutex_);
    auto it = pods_.find(pod);
    return it == pods_.end() ? "" : it->second.node;
}

std::set<std::string> checker::groups_on(const std::string& node) const {
    std::lock_guard lock(mutex_);
    std::set<std::string> out;
    for (const auto& [name, p] : pods_) {
        if (p.exists && p.node == node) out.insert(p.group);
    }
    return out;
}

std::vector<std::string> checker::leaderless_now() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& g : groups_) {
        if (!has_ready_leader(g)) out.push_back(g);
    }
    return out;
}

// --- findings -------------------------------------------------------------------------

std::vector<std::string> checker::two_leader_states(double t0) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [mono, text] : two_leaders_) out.push_back(fmt::format("+{:.3f} s {}", mono - t0, text));
    return out;
}

std::size_t checker::two_leader_count() const {
    std::lock_guard lock(mutex_);
    return two_leader_states_;
}

std::vector<std::string> checker::term_decreases(double t0) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [mono, text] : term_decreases_) out.push_back(fmt::format("+{:.3f} s {}", mono - t0, text));
    return out;
}

std::vector<leaderless_interval> checker::leaderless(double now) const {
    std::lock_guard lock(mutex_);
    auto out = closed_;
    for (const auto& [group, from] : open_) out.push_back({group, from, now, true});
    return out;
}

std::vector<holder_change> checker::holder_changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

bool checker::value_in(const std::vector<std::pair<double, bool>>& history, double from, double to, bool value) {
    // The value at `from` is that of the last change at or before it; none: unknown, taken as `value`.
    bool at_from = value;
    for (const auto& [mono, v] : history) {
        if (mono <= from) {
            at_from = v;
            continue;
        }
        if (mono > to) break;
        if (v == value) return true;
    }
    return at_from == value;
}

std::optional<std::string> checker::ineligible_during(const std::string& pod, double from, double to) const {
    std::lock_guard lock(mutex_);
    auto it = pods_.find(pod);
    if (it == pods_.end()) return "never seen";
    const auto& p = it->second;
    if (value_in(p.eligible, from, to, false)) return "pod not eligible";
    if (p.gaps.overlaps(from, to)) return "pod not Ready for a while no event showed";
    if (auto n = node_ready_.find(p.node); n != node_ready_.end() && value_in(n->second, from, to, false)) {
        return "node " + p.node + " not Ready";
    }
    if (auto n = node_gaps_.find(p.node); n != node_gaps_.end() && n->second.overlaps(from, to)) {
        return "node " + p.node + " not Ready for a while no event showed";
    }
    return std::nullopt;
}

std::vector<std::string> checker::anomalies() const {
    std::lock_guard lock(mutex_);
    return anomalies_;
}

}  // namespace elector::chaos
