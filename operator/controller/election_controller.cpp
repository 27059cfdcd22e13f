#include "controller/election_controller.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "log/logging.hpp"

namespace elector::controller {

namespace {

using namespace std::chrono_literals;
using election::election_group;
using kube::priority;

constexpr const char* by_node = "node";

std::string mono_seconds(std::chrono::steady_clock::time_point t) {
    return fmt::format("{:.9f}", std::chrono::duration<double>(t.time_since_epoch()).count());
}

bool matches_selector(const kube::pod& p, const kube::deployment& d) {
    for (const auto& [k, v] : d.selector_match_labels) {
        const std::string* have = kube::find_label(p.meta.labels, k);
        if (have == nullptr || *have != v) return false;
    }
    return true;
}

void put_label(kube::labels& labels, std::string_view key, std::string_view value) {
    labels.emplace_back(std::string(key), std::string(value));
    kube::sort_labels(labels);  // the last of duplicate keys stays
}

// A merge patch of the status subresource that also clears what is gone.
kube::json status_patch(const election::group_status& s) {
    kube::json status = s.to_json();
    for (const char* key : {"leader", "term", "leaseName", "lastTransitionTime", "lastTransitionReason"}) {
        if (!status.contains(key)) status[key] = nullptr;
    }
    return {{"status", std::move(status)}};
}

kube::object_reference reference_to(const election_group& g) {
    return {.api_version = std::string(election::api_version),
            .kind = std::string(election::kind),
            .name = g.meta.name,
            .namespace_ = g.meta.namespace_,
            .uid = g.meta.uid,
            .resource_version = g.meta.resource_version};
}

bool has_finalizer(const election_group& g) {
    return std::find(g.meta.finalizers.begin(), g.meta.finalizers.end(), election::finalizer) != g.meta.finalizers.end();
}

bool owned_by(const kube::object_meta& m, const election_group& g) {
    return std::any_of(m.owner_references.begin(), m.owner_references.end(),
                       [&](const kube::owner_reference& o) { return o.uid == g.meta.uid; });
}

// Who else has this Lease: its holder and owner, for LeaseConflict.
std::string describe_lease(const kube::lease& l) {
    const auto* owner = l.meta.controller_owner();
    if (owner == nullptr && !l.meta.owner_references.empty()) owner = &l.meta.owner_references.front();
    return fmt::format("holder \"{}\", {}", l.holder_identity,
                       owner != nullptr ? fmt::format("owned by {} {}", owner->kind, owner->name)
                                        : std::string("no owner"));
}

// "a → b (term 3): message", the Event of a handover.
std::string handover_message(const election::transition& t) {
    return fmt::format("{} → {} (term {}): {}", t.from.empty() ? "(none)" : t.from, t.to, t.term, t.message);
}

[[noreturn]] void exit_for_test(int step, const std::string& key) {
    spdlog::warn("test hook: exiting in the middle of a handover after_step={} group={}", step, log::q(key));
    spdlog::default_logger()->flush();
    _exit(3);
}

}  // namespace

std::optional<bool> newer_resource_version(const std::string& a, const std::string& b) {
    std::uint64_t x = 0, y = 0;
    auto [pa, ea] = std::from_chars(a.data(), a.data() + a.size(), x);
    auto [pb, eb] = std::from_chars(b.data(), b.data() + b.size(), y);
    if (ea != std::errc{} || eb != std::errc{} || pa != a.data() + a.size() || pb != b.data() + b.size()) {
        return std::nullopt;
    }
    return x > y;
}

template <class T>
typename recent_writes<T>::ptr recent_writes<T>::freshest(const std::string& key, ptr cached,
                                                          std::chrono::steady_clock::time_point now, bool resurrect) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return cached;
    if (now - it->second.written > 1min) {
        entries_.erase(it);
        return cached;
    }
    if (!cached) return resurrect ? it->second.obj : nullptr;
    if (newer_resource_version(it->second.obj->meta.resource_version, cached->meta.resource_version) == true) {
        return it->second.obj;
    }
    entries_.erase(it);  // the cache caught up (or someone wrote after us)
    return cached;
}

// What elector remembers about a group between reconciles.
struct election_controller::group_state {
    std::string lease_rv;  // the Lease version last seen or written
    std::chrono::steady_clock::time_point lease_changed_at{};
    bool lease_seen_change = false;  // written or seen to change since elector started
    std::string holder_uid;          // the pod whose restart baseline this is
    std::int64_t restart_baseline = 0;
    // Since when the holder has been seen not eligible (renewals stopped).
    std::optional<std::chrono::steady_clock::time_point> holder_unhealthy_since;
    // The last handover made because of spec.preferredLeader.
    std::optional<std::chrono::steady_clock::time_point> preferred_at;
    // A Lease with the group's lease name exists that elector does not cache
    // (not labelled as elector's): look it up until it is gone or ours.
    bool foreign_lease = false;
    // A status decided but not written yet (the rate limit deferred it):
    // the next decision starts from it, not from the older one in the cache,
    // so that the handover it reports is not reported twice.
    std::optional<election::group_status> unwritten_status;
};

struct election_controller::caches {
    caches(const kube::client& c, const scope& s, election_controller& owner)
        : pods(c, kube::resources::pods, s, {},
               {.on_add = [&owner](const kube::pod& p) { owner.enqueue_groups_of_pod(p); },
                .on_update = [&owner](const kube::pod&, const kube::pod& p) { owner.enqueue_groups_of_pod(p); },
                .on_delete =
                    [&owner, this](const kube::pod& p) {
                        pod_writes.erase(kube::key_of(p.meta));
                        owner.enqueue_groups_of_pod(p);
                    }}),
          replica_sets(c, kube::resources::replicasets, s, {},
                       {.on_add = [&owner](const kube::replica_set& rs) { owner_of(owner, rs); },
                        .on_update = [&owner](const kube::replica_set&, const kube::replica_set& rs) { owner_of(owner, rs); },
                        .on_delete = [&owner](const kube::replica_set& rs) { owner_of(owner, rs); }}),
          deployments(c, kube::resources::deployments, s, {},
                      {.on_add = [&owner](const kube::deployment& d) { by_name(owner, d); },
                       .on_update = [&owner](const kube::deployment&, const kube::deployment& d) { by_name(owner, d); },
                       .on_delete = [&owner](const kube::deployment& d) { by_name(owner, d); }}),
          leases(c, kube::resources::leases, s,
                 {.label_selector = fmt::format("{}={}", election::managed_by_label, election::managed_by_value)},
                 {.on_add = [&owner](const kube::lease& l) { group_of(owner, l); },
                  .on_update = [&owner](const kube::lease&, const kube::lease& l) { group_of(owner, l); },
                  .on_delete =
                      [&owner, this](const kube::lease& l) {
                          lease_writes.erase(kube::key_of(l.meta));
                          group_of(owner, l);
                      }}),
          nodes(c, kube::resources::nodes, scope{}, {},
                {.on_add = [&owner, this](const kube::node& n) { pods_on(owner, n.meta.name); },
                 .on_update =
                     [&owner, this](const kube::node& before, const kube::node& after) {
                         if (before.ready != after.ready) pods_on(owner, after.meta.name);
                     },
                 .on_delete = [&owner, this](const kube::node& n) { pods_on(owner, n.meta.name); }}) {
        pods.add_index(kube::indexes::by_owner_uid, kube::indexes::owner_uids<kube::pod>);
        pods.add_index(by_node, [](const kube::pod& p) { return std::vector<std::string>{p.node_name}; });
        replica_sets.add_index(kube::indexes::by_owner_uid, kube::indexes::owner_uids<kube::replica_set>);
    }

    static void owner_of(election_controller& owner, const kube::replica_set& rs) {
        if (const auto* o = rs.controller_owner(); o != nullptr && o->kind == "Deployment") {
            owner.enqueue_groups_of_deployment(rs.meta.namespace_, o->name);
        }
    }
    static void by_name(election_controller& owner, const kube::deployment& d) {
        owner.enqueue_groups_of_deployment(d.meta.namespace_, d.meta.name);
    }
    static void group_of(election_controller& owner, const kube::lease& l) {
        if (const std::string* g = kube::find_label(l.meta.labels, election::group_label); g != nullptr) {
            owner.enqueue(l.meta.namespace_ + "/" + *g);
        }
    }
    void pods_on(election_controller& owner, const std::string& node) {
        for (const auto& p : pods.by_index(by_node, node)) owner.enqueue_groups_of_pod(*p);
    }

    template <class F>
    void each(F&& f) {
        f(pods);
        f(replica_sets);
        f(deployments);
        f(leases);
        f(nodes);
    }
    void start() {
        each([](auto& i) { i.start(); });
    }
    void request_stop() {
        each([](auto& i) { i.request_stop(); });
    }
    void stop() {
        request_stop();  // all at once: each needs about a second to notice
        each([](auto& i) { i.stop(); });
    }
    bool wait_for_sync(std::stop_token stop) {
        while (!stop.stop_requested()) {
            bool synced = true;
            each([&](auto& i) { synced = synced && i.wait_for_sync(100ms); });
            if (synced) return true;
        }
        return false;
    }

    recent_writes<kube::pod> pod_writes;
    recent_writes<kube::lease> lease_writes;
    recent_writes<election_group> group_writes;
    scoped_informer<kube::pod> pods;
    scoped_informer<kube::replica_set> replica_sets;
    scoped_informer<kube::deployment> deployments;
    scoped_informer<kube::lease> leases;
    scoped_informer<kube::node> nodes;
};

election_controller::election_controller(const kube::client& client, group_cache& groups, const scope& s,
                                         controller_options options, kube::time_source& clock)
    : client_(client),
      groups_(groups),
      scope_(s),
      options_(std::move(options)),
      clock_(clock),
      queue_({}, clock),
      events_(client, {.reporting_instance = options_.identity}, clock),
      event_queue_(events_) {
    caches_ = std::make_unique<caches>(client_, scope_, *this);
    if (options_.metrics != nullptr) metrics_ = std::make_unique<group_metrics>(*options_.metrics, queue_);
}

void election_controller::start() {
    std::call_once(started_, [this] { caches_->start(); });
}

bool election_controller::synced() const {
    const auto& c = *caches_;
    return c.pods.has_synced() && c.replica_sets.has_synced() && c.deployments.has_synced() && c.leases.has_synced() &&
           c.nodes.has_synced();
}

std::shared_ptr<const kube::deployment> election_controller::deployment(const std::string& ns,
                                                                       const std::string& name) const {
    return caches_->deployments.get(ns + "/" + name);
}

election_controller::~election_controller() {
    groups_.listen({});
    queue_.shut_down();
    caches_->stop();
}

void election_controller::enqueue(const std::string& key, bool urgent) {
    queue_.add(key, urgent ? priority::urgent : priority::normal);
}

void election_controller::enqueue_groups_of_deployment(const std::string& ns, const std::string& name) {
    if (!scope_.contains(ns)) return;
    for (const auto& g : groups_.targeting(ns, name)) enqueue(kube::key_of(g->meta));
}

void election_controller::enqueue_groups_of_pod(const kube::pod& p) {
    if (!scope_.contains(p.meta.namespace_)) return;
    const auto* rs_ref = p.controller_owner();
    if (rs_ref == nullptr || rs_ref->kind != "ReplicaSet") return;
    auto rs = caches_->replica_sets.get(p.meta.namespace_ + "/" + rs_ref->name);
    if (!rs) return;  // its ReplicaSet's event will bring the group
    const auto* d_ref = rs->controller_owner();
    if (d_ref == nullptr || d_ref->kind != "Deployment") return;
    for (const auto& g : groups_.targeting(p.meta.namespace_, d_ref->name)) {
        // The leader's events go first: they may start a failover.
        const bool urgent = g->status.leader == p.meta.name || election::labelled(p, g->spec);
        enqueue(kube::key_of(g->meta), urgent);
    }
}

std::shared_ptr<election_controller::group_state> election_controller::state_of(const std::string& key) {
    std::lock_guard lock(states_mutex_);
    auto& s = states_[key];
    if (!s) s = std::make_shared<group_state>();
    return s;
}

bool election_controller::run(std::stop_token stop) {
    start();
    if (!caches_->wait_for_sync(stop)) {
        caches_->stop();
        return false;
    }
    spdlog::info("election controller: caches synced workers={}", options_.workers);
    groups_.listen([this](const election_group& g) {
        if (!scope_.contains(g.meta.namespace_)) return;
        enqueue(kube::key_of(g.meta));
        // Its siblings on the same Deployment: one may stop (or start)
        // being in Conflict with it.
        for (const auto& other : groups_.targeting(g.meta.namespace_, g.spec.target.name)) {
            if (other->meta.uid != g.meta.uid) enqueue(kube::key_of(other->meta));
        }
    });
    for (const auto& g : groups_.list()) {
        if (scope_.contains(g->meta.namespace_)) enqueue(kube::key_of(g->meta));
    }
    {
        std::vector<std::jthread> workers;
        for (int i = 0; i < options_.workers; ++i) workers.emplace_back([this](std::stop_token s) { worker(s); });
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait(lock, stop, [] { return false; });
        groups_.listen({});
        queue_.shut_down();
    }  // joins the workers
    // The informers notice within about a second; the destructor waits for
    // them, so that a leader hands its Lease over without that delay.
    caches_->request_stop();
    return true;
}

void election_controller::worker(std::stop_token stop) {
    while (auto item = queue_.get(stop)) {
        if (metrics_) metrics_->dequeued(item->waited);
        bool ok = false;
        const auto started = clock_.now();
        try {
            ok = reconcile(item->key);
        } catch (const std::exception& e) {  // never expected; a bug must not end the worker
            spdlog::error("reconcile failed with an exception group={} error={}", log::q(item->key), log::q(e.what()));
        }
        if (metrics_) metrics_->reconciled(std::chrono::duration<double>(clock_.now() - started).count(), ok);
        if (ok) {
            queue_.forget(item->key);
        } else {
            const auto delay = queue_.add_rate_limited(item->key, priority::urgent);
            spdlog::debug("reconcile failed, retrying group={} delay={}ms", log::q(item->key),
                          std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
        }
        queue_.done(item->key);
    }
}

std::vector<std::pair<std::shared_ptr<const kube::pod>, bool>> election_controller::pods_of(
    const kube::deployment& d, std::chrono::steady_clock::time_point mono) {
    auto& c = *caches_;
    std::vector<std::pair<std::shared_ptr<const kube::pod>, bool>> out;
    std::int64_t current_revision = 0;
    auto replica_sets = c.replica_sets.by_index(kube::indexes::by_owner_uid, d.meta.uid);
    for (const auto& rs : replica_sets) current_revision = std::max(current_revision, rs->revision);
    for (const auto& rs : replica_sets) {
        const auto* o = rs->controller_owner();
        if (o == nullptr || o->uid != d.meta.uid) continue;
        for (auto p : c.pods.by_index(kube::indexes::by_owner_uid, rs->meta.uid)) {
            const auto* po = p->controller_owner();
            if (po == nullptr || po->uid != rs->meta.uid) continue;
            p = c.pod_writes.freshest(kube::key_of(p->meta), p, mono);
            if (!matches_selector(*p, d)) continue;
            out.emplace_back(std::move(p), rs->revision == current_revision);
        }
    }
    return out;
}

std::shared_ptr<const election_group> election_controller::older_sibling(const election_group& g) const {
    std::shared_ptr<const election_group> oldest;
    const auto before = [](const election_group& a, const election_group& b) {
        const auto ta = a.meta.creation_timestamp.value_or(kube::time_point::max());
        const auto tb = b.meta.creation_timestamp.value_or(kube::time_point::max());
        return ta != tb ? ta < tb : a.meta.name < b.meta.name;
    };
    for (const auto& other : groups_.targeting(g.meta.namespace_, g.spec.target.name)) {
        if (other->meta.uid == g.meta.uid || !before(*other, g)) continue;
        if (!oldest || before(*other, *oldest)) oldest = other;
    }
    return oldest;
}

bool election_controller::finalize(const election_group& g, const std::string& key) {
    if (!has_finalizer(g)) return true;
    const std::string& ns = g.meta.namespace_;
    const auto mono = clock_.now();
    auto& c = *caches_;
    std::vector<std::string> cleaned;
    std::string lease_note;
    // A group in Conflict never touched its Deployment's pods, and its older
    // sibling's labels are not its to remove.
    if (!older_sibling(g)) {
        std::set<std::string> names;
        if (auto d = c.deployments.get(ns + "/" + g.spec.target.name)) {
            for (const auto& [p, current] : pods_of(*d, mono)) names.insert(p->meta.name);
        }
        const std::string lease_key = ns + "/" + g.spec.lease_name;
        auto lease = c.lease_writes.freshest(lease_key, c.leases.get(lease_key), mono, true);
        if (!g.status.leader.empty()) names.insert(g.status.leader);
        if (lease && owned_by(lease->meta, g) && !lease->holder_identity.empty()) names.insert(lease->holder_identity);
        for (const auto& name : names) {
            auto p = c.pods.get(ns + "/" + name);
            if (p) p = c.pod_writes.freshest(kube::key_of(p->meta), p, mono);
            if (!p || !election::marked(*p, g.spec)) continue;
            kube::json patch{{"metadata",
                              {{"labels", {{g.spec.leader_label_key, nullptr}}},
                               {"annotations", {{std::string(election::term_annotation), nullptr}}}}}};
            auto done = client_.patch(kube::resources::pods, ns, name, kube::patch_type::merge, patch);
            if (!done && done.error().kind != kube::error_kind::not_found) {
                spdlog::warn("deleting a group: cannot remove the leader label group={} pod={} error={}", log::q(key),
                             log::q(name), log::q(done.error().to_string()));
                return false;
            }
            if (done) {
                if (auto parsed = kube::pod::from_json(*done)) {
                    c.pod_writes.put(ns + "/" + name, std::make_shared<const kube::pod>(std::move(*parsed)), clock_.now());
                }
                cleaned.push_back(name);
            }
        }
        if (lease && owned_by(lease->meta, g)) {
            auto removed = client_.remove(kube::resources::leases, ns, g.spec.lease_name,
                                          {.precondition_uid = lease->meta.uid});
            if (!removed && removed.error().kind != kube::error_kind::not_found &&
                removed.error().kind != kube::error_kind::conflict) {
                spdlog::warn("deleting a group: cannot delete the lease group={} lease={} error={}", log::q(key),
                             log::q(ns + "/" + g.spec.lease_name), log::q(removed.error().to_string()));
                return false;
            }
            c.lease_writes.erase(lease_key);
            lease_note = fmt::format(" lease={}", log::q(ns + "/" + g.spec.lease_name));
        }
    }
    kube::json finalizers = kube::json::array();
    for (const auto& f : g.meta.finalizers) {
        if (f != election::finalizer) finalizers.push_back(f);
    }
    auto done = client_.patch(kube::resources::electiongroups, ns, g.meta.name, kube::patch_type::merge,
                              {{"metadata", {{"resourceVersion", g.meta.resource_version}, {"finalizers", finalizers}}}});
    if (!done && done.error().kind != kube::error_kind::not_found) {
        spdlog::info("deleting a group: cannot remove the finalizer group={} error={}", log::q(key),
                     log::q(done.error().to_string()));
        return false;
    }
    spdlog::info("group deleted: leader label and term removed group={} pods={}{}", log::q(key),
                 cleaned.empty() ? std::string("-") : log::q(fmt::format("{}", fmt::join(cleaned, ","))), lease_note);
    event_queue_.forget(g.meta.uid);
    if (metrics_) metrics_->forget(ns, g.meta.name);
    c.group_writes.erase(key);
    std::lock_guard lock(states_mutex_);
    states_.erase(key);
    return true;
}

bool election_controller::reconcile(const std::string& key) {
    const auto mono = clock_.now();
    auto& c = *caches_;
    auto group = c.group_writes.freshest(key, groups_.get(key), mono);
    if (!group) {
        if (metrics_) {
            const auto slash = key.find('/');
            metrics_->forget(key.substr(0, slash), key.substr(slash + 1));
        }
        std::lock_guard lock(states_mutex_);
        states_.erase(key);
        return true;
    }
    const election_group& g = *group;
    const std::string& ns = g.meta.namespace_;
    const auto now = clock_.wall_now();
    if (g.meta.deletion_timestamp) return finalize(g, key);
    const auto state = state_of(key);

    auto write_status = [&](const election::group_status& status) -> bool {
        if (status == g.status) {
            state->unwritten_status.reset();
            return true;
        }
        auto written = client_.patch(kube::resources::electiongroups, ns, g.meta.name, kube::patch_type::merge,
                                     status_patch(status), "status", {.defer_if_throttled = true});
        if (!written && kube::throttled_locally(written.error())) {
            // The status waits for the rate limit; the election (done by
            // now) and the next group's do not. A later pass writes it.
            state->unwritten_status = status;
            const auto spread = std::chrono::milliseconds(std::hash<std::string>{}(key) % 1000);
            spdlog::debug("status deferred by the rate limit group={}", log::q(key));
            queue_.add_after(key, std::chrono::seconds(1) + spread, priority::normal);
            return true;
        }
        state->unwritten_status.reset();
        if (!written) {
            spdlog::warn("cannot write status group={} error={}", log::q(key), log::q(written.error().to_string()));
            return false;
        }
        if (auto parsed = election_group::from_json(*written)) {
            c.group_writes.put(key, std::make_shared<const election_group>(std::move(*parsed)), clock_.now());
        }
        return true;
    };
    auto record = [&](const std::string& type, const std::string& reason, const std::string& message,
                      bool important = false) { event_queue_.record(reference_to(g), type, reason, message, important); };
    // A group that cannot run: conditions say why, once, with a Warning Event.
    auto blocked = [&](std::string_view reason, const std::string& message, bool invalid,
                       std::optional<std::chrono::milliseconds> recheck = std::nullopt) {
        const auto reported = state->unwritten_status.value_or(g.status);
        const auto* before = reported.find(election::conditions::ready);
        const bool news = before == nullptr || before->reason != reason || before->message != message;
        if (!write_status(election::blocked_status(reported, g.meta.generation, reason, message, invalid, now)))
            return false;
        if (metrics_) metrics_->blocked(ns, g.meta.name);
        if (news) {
            spdlog::warn("group blocked group={} reason={} message={}", log::q(key), log::q(reason), log::q(message));
            record("Warning", std::string(reason), message);
        }
        if (recheck) queue_.add_after(key, *recheck);
        return true;
    };

    // Every group elector runs is cleaned up when deleted.
    if (!has_finalizer(g)) {
        kube::json finalizers = kube::json::array();
        for (const auto& f : g.meta.finalizers) finalizers.push_back(f);
        finalizers.push_back(election::finalizer);
        // Part of the election (once per group): not behind the rate limit.
        auto done = client_.patch(kube::resources::electiongroups, ns, g.meta.name, kube::patch_type::merge,
                                  {{"metadata", {{"resourceVersion", g.meta.resource_version}, {"finalizers", finalizers}}}},
                                  "", {.prio = priority::urgent});
        if (!done) {
            if (done.error().kind == kube::error_kind::not_found) return true;
            spdlog::info("cannot add the finalizer group={} finalizer={} error={}", log::q(key),
                         log::q(election::finalizer), log::q(done.error().to_string()));
            return false;
        }
        if (auto parsed = election_group::from_json(*done)) {
            c.group_writes.put(key, std::make_shared<const election_group>(std::move(*parsed)), clock_.now());
        }
        enqueue(key, true);  // again, on the version just written
        return true;
    }

    auto problems = g.spec_type_errors;
    problems.insert(problems.end(), g.spec_errors.begin(), g.spec_errors.end());
    for (auto& p : election::validate(g.spec)) problems.push_back(std::move(p));
    if (!problems.empty()) return blocked("InvalidSpec", fmt::format("{}", fmt::join(problems, "; ")), true);
    auto deployment = c.deployments.get(ns + "/" + g.spec.target.name);
    if (!deployment) {
        return blocked("TargetNotFound", fmt::format("Deployment {} not found in namespace {}", g.spec.target.name, ns),
                       false);
    }
    if (auto conflicts = election::validate_against(g.spec, *deployment); !conflicts.empty()) {
        return blocked("LeaderLabelConflict", fmt::format("{}", fmt::join(conflicts, "; ")), true);
    }
    if (auto older = older_sibling(g)) {
        return blocked("Conflict",
                       fmt::format("ElectionGroup {} (created earlier) already elects among the pods of Deployment {}; "
                                   "one group per Deployment (the pods' {} annotation is one per pod)",
                                   older->meta.name, g.spec.target.name, election::term_annotation),
                       false, 30s);
    }

    // The Lease must be this group's: never write over somebody else's.
    const std::string lease_key = ns + "/" + g.spec.lease_name;
    auto lease = c.lease_writes.freshest(lease_key, c.leases.get(lease_key), mono, true);
    const auto conflict_recheck = std::max<std::chrono::milliseconds>(g.spec.lease_duration, 1s);
    if (!lease && state->foreign_lease) {
        auto found = client_.get(kube::resources::leases, ns, g.spec.lease_name);
        if (!found && found.error().kind != kube::error_kind::not_found) {
            spdlog::info("cannot read the lease group={} lease={} error={}", log::q(key), log::q(lease_key),
                         log::q(found.error().to_string()));
            return false;
        }
        state->foreign_lease = false;
        if (found) {
            if (auto parsed = kube::lease::from_json(*found)) {
                lease = std::make_shared<const kube::lease>(std::move(*parsed));
                if (owned_by(lease->meta, g)) c.lease_writes.put(lease_key, lease, clock_.now());
            }
        }
    }
    if (lease && !owned_by(lease->meta, g)) {
        state->foreign_lease = true;
        return blocked("LeaseConflict",
                       fmt::format("Lease {} exists and does not belong to this group ({}); elector writes nothing "
                                   "until it is deleted or spec.leaseName names another Lease",
                                   g.spec.lease_name, describe_lease(*lease)),
                       false, conflict_recheck);
    }

    // The snapshot.
    election::snapshot snap{.group_name = g.meta.name, .spec = g.spec,
                            .status = state->unwritten_status.value_or(g.status),
                            .generation = g.meta.generation, .now = now,
                            .min_ready_seconds = deployment->min_ready_seconds};
    for (const auto& [p, current] : pods_of(*deployment, mono)) {
        std::optional<bool> node_ready;
        if (auto n = c.nodes.get(p->node_name); n) node_ready = n->ready;
        snap.candidates.push_back({.pod = *p, .node_ready = node_ready, .current_revision = current});
    }
    std::sort(snap.candidates.begin(), snap.candidates.end(),
              [](const auto& a, const auto& b) { return a.pod.meta.name < b.pod.meta.name; });
    if (state->preferred_at) {
        snap.since_preferred_handover =
            std::chrono::duration_cast<std::chrono::milliseconds>(mono - *state->preferred_at);
    }
    if (lease) {
        snap.lease = *lease;
        if (state->lease_rv.empty()) {
            state->lease_rv = lease->meta.resource_version;
            state->lease_changed_at = mono;
        } else if (state->lease_rv != lease->meta.resource_version) {
            state->lease_rv = lease->meta.resource_version;
            state->lease_changed_at = mono;
            state->lease_seen_change = true;
        }
        snap.lease_unchanged_for = std::chrono::duration_cast<std::chrono::milliseconds>(mono - state->lease_changed_at);
        snap.first_sight = !state->lease_seen_change;
        const std::string& holder = lease->holder_identity;
        auto held = std::find_if(snap.candidates.begin(), snap.candidates.end(),
                                 [&](const auto& x) { return x.pod.meta.name == holder; });
        if (held != snap.candidates.end()) {
            if (state->holder_uid != held->pod.meta.uid) {
                state->holder_uid = held->pod.meta.uid;
                state->restart_baseline = election::restarts(held->pod);
            }
            snap.holder_restart_baseline = state->restart_baseline;
        } else if (!holder.empty()) {
            if (auto stray = c.pods.get(ns + "/" + holder)) snap.stray_holder = *stray;
        }
    } else {
        state->lease_rv.clear();
    }

    if (state->holder_unhealthy_since) {
        snap.holder_unhealthy_for =
            std::chrono::duration_cast<std::chrono::milliseconds>(mono - *state->holder_unhealthy_since);
    }
    const auto plan = election::decide(snap);
    if (plan.holder_state == election::pod_state::eligible || plan.leader != snap.lease.value_or(kube::lease{}).holder_identity) {
        state->holder_unhealthy_since.reset();
    } else if (!state->holder_unhealthy_since) {
        state->holder_unhealthy_since = mono;
    }
    const bool handover = plan.lease && !plan.renewal;
    const auto urgent = kube::call_options{.prio = priority::urgent};

    // Step 1: demote.
    for (const auto& d : plan.demote) {
        kube::json patch{{"metadata",
                          {{"resourceVersion", d.resource_version},
                           {"labels", {{g.spec.leader_label_key, nullptr}}},
                           {"annotations", {{std::string(election::term_annotation), nullptr}}}}}};
        auto done = client_.patch(kube::resources::pods, ns, d.name, kube::patch_type::merge, patch, "", urgent);
        if (!done && done.error().kind != kube::error_kind::not_found) {
            spdlog::info("cannot demote a pod group={} pod={} error={}", log::q(key), log::q(d.name),
                         log::q(done.error().to_string()));
            return false;
        }
        if (done) {
            if (auto p = kube::pod::from_json(*done)) {
                c.pod_writes.put(ns + "/" + d.name, std::make_shared<const kube::pod>(std::move(*p)), clock_.now());
            }
            spdlog::info("election: event=demoted group={} pod={} mono={}", log::q(key), log::q(d.name),
                         mono_seconds(clock_.now()));
        }
    }
    if (handover && options_.exit_after_step == 1) exit_for_test(1, key);

    // Step 2: the Lease.
    if (plan.lease) {
        kube::lease l = *plan.lease;
        l.meta.namespace_ = ns;
        put_label(l.meta.labels, election::managed_by_label, election::managed_by_value);
        put_label(l.meta.labels, election::group_label, g.meta.name);
        const bool owned = std::any_of(l.meta.owner_references.begin(), l.meta.owner_references.end(),
                                       [&](const auto& o) { return o.uid == g.meta.uid; });
        if (!owned) {
            const bool has_controller = l.meta.controller_owner() != nullptr;
            l.meta.owner_references.push_back({.api_version = std::string(election::api_version),
                                               .kind = std::string(election::kind),
                                               .name = g.meta.name,
                                               .uid = g.meta.uid,
                                               .controller = !has_controller});
        }
        auto written = plan.create_lease ? client_.create(kube::resources::leases, ns, l.to_json(), urgent)
                                         : client_.update(kube::resources::leases, l.to_json(), urgent);
        if (!written) {
            const auto& e = written.error();
            c.lease_writes.erase(lease_key);
            if (e.kind == kube::error_kind::already_exists) {
                // A Lease elector does not cache (not labelled as its own):
                // the next reconcile reads it and, unless it is this group's,
                // reports LeaseConflict.
                state->foreign_lease = true;
            }
            spdlog::info("cannot write the lease group={} lease={} error={}", log::q(key), log::q(lease_key),
                         log::q(e.to_string()));
            return false;
        }
        auto parsed = kube::lease::from_json(*written);
        if (parsed) {
            state->lease_rv = parsed->meta.resource_version;
            c.lease_writes.put(lease_key, std::make_shared<const kube::lease>(std::move(*parsed)), clock_.now());
        }
        state->lease_changed_at = clock_.now();
        state->lease_seen_change = true;
        if (plan.preferred_handover) state->preferred_at = clock_.now();
        if (handover) {
            // A new holder: its restarts from now on are crashes.
            state->holder_uid.clear();
            for (const auto& cand : snap.candidates) {
                if (cand.pod.meta.name == plan.leader) {
                    state->holder_uid = cand.pod.meta.uid;
                    state->restart_baseline = election::restarts(cand.pod);
                }
            }
        }
    }
    if (handover && options_.exit_after_step == 2) exit_for_test(2, key);

    // Step 3: promote.
    if (plan.promote) {
        const auto& p = *plan.promote;
        kube::json patch{{"metadata",
                          {{"resourceVersion", p.resource_version},
                           {"labels", {{g.spec.leader_label_key, g.spec.leader_label_value}}},
                           {"annotations", {{std::string(election::term_annotation), std::to_string(p.term)}}}}}};
        auto done = client_.patch(kube::resources::pods, ns, p.name, kube::patch_type::merge, patch, "", urgent);
        if (!done) {
            spdlog::info("cannot label the leader pod group={} pod={} error={}", log::q(key), log::q(p.name),
                         log::q(done.error().to_string()));
            return false;
        }
        if (auto parsed = kube::pod::from_json(*done)) {
            c.pod_writes.put(ns + "/" + p.name, std::make_shared<const kube::pod>(std::move(*parsed)), clock_.now());
        }
        spdlog::info("election: event=promoted group={} pod={} term={} mono={}", log::q(key), log::q(p.name), p.term,
                     mono_seconds(clock_.now()));
    }
    const auto labelled_at = clock_.now();
    if (handover && options_.exit_after_step == 3) exit_for_test(3, key);

    // Step 4: status and Event.
    if (plan.change) {
        const auto& t = *plan.change;
        spdlog::info("election: event=leader-changed group={} from={} to={} term={} reason={} mono={} message={}",
                     log::q(key), t.from.empty() ? std::string("-") : log::q(t.from), log::q(t.to), t.term,
                     log::q(t.reason), mono_seconds(clock_.now()), log::q(handover_message(t)));
    }
    const auto* was = snap.status.find(election::conditions::leader_elected);
    const auto* is = plan.status.find(election::conditions::leader_elected);
    const auto* was_paused = snap.status.find(election::conditions::paused);
    const auto* is_paused = plan.status.find(election::conditions::paused);
    if (!write_status(plan.status)) return false;
    if (metrics_) {
        metrics_->observe(ns, g.meta.name, snap.status.leader, plan);
        if (plan.change) {
            metrics_->transition(ns, g.meta.name, *plan.change, std::chrono::duration<double>(labelled_at - mono).count());
        }
    }
    if (plan.change) record("Normal", plan.change->reason, handover_message(*plan.change), true);
    if (!plan.repairs.empty()) {
        const auto text = fmt::format("{}", fmt::join(plan.repairs, "; "));
        spdlog::warn("drift repaired group={} message={}", log::q(key), log::q(text));
        record("Warning", "DriftRepaired", text);
    }
    if (is_paused != nullptr && (was_paused == nullptr ? is_paused->status == "True" : was_paused->status != is_paused->status)) {
        const bool paused = is_paused->status == "True";
        spdlog::info("{} group={}", paused ? "group paused: no handovers until spec.paused is false" : "group resumed",
                     log::q(key));
        record("Normal", paused ? "Paused" : "Resumed",
               paused ? "spec.paused is true: elector starts no handover; drift is still repaired"
                      : "spec.paused is false: the election rules apply again");
    }
    if (is != nullptr && is->status == "False" && (was == nullptr || was->reason != is->reason)) {
        spdlog::warn("no leader elected group={} reason={} message={}", log::q(key), log::q(is->reason),
                     log::q(is->message));
        record("Warning", is->reason, is->message);
    }
    // A renewal is routine and may wait behind a failover; a look that may
    // hand over is not.
    if (plan.requeue_after) {
        queue_.add_after(key, *plan.requeue_after, plan.requeue_may_hand_over ? priority::urgent : priority::normal);
    }
    return true;
}

template class recent_writes<kube::pod>;
template class recent_writes<kube::lease>;
template class recent_writes<election_group>;

}  // namespace elector::controller
