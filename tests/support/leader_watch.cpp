#include "leader_watch.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kube/client.hpp"
#include "kube/cluster_config.hpp"
#include "kube/transport.hpp"
#include "leadership.hpp"

namespace elector::testing {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* const term_annotation = "elector.dev/term";

std::string string_at(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& object, const char* key) {
    static const json empty = json::object();
    auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

// Sleeps up to `d`, in short steps, returning early once a stop is requested.
void pause(std::stop_token stop, std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
}

// Whether the pod's Ready condition is True.
bool pod_ready(const json& pod) {
    auto status = pod.find("status");
    if (status == pod.end() || !status->is_object()) return false;
    auto conditions = status->find("conditions");
    if (conditions == status->end() || !conditions->is_array()) return false;
    for (const auto& c : *conditions) {
        if (c.is_object() && string_at(c, "type") == "Ready") return string_at(c, "status") == "True";
    }
    return false;
}

}  // namespace

leader_watch::leader_watch(const std::string& kubeconfig, std::string ns, std::string label_key,
                           std::string label_value, std::string group_label)
    : ns_(std::move(ns)),
      label_key_(std::move(label_key)),
      label_value_(std::move(label_value)),
      group_label_(std::move(group_label)) {
    auto config = kube::resolve_cluster_config(kubeconfig, "");
    if (!config) throw std::runtime_error("leader_watch: " + config.error());
    auto transport = kube::transport::create(
        *config, {.qps = 10000, .burst = 10000, .timeout = 30s, .user_agent = "elector-test-leader-watch"});
    if (!transport) throw std::runtime_error("leader_watch: " + transport.error());
    client_ = std::make_unique<kube::client>(std::move(*transport));
    resource_version_ = relist();
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

leader_watch::~leader_watch() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

leader_watch::pod_state leader_watch::read_pod(const json& pod, const pod_state* before, double mono,
                                               const std::string& rv) const {
    const json& meta = member(pod, "metadata");
    pod_state s;
    s.uid = string_at(meta, "uid");
    const json& labels = member(meta, "labels");
    s.group = string_at(labels, group_label_.c_str());
    s.term = string_at(member(meta, "annotations"), term_annotation);
    s.labelled = !s.group.empty() && labels.contains(label_key_) && string_at(labels, label_key_.c_str()) == label_value_;
    if (!s.labelled) return s;
    s.ready_leader = pod_ready(pod) && !meta.contains("deletionTimestamp");
    // A pod labelled before and still (same uid) keeps when the label was first seen.
    if (before != nullptr && before->labelled && before->uid == s.uid) {
        s.labelled_at = before->labelled_at;
        s.labelled_rv = before->labelled_rv;
    } else {
        s.labelled_at = mono;
        s.labelled_rv = rv;
    }
    return s;
}

std::string leader_watch::relist() {
    auto listed = client_->list_all(kube::resources::pods, ns_, {.limit = 500});
    if (!listed) throw std::runtime_error("leader_watch: list pods in " + ns_ + ": " + listed.error().to_string());
    const double mono = monotonic_now();
    {
        std::lock_guard lock(mutex_);
        auto before = std::move(pods_);
        pods_.clear();
        labelled_.clear();
        ready_leaders_.clear();
        // The list is one state: every pod as of its resourceVersion. Pods
        // that were labelled before and still are keep when the label was
        // first seen.
        std::set<std::string> groups;
        for (const auto& [name, p] : before) groups.insert(p.group);
        for (const auto& item : listed->items) {
            const json& meta = member(item, "metadata");
            const std::string name = string_at(meta, "name");
            auto old = before.find(name);
            pod_state s = read_pod(item, old == before.end() ? nullptr : &old->second, mono, listed->resource_version);
            if (s.labelled) labelled_[s.group].insert(name);
            if (s.ready_leader) ready_leaders_[s.group].insert(name);
            groups.insert(s.group);
            pods_[name] = std::move(s);
        }
        for (const auto& g : groups) {
            check(g, listed->resource_version);
            track_ready(g, mono);
        }
        ++lists_;
        resource_version_ = listed->resource_version;
    }
    changed_.notify_all();
    return listed->resource_version;
}

void leader_watch::apply(const json& pod, bool deleted, double mono) {
    const json& meta = member(pod, "metadata");
    const std::string name = string_at(meta, "name");
    const std::string rv = string_at(meta, "resourceVersion");
    if (name.empty()) return;
    std::string old_group;
    bool had = false;
    pod_state previous;
    if (auto old = pods_.find(name); old != pods_.end()) {
        had = true;
        previous = old->second;
        old_group = previous.group;
        if (previous.labelled) labelled_[previous.group].erase(name);
        if (previous.ready_leader) ready_leaders_[previous.group].erase(name);
        if (deleted) pods_.erase(old);
    }
    if (deleted) {
        if (had) {
            check(old_group, rv);
            track_ready(old_group, mono);
        }
        return;
    }
    pod_state s = read_pod(pod, had ? &previous : nullptr, mono, rv);
    if (s.labelled) labelled_[s.group].insert(name);
    if (s.ready_leader) ready_leaders_[s.group].insert(name);
    const std::string group = s.group;
    pods_[name] = std::move(s);
    if (had && old_group != group) {
        check(old_group, rv);
        track_ready(old_group, mono);
    }
    check(group, rv);
    track_ready(group, mono);
}

void leader_watch::track_ready(const std::string& group, double mono) {
    if (group.empty()) return;
    auto& g = gaps_[group];
    auto it = ready_leaders_.find(group);
    const bool has = it != ready_leaders_.end() && !it->second.empty();
    if (has) {
        if (g.open) g.longest = std::max(g.longest, mono - *g.open);
        g.open.reset();
        g.seen = true;
    } else if (g.seen && !g.open) {
        g.open = mono;
    }
}

void leader_watch::check(const std::string& group, const std::string& rv) {
    if (group.empty()) return;
    const auto& now = labelled_[group];
    if (now.size() < 2) {
        reported_.erase(group);
        return;
    }
    auto& last = reported_[group];
    if (last == now) return;  // the same violating state, seen again by an unrelated event
    last = now;
    violations_.push_back(fmt::format("rv {}: pods {} of group {} {} labelled {}={}", rv, fmt::join(now, ", "), group,
                                      now.size() == 2 ? "both" : "all", label_key_, label_value_));
}

void leader_watch::run(std::stop_token stop) {
    int failures = 0;
    bool need_list = false;
    while (!stop.stop_requested()) {
        if (need_list) {
            try {
                relist();
                need_list = false;
                failures = 0;
            } catch (const std::exception& e) {
                fmt::print(stderr, "{}\n", e.what());
                pause(stop, 500ms);
                continue;
            }
        }
        std::string from;
        {
            std::lock_guard lock(mutex_);
            from = resource_version_;
        }
        auto watched = client_->watch(
            kube::resources::pods, ns_,
            {.resource_version = from, .allow_bookmarks = true, .timeout_seconds = 300, .stop = stop},
            [&](kube::watch_event&& e) {
                const double mono = monotonic_now();
                {
                    std::lock_guard lock(mutex_);
                    const std::string rv = string_at(member(e.object, "metadata"), "resourceVersion");
                    if (!rv.empty()) resource_version_ = rv;
                    if (e.type != kube::watch_event_type::bookmark) {
                        apply(e.object, e.type == kube::watch_event_type::deleted, mono);
                        ++events_;
                    }
                }
                changed_.notify_all();  // after the state is updated
                failures = 0;
                return !stop.stop_requested();
            });
        if (watched || stop.stop_requested()) continue;  // the server ended the watch: resume
        if (watched.error().kind == kube::error_kind::gone) {
            need_list = true;
            continue;
        }
        // A broken stream: resume from the last resourceVersion (no state is
        // missed); after repeated failures, list again.
        if (++failures >= 5) need_list = true;
        pause(stop, std::chrono::milliseconds(100 * failures));
    }
}

std::vector<std::string> leader_watch::violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
}

std::set<std::string> leader_watch::labelled(const std::string& group) const {
    std::lock_guard lock(mutex_);
    auto it = labelled_.find(group);
    return it == labelled_.end() ? std::set<std::string>{} : it->second;
}

std::optional<leader_observation> leader_watch::wait_for_leader(const std::string& group, const std::string& previous,
                                                                std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    std::string found;
    const bool ok = changed_.wait_for(lock, timeout, [&] {
        auto it = labelled_.find(group);
        if (it == labelled_.end() || it->second.size() != 1) return false;
        if (!previous.empty() && *it->second.begin() == previous) return false;
        found = *it->second.begin();
        return true;
    });
    if (!ok) return std::nullopt;
    const auto& s = pods_.at(found);
    return leader_observation{.pod = found, .term = s.term, .resource_version = s.labelled_rv, .mono = s.labelled_at};
}

std::size_t leader_watch::events() const {
    std::lock_guard lock(mutex_);
    return events_;
}

std::size_t leader_watch::lists() const {
    std::lock_guard lock(mutex_);
    return lists_;
}

std::chrono::duration<double> leader_watch::longest_ready_gap(const std::string& group) const {
    const double now = monotonic_now();
    std::lock_guard lock(mutex_);
    auto it = gaps_.find(group);
    if (it == gaps_.end()) return std::chrono::duration<double>(0);
    const auto& g = it->second;
    return std::chrono::duration<double>(std::max(g.longest, g.open ? now - *g.open : 0.0));
}

void leader_watch::reset_ready_gap(const std::string& group) {
    const double now = monotonic_now();
    std::lock_guard lock(mutex_);
    auto& g = gaps_[group];
    g.longest = 0;
    if (g.open) g.open = now;
}

}  // namespace elector::testing
