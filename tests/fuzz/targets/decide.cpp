// Fuzz target "decide": election::decide() over snapshots built from the
// fuzzer's bytes, checked against the election's invariants.
//
// The bytes choose (fuzz::byte_reader; past the end everything is zero):
// the spec (timings valid per validate(), else the defaults; leader label;
// notReadyPolicy; paused; preferredLeader: none, a candidate, a stranger),
// 0-6 candidates p0..p5 as the controller gathers them (unique names,
// sorted) with random phase, Ready, Ready time, deletion, containers
// (state, restarts), node and node readiness, revision, leader label,
// term and candidate annotations; an optional Lease whose holder is empty,
// a candidate, a deleted pod or a pod of another Deployment (then the
// snapshot's stray_holder), with leaseTransitions from small to the int32
// edge; the status (leader, term from 0 to max_term); and the
// durations (lease unchanged, holder unhealthy, since the last preferred
// handover), first sight, the restart baseline and minReadySeconds.
//
// Invariants (a violation aborts with the snapshot and the plan):
//  1. at most one leader: of the snapshot's pods, those labelled after the
//     plan (labelled before, minus demote, plus promote) are at most one;
//     promote is never also demoted, and is the plan's leader;
//  2. terms never go back: plan.status.term >= status.term; a Lease write
//     says leaseTransitions = plan.term - 1 and never a term below the
//     Lease's nor the status's; a promote stamps plan.term, above
//     status.term unless the pod already held status.term; a new
//     acquisition (a change other than LeaseChanged) is in a term above
//     both the Lease's and the status's;
//  3. a confirmed-gone pod is never chosen: never promoted, never written
//     as the Lease's holder, never the target of a handover; it is the
//     plan's leader only when it already held the Lease;
//  4. an eligible holder that status names, in the Lease's term, is kept
//     (same leader and term, no change, no demote of it, a Lease write only
//     renews) unless a rule hands over: Rollout (the holder is of an old
//     revision and an eligible pod is of the current one) or Preferred
//     (spec.preferredLeader names another eligible pod, of the current
//     revision unless the holder is not either); paused, neither applies;
//  5. a possibly-alive holder is not replaced before its lease expired
//     (lease unchanged and holder unhealthy both under leaseDuration) under
//     WaitForLeaseExpiry;
//  and decide() never throws.
#include "fuzz_target.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "election/decide.hpp"
#include "election/group.hpp"
#include "kube/objects.hpp"
#include "kube/time.hpp"

namespace {

using namespace elector;
using namespace elector::election;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

const kube::time_point now = *kube::parse_time("2026-11-21T10:00:00Z");

// Small values mostly, the edges sometimes. Only values the API server
// lets through: leaseTransitions and restartCount are never negative
// (Lease and Pod validation), and status.term is within [0, max_term]
// (election_group::from_json reads anything else as 0; decide() writes no
// other).
std::int32_t pick_count(fuzz::byte_reader& r) {
    const unsigned k = r.below(16);
    if (k < 12) return static_cast<std::int32_t>(k);
    switch (k) {
        case 12: return std::numeric_limits<std::int32_t>::max();
        case 13: return std::numeric_limits<std::int32_t>::max() - 1;
        case 14: return std::numeric_limits<std::int32_t>::max() - 2;
        default: return static_cast<std::int32_t>(r.u32() & 0x7fffffffu);
    }
}

std::int64_t pick_term(fuzz::byte_reader& r) {
    const unsigned k = r.below(16);
    if (k < 12) return static_cast<std::int64_t>(k);
    switch (k) {
        case 12: return max_term;
        case 13: return max_term - 1;
        case 14: return max_term - 2;
        default: return static_cast<std::int64_t>(r.u64() % static_cast<std::uint64_t>(max_term + 1));
    }
}

void put(kube::labels& l, const std::string& key, const std::string& value) {
    l.emplace_back(key, value);
    kube::sort_labels(l);
}

kube::pod make_pod(fuzz::byte_reader& r, const std::string& name, const group_spec& spec) {
    kube::pod p;
    p.meta.name = name;
    p.meta.namespace_ = "shop";
    p.meta.uid = "uid-" + name;
    p.meta.resource_version = "rv-" + name + "-" + std::to_string(r.below(4));
    p.meta.labels = {{"app", "web"}};
    static const char* phases[] = {"Running", "Running", "Running", "Running", "Running",
                                   "Pending", "Failed",  "Succeeded", "Unknown", ""};
    p.phase = phases[r.below(10)];
    switch (r.below(4)) {
        case 0:
        case 1: p.ready = true; break;
        case 2: p.ready = false; break;
        default: break;
    }
    if (p.ready == true && r.below(4) != 0) p.ready_since = now - std::chrono::seconds(int{r.u16() % 4000} - 100);
    if (r.below(6) == 0) p.meta.deletion_timestamp = now - std::chrono::seconds(r.below(60));
    const unsigned containers = r.below(4);
    for (unsigned i = 0; i < containers; ++i) {
        kube::container_status c;
        c.name = "c" + std::to_string(i);
        c.ready = r.flag();
        c.restart_count = r.below(8) == 0 ? pick_count(r) : static_cast<std::int32_t>(r.below(4));
        static const kube::container_state states[] = {kube::container_state::waiting, kube::container_state::terminated,
                                                       kube::container_state::unknown, kube::container_state::running,
                                                       kube::container_state::running, kube::container_state::running};
        c.state = states[r.below(6)];
        if (c.state == kube::container_state::waiting || c.state == kube::container_state::terminated) {
            c.state_reason = r.flag() ? "CrashLoopBackOff" : "";
        }
        p.containers.push_back(std::move(c));
    }
    p.node_name = r.below(5) == 0 ? "" : "node-" + std::to_string(r.below(3));
    switch (r.below(4)) {
        case 0: put(p.meta.labels, spec.leader_label_key, spec.leader_label_value); break;
        case 1: put(p.meta.labels, spec.leader_label_key, "other"); break;
        default: break;
    }
    switch (r.below(8)) {
        case 0: put(p.meta.annotations, std::string(term_annotation), std::to_string(r.below(13))); break;
        case 1: put(p.meta.annotations, std::string(term_annotation), "x"); break;
        case 2: put(p.meta.annotations, std::string(term_annotation), std::to_string(r.flag() ? pick_term(r) : static_cast<std::int64_t>(r.u64()))); break;
        default: break;
    }
    switch (r.below(8)) {
        case 0: put(p.meta.annotations, std::string(candidate_annotation), "false"); break;
        case 1: put(p.meta.annotations, std::string(candidate_annotation), "true"); break;
        default: break;
    }
    return p;
}

group_spec make_spec(fuzz::byte_reader& r) {
    group_spec spec;
    spec.target.name = "web";
    spec.lease_name = "db";
    const auto lease_ms = std::int64_t{1 + r.below(60)} * 1000;
    const std::int64_t retry_ms = 100 + r.u16() % std::max<std::int64_t>(1, lease_ms / 2);
    const std::int64_t renew_min = retry_ms * 6 / 5 + 1;
    const std::int64_t renew_ms = renew_min + r.u16() % std::max<std::int64_t>(1, lease_ms - renew_min);
    spec.lease_duration = milliseconds(lease_ms);
    spec.renew_deadline = milliseconds(renew_ms);
    spec.retry_period = milliseconds(retry_ms);
    if (!validate(spec).empty()) {
        spec.lease_duration = 15s;
        spec.renew_deadline = 10s;
        spec.retry_period = 2s;
    }
    if (r.flag()) {
        spec.leader_label_key = "elector.dev/leader";
        spec.leader_label_value = "yes";
    }
    spec.policy = r.flag() ? not_ready_policy::immediate : not_ready_policy::wait_for_lease_expiry;
    spec.paused = r.below(4) == 0;
    return spec;
}

snapshot make_snapshot(fuzz::byte_reader& r) {
    snapshot s;
    s.group_name = "db";
    s.spec = make_spec(r);
    s.generation = r.below(10);
    s.now = now;
    const unsigned n = r.below(7);
    for (unsigned i = 0; i < n; ++i) {
        candidate c{.pod = make_pod(r, "p" + std::to_string(i), s.spec), .node_ready = {}, .current_revision = r.below(4) != 0};
        switch (r.below(5)) {
            case 3: c.node_ready.emplace(false); break;
            case 4: break;
            default: c.node_ready.emplace(true); break;
        }
        s.candidates.push_back(std::move(c));
    }
    const auto candidate_name = [&](unsigned k) { return n == 0 ? std::string("gone") : "p" + std::to_string(k % n); };
    switch (r.below(8)) {
        case 1:
        case 2: s.spec.preferred_leader = candidate_name(r.byte()); break;
        case 3: s.spec.preferred_leader = "stranger"; break;
        case 4: s.spec.preferred_leader = "p5"; break;
        default: break;
    }

    std::string holder;
    if (r.below(5) != 0) {
        kube::lease l;
        l.meta.name = "db";
        l.meta.namespace_ = "shop";
        l.meta.uid = "lease-uid";
        l.meta.resource_version = "lease-rv-" + std::to_string(r.below(100));
        switch (r.below(8)) {
            case 0: holder = ""; break;
            case 5: holder = "gone"; break;
            case 6: holder = "stray"; break;
            case 7: holder = "p5"; break;
            default: holder = candidate_name(r.byte()); break;
        }
        l.holder_identity = holder;
        l.lease_transitions = pick_count(r);
        l.lease_duration_seconds = r.flag() ? static_cast<std::int32_t>(s.spec.lease_duration / 1s)
                                            : static_cast<std::int32_t>(1 + r.below(100));
        if (r.below(4) != 0) l.acquire_time = now - std::chrono::seconds(r.u16());
        if (r.below(4) != 0) l.renew_time = now - milliseconds(r.u16());
        s.lease = std::move(l);
        const bool is_candidate =
            std::any_of(s.candidates.begin(), s.candidates.end(), [&](const candidate& c) { return c.pod.meta.name == holder; });
        if (!holder.empty() && !is_candidate && (holder == "stray" || r.flag())) {
            kube::pod stray = make_pod(r, holder, s.spec);
            stray.meta.labels.erase(std::remove_if(stray.meta.labels.begin(), stray.meta.labels.end(),
                                                   [](const auto& kv) { return kv.first == "app"; }),
                                    stray.meta.labels.end());
            put(stray.meta.labels, "app", "other");
            s.stray_holder = std::move(stray);
        }
        s.lease_unchanged_for = milliseconds(r.u32() % 120000);
        s.first_sight = r.flag();
    }
    s.holder_unhealthy_for = r.below(3) == 0 ? 0ms : milliseconds(r.u32() % 120000);
    if (r.below(3) != 0) s.holder_restart_baseline = r.below(8) == 0 ? std::int64_t{pick_count(r)} : std::int64_t{r.below(5)};
    if (r.below(4) == 0) s.min_ready_seconds = static_cast<std::int32_t>(r.below(120));
    if (r.flag()) s.since_preferred_handover = milliseconds(r.u32() % 60000);

    switch (r.below(6)) {
        case 0: break;
        case 4: s.status.leader = holder; break;
        case 5: s.status.leader = "gone"; break;
        default: s.status.leader = candidate_name(r.byte()); break;
    }
    s.status.term = pick_term(r);
    if (!s.status.leader.empty() || s.status.term != 0) s.status.lease_name = "db";
    return s;
}

// ---------------------------------------------------------------- describing

std::string describe(const snapshot& s) {
    std::string out = fmt::format(
        "snapshot: spec{{lease={}ms renew={}ms retry={}ms label={}={} policy={} paused={} preferred='{}'}} "
        "status{{leader='{}' term={}}} generation={} unchanged={}ms unhealthy={}ms first_sight={} baseline={} "
        "min_ready={}s since_preferred={}\n",
        s.spec.lease_duration.count(), s.spec.renew_deadline.count(), s.spec.retry_period.count(),
        s.spec.leader_label_key, s.spec.leader_label_value, to_string(s.spec.policy), s.spec.paused,
        s.spec.preferred_leader, s.status.leader, s.status.term, s.generation, s.lease_unchanged_for.count(),
        s.holder_unhealthy_for.count(), s.first_sight,
        s.holder_restart_baseline ? std::to_string(*s.holder_restart_baseline) : "none", s.min_ready_seconds,
        s.since_preferred_handover ? std::to_string(s.since_preferred_handover->count()) + "ms" : "none");
    if (s.lease) {
        out += fmt::format("  lease{{holder='{}' transitions={} duration={}s rv={}}}\n", s.lease->holder_identity,
                           s.lease->lease_transitions, s.lease->lease_duration_seconds, s.lease->meta.resource_version);
    } else {
        out += "  no lease\n";
    }
    const auto pod_line = [&](const kube::pod& p, std::string_view prefix, const std::optional<bool>& node_ready,
                              bool current, std::optional<std::int64_t> baseline) {
        std::string containers;
        for (const auto& c : p.containers) {
            containers += fmt::format(" {}(state={} restarts={}{})", c.name, static_cast<int>(c.state), c.restart_count,
                                      c.ready ? " ready" : "");
        }
        std::string marks;
        for (const auto& [k, v] : p.meta.labels) marks += fmt::format(" label {}={}", k, v);
        for (const auto& [k, v] : p.meta.annotations) marks += fmt::format(" annotation {}={}", k, v);
        const candidate c{.pod = p, .node_ready = node_ready, .current_revision = current};
        const auto a = assess(c, baseline);
        return fmt::format("  {}{} [{} {}] phase='{}' ready={} ready_since={} deleting={} node='{}' node_ready={} {}{}{}\n",
                           prefix, p.meta.name, to_string(a.state), a.reason, p.phase,
                           p.ready ? (*p.ready ? "true" : "false") : "unknown",
                           p.ready_since ? kube::format_time(*p.ready_since) : "none",
                           p.meta.deletion_timestamp.has_value(), p.node_name,
                           node_ready ? (*node_ready ? "true" : "false") : "unknown", current ? "current" : "old",
                           containers, marks);
    };
    for (const auto& c : s.candidates) {
        const bool is_holder = s.lease && c.pod.meta.name == s.lease->holder_identity;
        out += pod_line(c.pod, "", c.node_ready, c.current_revision,
                        is_holder ? s.holder_restart_baseline : std::nullopt);
    }
    if (s.stray_holder) out += pod_line(*s.stray_holder, "stray ", std::nullopt, false, std::nullopt);
    return out;
}

std::string describe(const plan& p) {
    std::string out = fmt::format("plan: leader='{}' term={} holder_state={} demote=[", p.leader, p.term,
                                  to_string(p.holder_state));
    for (const auto& d : p.demote) out += d.name + " ";
    out += "]";
    if (p.lease) {
        out += fmt::format(" lease{{holder='{}' transitions={}{}{}}}", p.lease->holder_identity, p.lease->lease_transitions,
                           p.create_lease ? " create" : "", p.renewal ? " renewal" : "");
    }
    if (p.promote) out += fmt::format(" promote={}@{}", p.promote->name, p.promote->term);
    if (p.change) {
        out += fmt::format(" change{{'{}'->'{}' term={} {}}}", p.change->from, p.change->to, p.change->term,
                           p.change->reason);
    }
    out += fmt::format(" status{{leader='{}' term={}}}", p.status.leader, p.status.term);
    return out;
}

// ---------------------------------------------------------------- the invariants

class judge {
public:
    judge(const snapshot& s, const plan& p) : s_(s), p_(p) {}

    void check(bool ok, std::string_view invariant) const {
        if (!ok) fuzz::fail(invariant, describe(s_) + describe(p_));
    }

    void all() const {
        one_leader();
        terms();
        gone_never_chosen();
        eligible_holder_kept();
        possibly_alive_not_replaced_early();
    }

private:
    const candidate* find(const std::string& name) const {
        for (const auto& c : s_.candidates) {
            if (c.pod.meta.name == name) return &c;
        }
        return nullptr;
    }
    std::string holder() const { return s_.lease ? s_.lease->holder_identity : ""; }
    std::int64_t lease_term() const { return s_.lease ? std::int64_t{s_.lease->lease_transitions} + 1 : 0; }
    // As decide() assesses: the holder with the restart baseline, the others without.
    pod_state state_of(const candidate& c) const {
        const bool is_holder = !holder().empty() && c.pod.meta.name == holder();
        return assess(c, is_holder ? s_.holder_restart_baseline : std::nullopt).state;
    }
    bool demoted(const std::string& name) const {
        return std::any_of(p_.demote.begin(), p_.demote.end(), [&](const pod_patch& d) { return d.name == name; });
    }
    bool eligible(const candidate* c) const { return c != nullptr && state_of(*c) == pod_state::eligible; }

    // 1.
    void one_leader() const {
        std::set<std::string> after;
        const auto count = [&](const kube::pod& pod) {
            if (labelled(pod, s_.spec) && !demoted(pod.meta.name)) after.insert(pod.meta.name);
        };
        for (const auto& c : s_.candidates) count(c.pod);
        if (s_.stray_holder && find(s_.stray_holder->meta.name) == nullptr) count(*s_.stray_holder);
        if (p_.promote) {
            check(!demoted(p_.promote->name), "1. at most one leader: a promoted pod is not also demoted");
            check(p_.promote->name == p_.leader, "1. at most one leader: promote is the plan's leader");
            after.insert(p_.promote->name);
        }
        check(after.size() <= 1, "1. at most one leader: at most one pod labelled after the plan");
    }

    // 2.
    void terms() const {
        const std::int64_t status_term = s_.status.term;
        check(p_.status.term >= status_term, "2. terms never go back: plan.status.term >= status.term");
        if (p_.lease) {
            check(std::int64_t{p_.lease->lease_transitions} + 1 == p_.term,
                  "2. terms never go back: a written Lease says leaseTransitions = plan.term - 1");
            check(p_.term >= status_term, "2. terms never go back: a Lease write is never below status.term");
            if (s_.lease) check(p_.term >= lease_term(), "2. terms never go back: a Lease write is never below the Lease's term");
            check(p_.lease->holder_identity == p_.leader, "2. a written Lease names the plan's leader");
        }
        if (p_.promote) {
            check(p_.promote->term == p_.term, "2. a promote stamps plan.term");
            const candidate* c = find(p_.promote->name);
            const std::string* stamped = c != nullptr ? kube::find_label(c->pod.meta.annotations, term_annotation) : nullptr;
            const bool held_it = p_.promote->name == s_.status.leader ||
                                 (stamped != nullptr && *stamped == std::to_string(status_term));
            check(p_.promote->term > status_term || (p_.promote->term == status_term && held_it),
                  "2. terms never go back: a promote stamps a term above status.term (or the one the pod held)");
        }
        if (p_.change && p_.change->reason != "LeaseChanged") {
            check(p_.change->term == p_.term && p_.change->to == p_.leader, "2. a change reports the plan's leader and term");
            check(p_.term > status_term && p_.term > lease_term(),
                  "2. terms never go back: a new acquisition is in a term above the Lease's and the status's");
        }
    }

    // 3.
    void gone_never_chosen() const {
        for (const auto& c : s_.candidates) {
            if (state_of(c) != pod_state::confirmed_gone) continue;
            const std::string& name = c.pod.meta.name;
            check(!(p_.promote && p_.promote->name == name), "3. a confirmed-gone pod is never promoted");
            check(!(p_.lease && p_.lease->holder_identity == name), "3. a confirmed-gone pod is never written as holder");
            check(!(p_.change && p_.change->to == name && p_.change->reason != "LeaseChanged"),
                  "3. a confirmed-gone pod is never handed leadership");
            check(p_.leader != name || holder() == name, "3. a confirmed-gone pod leads only if it already held the Lease");
        }
    }

    // 4.
    void eligible_holder_kept() const {
        const candidate* held = holder().empty() ? nullptr : find(holder());
        if (!eligible(held) || s_.status.leader != holder() || lease_term() != s_.status.term) return;
        const candidate* preferred = s_.spec.preferred_leader.empty() ? nullptr : find(s_.spec.preferred_leader);
        const bool rollout = !held->current_revision &&
                             std::any_of(s_.candidates.begin(), s_.candidates.end(),
                                         [&](const candidate& c) { return c.current_revision && eligible(&c); });
        const bool switchover = eligible(preferred) && preferred != held &&
                                (preferred->current_revision || !held->current_revision);
        if (!s_.spec.paused && (rollout || switchover)) return;
        check(p_.leader == holder() && p_.term == lease_term(),
              "4. an eligible holder is kept: same leader and term when no rule hands over");
        check(!p_.change, "4. an eligible holder is kept: no transition when no rule hands over");
        check(!demoted(holder()), "4. an eligible holder is kept: it is not demoted");
        check(!p_.lease || p_.renewal, "4. an eligible holder is kept: a Lease write only renews it");
    }

    // 5.
    void possibly_alive_not_replaced_early() const {
        const candidate* held = holder().empty() ? nullptr : find(holder());
        if (held == nullptr || state_of(*held) != pod_state::possibly_alive) return;
        if (s_.spec.policy != not_ready_policy::wait_for_lease_expiry) return;
        const milliseconds unrenewed = std::min(s_.lease_unchanged_for, s_.holder_unhealthy_for);
        if (unrenewed >= s_.spec.lease_duration) return;
        check(p_.leader == holder(), "5. a possibly-alive holder is not replaced before its lease expired");
        check(!(p_.lease && p_.lease->holder_identity != holder()),
              "5. a possibly-alive holder's Lease is not given away before it expired");
    }

    const snapshot& s_;
    const plan& p_;
};

}  // namespace

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size) {
    fuzz::byte_reader r(data, size);
    const snapshot s = make_snapshot(r);
    plan p;
    try {
        p = decide(s);
    } catch (const std::exception& e) {
        fuzz::fail("decide() never throws", std::string(e.what()) + "\n" + describe(s));
    }
    judge(s, p).all();
    return 0;
}
