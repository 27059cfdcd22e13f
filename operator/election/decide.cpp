#include "election/decide.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/options.hpp"

namespace elector::election {

namespace {

using std::chrono::milliseconds;

const std::string* term_of(const kube::pod& p) { return kube::find_label(p.meta.annotations, term_annotation); }

pod_assessment gone(std::string reason, std::string detail) {
    return {pod_state::confirmed_gone, std::move(reason), std::move(detail)};
}
pod_assessment alive(std::string reason, std::string detail) {
    return {pod_state::possibly_alive, std::move(reason), std::move(detail)};
}

// The crash evidence of a running pod, or "".
std::string crash_of(const kube::pod& p, std::optional<std::int64_t> baseline) {
    if (baseline && restarts(p) > *baseline) {
        return fmt::format("its containers restarted ({} -> {} restarts)", *baseline, restarts(p));
    }
    for (const auto& c : p.containers) {
        if (c.state == kube::container_state::terminated) {
            return fmt::format("container {} terminated{}", c.name, c.state_reason.empty() ? "" : " (" + c.state_reason + ")");
        }
        if (c.state == kube::container_state::waiting && p.ready != true) {
            return fmt::format("container {} is waiting{}", c.name, c.state_reason.empty() ? "" : " (" + c.state_reason + ")");
        }
    }
    return {};
}

std::string seconds_text(milliseconds d) { return config::format_duration(d); }

// A value someone else wrote, for a message: quoted, at most 64 bytes (cut on
// a UTF-8 boundary).
std::string quote_value(std::string_view v) {
    constexpr std::size_t max = 64;
    if (v.size() <= max) return fmt::format("\"{}\"", v);
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
    return fmt::format("\"{}…\" ({} bytes)", v.substr(0, n), v.size());
}

}  // namespace

bool labelled(const kube::pod& p, const group_spec& spec) {
    const std::string* v = kube::find_label(p.meta.labels, spec.leader_label_key);
    return v != nullptr && *v == spec.leader_label_value;
}

bool marked(const kube::pod& p, const group_spec& spec) { return labelled(p, spec) || term_of(p) != nullptr; }

std::string_view to_string(pod_state s) {
    switch (s) {
        case pod_state::eligible: return "eligible";
        case pod_state::confirmed_gone: return "confirmed gone";
        case pod_state::possibly_alive: return "possibly alive";
    }
    return "unknown";
}

std::int64_t restarts(const kube::pod& p) {
    std::int64_t sum = 0;
    for (const auto& c : p.containers) sum += c.restart_count;
    return sum;
}

pod_assessment assess(const candidate& c, std::optional<std::int64_t> restart_baseline) {
    const kube::pod& p = c.pod;
    if (p.phase == "Failed") return gone("Failed", "phase Failed");
    if (p.phase == "Succeeded") return gone("Succeeded", "phase Succeeded");
    const bool node_ready = c.node_ready == true;
    const auto node_problem = [&] {
        if (c.node_ready == false) return alive("NodeNotReady", fmt::format("its node {} is NotReady", p.node_name));
        return alive("NodeUnknown", fmt::format("its node {} is unreachable or unknown",
                                                p.node_name.empty() ? "(none)" : p.node_name));
    };
    // A pod deleted on an unreachable node may still run: the node wins.
    if (p.meta.deletion_timestamp) return node_ready ? gone("Terminating", "it is terminating") : node_problem();
    if (p.phase != "Running") {
        if (!node_ready && !p.node_name.empty()) return node_problem();
        return alive("Pending", fmt::format("phase {}", p.phase.empty() ? "Pending" : p.phase));
    }
    if (!node_ready) return node_problem();
    if (auto crash = crash_of(p, restart_baseline); !crash.empty()) return gone("Crashed", std::move(crash));
    if (const std::string* opt = kube::find_label(p.meta.annotations, candidate_annotation);
        opt != nullptr && *opt == "false") {
        return gone("OptedOut", fmt::format("it is annotated {}=false", candidate_annotation));
    }
    if (p.ready != true) return alive("NotReady", "it is not Ready");
    return {pod_state::eligible, "", ""};
}

bool leads_before(const candidate& a, const candidate& b) {
    if (a.current_revision != b.current_revision) return a.current_revision;
    const auto& ra = a.pod.ready_since;
    const auto& rb = b.pod.ready_since;
    if (ra.has_value() != rb.has_value()) return ra.has_value();
    if (ra && *ra != *rb) return *ra < *rb;
    return a.pod.meta.name < b.pod.meta.name;
}

void set_condition(std::vector<condition>& conditions, condition c, kube::time_point now) {
    auto it = std::find_if(conditions.begin(), conditions.end(), [&](const condition& x) { return x.type == c.type; });
    if (it == conditions.end()) {
        c.last_transition_time = now;
        conditions.push_back(std::move(c));
        return;
    }
    c.last_transition_time = it->status == c.status && it->last_transition_time ? it->last_transition_time : now;
    *it = std::move(c);
}

group_status blocked_status(const group_status& current, std::int64_t generation, std::string_view reason,
                            std::string_view message, bool invalid_spec, kube::time_point now) {
    group_status s = current;
    s.observed_generation = generation;
    const std::string r(reason), m(message);
    set_condition(s.conditions, {.type = std::string(conditions::ready), .status = "False",
                                 .observed_generation = generation, .reason = r, .message = m}, now);
    set_condition(s.conditions, {.type = std::string(conditions::leader_elected), .status = "False",
                                 .observed_generation = generation, .reason = r, .message = m}, now);
    set_condition(s.conditions,
                  invalid_spec ? condition{.type = std::string(conditions::invalid_spec), .status = "True",
                                           .observed_generation = generation, .reason = r, .message = m}
                               : condition{.type = std::string(conditions::invalid_spec), .status = "False",
                                           .observed_generation = generation, .reason = "SpecValid",
                                           .message = "the spec is valid"},
                  now);
    return s;
}

plan decide(const snapshot& s) {
    const group_spec& spec = s.spec;
    plan out;

    const std::string holder = s.lease ? s.lease->holder_identity : "";
    const std::int64_t lease_term = s.lease ? std::int64_t{s.lease->lease_transitions} + 1 : 0;
    auto find = [&](const std::string& name) -> const candidate* {
        auto it = std::find_if(s.candidates.begin(), s.candidates.end(),
                               [&](const candidate& c) { return c.pod.meta.name == name; });
        return it == s.candidates.end() ? nullptr : &*it;
    };
    const candidate* held = holder.empty() ? nullptr : find(holder);

    pod_assessment holder_state;
    if (holder.empty()) {
        holder_state = gone("", "no pod holds the lease");
    } else if (held == nullptr) {
        holder_state = s.stray_holder ? gone("NotCandidate", fmt::format("pod {} is not a pod of Deployment {}", holder,
                                                                         spec.target.name))
                                      : gone("Deleted", fmt::format("pod {} was deleted", holder));
    } else {
        holder_state = assess(*held, s.holder_restart_baseline);
    }

    // Eligible pods in the order they would lead.
    std::vector<const candidate*> eligible;
    // Why the others are not, for NoEligibleCandidate: "pod (detail)".
    std::vector<std::string> not_eligible;
    for (const auto& c : s.candidates) {
        const auto a = &c == held ? holder_state : assess(c, std::nullopt);
        if (a.state == pod_state::eligible) {
            eligible.push_back(&c);
        } else if (&c != held) {
            not_eligible.push_back(fmt::format("{} ({})", c.pod.meta.name, a.detail));
        }
    }
    std::sort(eligible.begin(), eligible.end(), [](const candidate* a, const candidate* b) { return leads_before(*a, *b); });
    const auto is_eligible = [&](const candidate* c) {
        return c != nullptr && std::find(eligible.begin(), eligible.end(), c) != eligible.end();
    };
    const candidate* preferred = spec.preferred_leader.empty() ? nullptr : find(spec.preferred_leader);
    if (!is_eligible(preferred)) preferred = nullptr;
    // Who takes over when the holder must be replaced.
    const candidate* successor = preferred != nullptr ? preferred : eligible.empty() ? nullptr : eligible.front();
    const std::string successor_name = successor != nullptr ? successor->pod.meta.name : "";

    // Who leads after this plan, and whether that is a new acquisition.
    std::string leader = holder;
    bool acquire = false;
    bool repair_lease = false;  // rewrite the Lease for the leader, same term
    std::string reason;
    std::string message;
    bool waiting_for_expiry = false;
    std::optional<milliseconds> wait;  // a Rollout or Preferred handover due later
    const auto wait_at_most = [&](milliseconds d) { wait = std::min(wait.value_or(d), std::max(milliseconds(1), d)); };
    const milliseconds unrenewed = std::min(s.lease_unchanged_for, s.holder_unhealthy_for);
    const bool expired = s.lease && unrenewed >= spec.lease_duration;
    auto take_over = [&](std::string why, std::string what, const candidate* who) {
        if (who == nullptr) return;
        leader = who->pod.meta.name;
        acquire = true;
        reason = std::move(why);
        message = std::move(what);
    };

    // How long until a pod has been Ready for minReadySeconds (max: its
    // Ready time is unknown and minReadySeconds is not zero).
    const auto available_in = [&](const candidate* c) -> milliseconds {
        const auto min_ready = std::chrono::seconds(s.min_ready_seconds);
        if (!c->pod.ready_since) return s.min_ready_seconds == 0 ? milliseconds(0) : milliseconds::max();
        // In milliseconds since the epoch: a Ready time centuries away (the
        // API accepts any year) would overflow a difference in nanoseconds.
        // A Ready time in the future (skew, or written by hand) counts as now.
        const auto ms_of = [](kube::time_point t) { return std::chrono::floor<milliseconds>(t.time_since_epoch()); };
        const milliseconds since = std::max(milliseconds(0), ms_of(s.now) - ms_of(*c->pod.ready_since));
        return since >= min_ready ? milliseconds(0) : min_ready - since;
    };

    if (held == nullptr && (holder.empty() || holder != s.status.leader)) {
        // No Lease, a released one, or one naming a pod that is not a
        // candidate and not the group's leader (edited): the group's leader,
        // if still eligible, keeps leading in its term (the status's leader,
        // else, with no leader on record, the eligible pod that carries the
        // label).
        const candidate* incumbent = nullptr;
        for (const candidate* c : eligible) {
            if (c->pod.meta.name == s.status.leader) incumbent = c;
        }
        if (incumbent == nullptr) {
            auto it = std::find_if(eligible.begin(), eligible.end(), [&](const candidate* c) { return labelled(c->pod, spec); });
            if (it != eligible.end()) incumbent = *it;
        }
        // The group's term is known to be the incumbent's if it is the leader
        // on record or carries that term.
        const bool holds_term = incumbent != nullptr && (incumbent->pod.meta.name == s.status.leader ||
                                                         (term_of(incumbent->pod) != nullptr &&
                                                          *term_of(incumbent->pod) == std::to_string(s.status.term)));
        const std::string what = !s.lease             ? fmt::format("lease {} was missing", spec.lease_name)
                                 : holder.empty()      ? fmt::format("lease {} had no holder", spec.lease_name)
                                                       : fmt::format("lease {} named pod {}, which {}", spec.lease_name,
                                                                     holder, s.stray_holder ? "is not a pod of Deployment " + spec.target.name
                                                                                            : std::string("does not exist"));
        if (holds_term && s.status.term > 0 && lease_term <= s.status.term) {
            leader = incumbent->pod.meta.name;
            repair_lease = true;
            out.repairs.push_back(fmt::format("{}; pod {} goes on leading with term {}", what, leader, s.status.term));
        } else if (holds_term) {
            take_over("TermRepaired",
                      fmt::format("pod {} goes on leading in a new term: {}", incumbent->pod.meta.name, what), incumbent);
        } else if (spec.paused) {
            // Nobody is chosen while paused.
        } else if (incumbent != nullptr) {
            take_over("Elected",
                      fmt::format("pod {} elected: {}; it carried the leader label already", incumbent->pod.meta.name, what),
                      incumbent);
        } else if (holder.empty()) {
            take_over("Elected", fmt::format("pod {} elected: no pod held the lease", successor_name), successor);
        } else {
            take_over("Leader" + holder_state.reason,
                      fmt::format("pod {} took over from pod {}: {}", successor_name, holder, holder_state.detail),
                      successor);
        }
    } else if (held == nullptr) {
        // The leader's pod is gone (deleted, or no longer a pod of the target).
        if (!spec.paused) {
            take_over("Leader" + holder_state.reason,
                      fmt::format("pod {} took over from pod {}: {}", successor_name, holder, holder_state.detail),
                      successor);
        }
    } else if (holder_state.state == pod_state::eligible) {
        const bool edited = !s.status.leader.empty() && s.status.leader != holder;
        if (lease_term < s.status.term || (lease_term == s.status.term && edited)) {
            // The Lease names the holder with a term the group has already
            // handed out: someone wrote it. Another pod named: a switchover
            // the labels follow; the same pod: it continues in a new term.
            acquire = true;
            reason = edited ? "LeaseEdited" : "TermRepaired";
            message = edited ? fmt::format("lease {} was edited to name pod {} (leader was {}); the labels follow it",
                                           spec.lease_name, holder, s.status.leader)
                             : fmt::format("pod {} holds the lease with term {}, which this group has already used; "
                                           "it continues with a new term",
                                           holder, lease_term);
        } else if (!spec.paused && !held->current_revision) {
            // Rollout: hand over to a pod of the current revision as soon as it
            // is available, before the Deployment terminates the old leader.
            const candidate* target = nullptr;
            if (preferred != nullptr && preferred->current_revision && available_in(preferred) == milliseconds(0)) {
                target = preferred;
            }
            for (const candidate* c : eligible) {
                if (target != nullptr || !c->current_revision) continue;
                const auto in = available_in(c);
                if (in == milliseconds(0)) {
                    target = c;
                } else if (in != milliseconds::max()) {
                    wait_at_most(in);
                }
            }
            if (target != nullptr) {
                take_over("Rollout",
                          fmt::format("pod {} of the current revision took over from pod {} of an old revision",
                                      target->pod.meta.name, holder),
                          target);
            }
        }
        if (!acquire && !spec.paused && preferred != nullptr && preferred != held &&
            (preferred->current_revision || !held->current_revision)) {
            const auto rollout_wait =
                !held->current_revision && preferred->current_revision ? available_in(preferred) : milliseconds(0);
            if (s.since_preferred_handover && *s.since_preferred_handover < spec.lease_duration) {
                wait_at_most(spec.lease_duration - *s.since_preferred_handover);
            } else if (rollout_wait != milliseconds(0)) {
                // During a rollout the preferred pod, too, waits for minReadySeconds.
                if (rollout_wait != milliseconds::max()) wait_at_most(rollout_wait);
            } else {
                take_over("Preferred",
                          fmt::format("pod {} took over from pod {}: it is spec.preferredLeader", preferred->pod.meta.name,
                                      holder),
                          preferred);
                out.preferred_handover = true;
            }
        }
    } else if (spec.paused) {
        // No handover while paused; the Lease is not renewed.
    } else if (holder_state.state == pod_state::confirmed_gone) {
        take_over("Leader" + holder_state.reason,
                  fmt::format("pod {} took over from pod {}: {}", successor_name, holder, holder_state.detail), successor);
    } else if (spec.policy == not_ready_policy::immediate) {
        take_over("Leader" + holder_state.reason,
                  fmt::format("pod {} took over from pod {} at once (notReadyPolicy Immediate): {}", successor_name, holder,
                              holder_state.detail),
                  successor);
    } else if (expired) {
        take_over("LeaseExpired", fmt::format("pod {} took over from pod {}, whose lease expired ({} unrenewed): {}",
                                              successor_name, holder, seconds_text(unrenewed), holder_state.detail),
                  successor);
    } else {
        waiting_for_expiry = true;
    }

    // The Lease's holder keeps the Lease's term only if it is known to hold
    // it: the leader on record, or stamped with it. A Lease edited (or taken
    // after a release) to name another pod with a term the group has handed
    // out would give that pod a fencing term another pod had. An eligible
    // holder goes on in a new term (with another pod on record: LeaseEdited,
    // above); one that is not eligible is not stamped (step 3).
    const auto holds_lease_term = [&](const candidate& c) {
        const std::string* t = term_of(c.pod);
        return c.pod.meta.name == s.status.leader || (t != nullptr && *t == std::to_string(lease_term));
    };
    if (!acquire && !repair_lease && held != nullptr && leader == holder &&
        holder_state.state == pod_state::eligible && s.status.term > 0 && lease_term == s.status.term &&
        !holds_lease_term(*held)) {
        acquire = true;
        reason = "TermRepaired";
        message = fmt::format("pod {} holds the lease with term {}, which this group has already used; "
                              "it continues with a new term",
                              holder, lease_term);
    }

    // A Lease cannot record a term beyond max_term (leaseTransitions is an
    // int32): such a handover would fail on every try after the old leader's
    // demotion. Nothing is written; the conditions say why.
    const std::int64_t used_term = std::max(lease_term, s.status.term);
    if ((acquire && used_term >= max_term) || (repair_lease && s.status.term > max_term)) {
        plan blocked;
        blocked.leader = holder;
        blocked.term = lease_term;
        blocked.holder_state = holder.empty() ? pod_state::eligible : holder_state.state;
        blocked.status = blocked_status(
            s.status, s.generation, "TermExhausted",
            fmt::format("pod {} cannot lead in a new term: term {} is the largest a Lease can record "
                        "(leaseTransitions {}); delete and recreate ElectionGroup {} to start again from term 1",
                        leader, max_term, max_term - 1, s.group_name),
            false, s.now);
        // Nobody but the holder keeps the label meanwhile.
        for (const auto& c : s.candidates) {
            if (c.pod.meta.name != holder && labelled(c.pod, spec)) {
                blocked.demote.push_back({c.pod.meta.name, c.pod.meta.resource_version, 0});
            }
        }
        return blocked;
    }
    const std::int64_t term = acquire ? used_term + 1 : repair_lease ? s.status.term : lease_term;
    const candidate* leading = leader.empty() ? nullptr : find(leader);

    // Step 1: nobody but the leader-to-be keeps the label or a term. A pod
    // that neither holds the Lease nor led by the status is drift.
    const auto demote = [&](const kube::pod& p) {
        out.demote.push_back({.name = p.meta.name, .resource_version = p.meta.resource_version});
        if (p.meta.name != holder && p.meta.name != s.status.leader) {
            out.repairs.push_back(fmt::format("pod {} carried {} without holding lease {}; removed",
                                              p.meta.name, labelled(p, spec) ? "the leader label" : "a term",
                                              spec.lease_name));
        }
    };
    for (const auto& c : s.candidates) {
        if (c.pod.meta.name != leader && marked(c.pod, spec)) demote(c.pod);
    }
    if (s.stray_holder && s.stray_holder->meta.name != leader && marked(*s.stray_holder, spec) &&
        find(s.stray_holder->meta.name) == nullptr) {
        demote(*s.stray_holder);
    }

    // Step 2: the Lease.
    const bool leader_eligible =
        acquire || repair_lease || (leading != nullptr && holder_state.state == pod_state::eligible);
    const auto duration_seconds = static_cast<std::int32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(spec.lease_duration).count());
    if (acquire || repair_lease) {
        kube::lease l = s.lease.value_or(kube::lease{});
        l.meta.name = spec.lease_name;
        l.holder_identity = leader;
        l.lease_duration_seconds = duration_seconds;
        l.acquire_time = s.now;
        l.renew_time = s.now;
        l.lease_transitions = static_cast<std::int32_t>(term - 1);
        out.lease = std::move(l);
        out.create_lease = !s.lease;
        out.requeue_after = spec.retry_period;
    } else if (leader_eligible) {
        const bool due = s.first_sight || s.lease_unchanged_for >= spec.retry_period ||
                         s.lease->lease_duration_seconds != duration_seconds;
        if (due) {
            kube::lease l = *s.lease;
            l.renew_time = s.now;
            l.lease_duration_seconds = duration_seconds;
            if (!l.acquire_time) l.acquire_time = s.now;
            out.lease = std::move(l);
            out.renewal = true;
            out.requeue_after = spec.retry_period;
        } else {
            out.requeue_after = spec.retry_period - s.lease_unchanged_for;
        }
    } else if (waiting_for_expiry) {
        out.requeue_after = std::max(milliseconds(1), spec.lease_duration - unrenewed);
        out.requeue_may_hand_over = true;
    }
    if (wait && !acquire && (!out.requeue_after || *wait <= *out.requeue_after)) {
        out.requeue_after = *wait;
        out.requeue_may_hand_over = true;
    }

    // Step 3: the leader carries the label and its term. A holder that is
    // confirmed gone is left alone.
    // A holder whose Lease term fell below what the group handed out (the
    // Lease was rewritten by someone else) is not stamped with that lower
    // term: it gets a new one as soon as it is eligible (TermRepaired).
    const bool label_leader =
        leading != nullptr &&
        (acquire || repair_lease ||
         (holder_state.state != pod_state::confirmed_gone &&
          (term > s.status.term || (term == s.status.term && holds_lease_term(*leading)))));
    if (label_leader) {
        const std::string* t = term_of(leading->pod);
        if (!labelled(leading->pod, spec) || t == nullptr || *t != std::to_string(term)) {
            out.promote = pod_patch{.name = leader, .resource_version = leading->pod.meta.resource_version, .term = term};
        }
    }

    // Step 4: status.
    out.leader = leader;
    out.holder_state = holder.empty() ? pod_state::eligible : holder_state.state;
    out.term = leader.empty() ? s.status.term : term;
    group_status st = s.status;
    st.leader = leader;
    st.term = std::max(out.term, s.status.term);
    st.lease_name = spec.lease_name;
    st.candidates_ready = static_cast<std::int32_t>(eligible.size());
    st.candidates_total = static_cast<std::int32_t>(s.candidates.size());
    st.observed_generation = s.generation;
    if (acquire) {
        out.change = transition{.from = holder != leader ? holder : s.status.leader, .to = leader, .term = term,
                                .reason = reason, .message = message};
    } else if (!leader.empty() && (s.status.leader != leader || term > s.status.term)) {
        // The Lease moved without this status saying so: a handover finished
        // by a restarted elector, or a Lease written by someone else.
        out.change = transition{.from = s.status.leader, .to = leader, .term = term, .reason = "LeaseChanged",
                                .message = fmt::format("pod {} holds the lease with term {}", leader, term)};
    }
    if (out.change) {
        st.last_transition_time = s.now;
        st.last_transition_reason = out.change->reason;
    } else if (out.promote && !repair_lease) {
        const std::string* t = term_of(leading->pod);
        out.repairs.push_back(fmt::format("leader {} was missing {}; restored with term {}", leader,
                                          !labelled(leading->pod, spec) ? "the leader label"
                                          : t == nullptr                ? "its term annotation"
                                                                        : "its term (it had " + quote_value(*t) + ")",
                                          term));
    }

    const std::int64_t g = s.generation;
    condition elected{.type = std::string(conditions::leader_elected), .observed_generation = g};
    if (leader_eligible) {
        elected.status = "True";
        elected.reason = "Elected";
        elected.message = fmt::format("pod {} leads with term {}", leader, term);
    } else if (s.candidates.empty()) {
        elected.status = "False";
        elected.reason = "NoCandidates";
        elected.message = fmt::format("Deployment {} has no pods", spec.target.name);
    } else if (spec.paused) {
        elected.status = "False";
        elected.reason = "Paused";
        elected.message = holder.empty() ? std::string("no pod leads and handovers are paused (spec.paused)")
                                         : fmt::format("leader {} is not eligible ({}) and handovers are paused (spec.paused)",
                                                       holder, holder_state.detail);
    } else if (waiting_for_expiry && successor != nullptr) {
        elected.status = "False";
        elected.reason = "WaitingForLeaseExpiry";
        elected.message = fmt::format("leader {} may still be running ({}); pod {} takes over when its lease expires in {}",
                                      holder, holder_state.detail, successor_name,
                                      seconds_text(spec.lease_duration - unrenewed));
    } else {
        elected.status = "False";
        elected.reason = "NoEligibleCandidate";
        elected.message = fmt::format("none of the {} pods of Deployment {} is eligible", s.candidates.size(),
                                      spec.target.name);
        constexpr std::size_t listed = 3;
        if (!not_eligible.empty()) {
            const auto shown = std::min(listed, not_eligible.size());
            elected.message += fmt::format(": {}", fmt::join(not_eligible.begin(), not_eligible.begin() + shown, ", "));
            if (not_eligible.size() > shown) elected.message += fmt::format(" and {} more", not_eligible.size() - shown);
        }
        if (!holder.empty()) {
            elected.message += fmt::format("; leader {} {} ({})", holder,
                                           leading != nullptr && marked(leading->pod, spec) ? "keeps the label"
                                                                                             : "is not labelled",
                                           holder_state.detail);
        }
    }
    condition ready{.type = std::string(conditions::ready), .status = elected.status, .observed_generation = g,
                    .reason = elected.status == "True" ? "LeaderElected" : elected.reason, .message = elected.message};
    set_condition(st.conditions, std::move(ready), s.now);
    set_condition(st.conditions, std::move(elected), s.now);
    set_condition(st.conditions,
                  {.type = std::string(conditions::invalid_spec), .status = "False", .observed_generation = g,
                   .reason = "SpecValid", .message = "the spec is valid"},
                  s.now);
    set_condition(st.conditions,
                  spec.paused ? condition{.type = std::string(conditions::paused), .status = "True",
                                          .observed_generation = g, .reason = "Paused",
                                          .message = "elector starts no handover (spec.paused); drift is still repaired"}
                              : condition{.type = std::string(conditions::paused), .status = "False",
                                          .observed_generation = g, .reason = "NotPaused",
                                          .message = "handovers follow the election rules"},
                  s.now);
    out.status = std::move(st);
    return out;
}

}  // namespace elector::election
