#include "election/group.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "config/options.hpp"
#include "kube/json_fields.hpp"

namespace elector::election {

namespace {

using namespace kube::json_fields;

// "a string", "an object", ... for messages about a value of the wrong type.
std::string a_type(const json& j) {
    const std::string_view name = j.type_name();
    return fmt::format("{} {}", name.front() == 'a' || name.front() == 'o' ? "an" : "a", name);
}

// A duration field: its value if it parses, else the default and a problem.
void read_duration(const json* spec, const char* field, milliseconds& out, std::vector<std::string>& errors) {
    const json* j = child(spec, field);
    if (j == nullptr || j->is_null()) return;
    const std::string* text = as_string(j);
    if (text == nullptr) {
        errors.push_back(fmt::format("spec.{}: must be a duration string such as \"15s\"", field));
        return;
    }
    auto d = config::parse_duration(*text);
    if (!d) {
        errors.push_back(fmt::format("spec.{}: {}", field, d.error()));
        return;
    }
    out = *d;
}

// The object at `key`, or nullptr; a value of another type (not null) is
// also recorded in `errors`.
const json* object_field(const json* parent, const char* key, std::string_view path, std::vector<std::string>& errors) {
    const json* j = child(parent, key);
    if (j == nullptr || j->is_null()) return nullptr;
    if (!j->is_object()) {
        errors.push_back(fmt::format("{}: must be an object, not {}", path, a_type(*j)));
        return nullptr;
    }
    return j;
}

// The string at `key`, or `fallback`; a value of another type (not null) is
// also recorded in `errors`.
std::string string_field(const json* parent, const char* key, std::string_view path, std::string fallback,
                         std::vector<std::string>& errors) {
    const json* j = child(parent, key);
    if (j == nullptr || j->is_null()) return fallback;
    if (const std::string* s = as_string(j)) return *s;
    errors.push_back(fmt::format("{}: must be a string, not {}", path, a_type(*j)));
    return fallback;
}

std::string format_ms(milliseconds d) { return config::format_duration(d); }

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9A-Z]([-_.a-z0-9A-Z]*[a-z0-9A-Z])?, at most 63 characters.
bool is_label_name(std::string_view s) {
    if (s.empty() || s.size() > 63 || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns_label(std::string_view s) {
    auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (s.empty() || s.size() > 63 || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

}  // namespace

std::string_view to_string(not_ready_policy p) {
    return p == not_ready_policy::immediate ? "Immediate" : "WaitForLeaseExpiry";
}

// As apimachinery's IsDNS1123Subdomain: at most 253 characters in all;
// dot-separated parts are DNS-1123 labels without their 63-character limit.
bool is_dns_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        const auto dot = s.find('.', start);
        const auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (!is_dns_label(part.substr(0, 63)) || (part.size() > 63 && !is_dns_label(part.substr(part.size() - 63))))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_qualified_name(std::string_view s) {
    const auto slash = s.find('/');
    if (slash == std::string_view::npos) return is_label_name(s);
    if (s.find('/', slash + 1) != std::string_view::npos) return false;
    return is_dns_subdomain(s.substr(0, slash)) && is_label_name(s.substr(slash + 1));
}

bool is_label_value(std::string_view s) { return s.empty() || is_label_name(s); }

const condition* group_status::find(std::string_view type) const {
    auto it = std::find_if(conditions.begin(), conditions.end(), [&](const condition& c) { return c.type == type; });
    return it == conditions.end() ? nullptr : &*it;
}

json group_status::to_json() const {
    json j = json::object();
    if (!leader.empty()) j["leader"] = leader;
    if (term != 0) j["term"] = term;
    if (!lease_name.empty()) j["leaseName"] = lease_name;
    j["candidates"] = {{"ready", candidates_ready}, {"total", candidates_total}};
    j["candidatesReady"] = fmt::format("{}/{}", candidates_ready, candidates_total);
    if (last_transition_time) j["lastTransitionTime"] = kube::format_time(*last_transition_time);
    if (!last_transition_reason.empty()) j["lastTransitionReason"] = last_transition_reason;
    j["observedGeneration"] = observed_generation;
    json list = json::array();
    for (const auto& c : conditions) {
        json item{{"type", c.type},
                  {"status", c.status},
                  {"observedGeneration", c.observed_generation},
                  {"reason", c.reason},
                  {"message", c.message}};
        // metav1.Condition requires lastTransitionTime.
        item["lastTransitionTime"] = kube::format_time(c.last_transition_time.value_or(kube::time_point{}));
        list.push_back(std::move(item));
    }
    j["conditions"] = std::move(list);
    return j;
}

std::expected<election_group, std::string> election_group::from_json(const json& object) {
    static const json empty = json::object();
    const json* metadata = child(&object, "metadata");
    auto meta = kube::object_meta::from_json(metadata != nullptr ? *metadata : empty, "electiongroup", true);
    if (!meta) return std::unexpected(std::move(meta.error()));
    election_group g;
    g.meta = std::move(*meta);
    auto& types = g.spec_type_errors;
    const json* spec = object_field(&object, "spec", "spec", types);
    if (spec == nullptr && types.empty()) types.emplace_back("spec: required");
    auto& s = g.spec;
    if (const json* target = object_field(spec, "targetRef", "spec.targetRef", types)) {
        s.target.api_version = string_field(target, "apiVersion", "spec.targetRef.apiVersion", s.target.api_version, types);
        s.target.kind = string_field(target, "kind", "spec.targetRef.kind", s.target.kind, types);
        s.target.name = string_field(target, "name", "spec.targetRef.name", "", types);
    }
    read_duration(spec, "leaseDuration", s.lease_duration, g.spec_errors);
    read_duration(spec, "renewDeadline", s.renew_deadline, g.spec_errors);
    read_duration(spec, "retryPeriod", s.retry_period, g.spec_errors);
    if (const json* label = object_field(spec, "leaderLabel", "spec.leaderLabel", types)) {
        s.leader_label_key = string_field(label, "key", "spec.leaderLabel.key", s.leader_label_key, types);
        s.leader_label_value = string_field(label, "value", "spec.leaderLabel.value", s.leader_label_value, types);
    }
    s.lease_name = string_field(spec, "leaseName", "spec.leaseName", "", types);
    if (s.lease_name.empty()) s.lease_name = g.meta.name;
    const std::string policy = string_field(spec, "notReadyPolicy", "spec.notReadyPolicy", "", types);
    if (policy == "Immediate") {
        s.policy = not_ready_policy::immediate;
    } else if (policy != "WaitForLeaseExpiry" && !policy.empty()) {
        g.spec_errors.push_back(
            fmt::format("spec.notReadyPolicy: \"{}\" is not one of WaitForLeaseExpiry, Immediate", policy));
    }

    s.preferred_leader = string_field(spec, "preferredLeader", "spec.preferredLeader", "", types);
    if (const json* paused = child(spec, "paused"); paused != nullptr && !paused->is_null()) {
        if (paused->is_boolean()) {
            s.paused = paused->get<bool>();
        } else {
            g.spec_errors.push_back(fmt::format("spec.paused: {} is not true or false", paused->dump()));
        }
    }

    const json* status = child(&object, "status");
    auto& st = g.status;
    st.leader = string_or(child(status, "leader"), "");
    st.term = int_or<std::int64_t>(child(status, "term"), 0);
    if (st.term < 0 || st.term > max_term) st.term = 0;  // not a term elector wrote
    st.lease_name = string_or(child(status, "leaseName"), "");
    if (const json* c = child(status, "candidates")) {
        st.candidates_ready = int_or<std::int32_t>(child(c, "ready"), 0);
        st.candidates_total = int_or<std::int32_t>(child(c, "total"), 0);
    }
    st.last_transition_time = as_time(child(status, "lastTransitionTime"));
    st.last_transition_reason = string_or(child(status, "lastTransitionReason"), "");
    st.observed_generation = int_or<std::int64_t>(child(status, "observedGeneration"), 0);
    if (const json* list = child(status, "conditions"); list != nullptr && list->is_array()) {
        for (const auto& item : *list) {
            condition c;
            c.type = string_or(child(&item, "type"), "");
            if (c.type.empty()) continue;
            c.status = string_or(child(&item, "status"), "Unknown");
            c.observed_generation = int_or<std::int64_t>(child(&item, "observedGeneration"), 0);
            c.last_transition_time = as_time(child(&item, "lastTransitionTime"));
            c.reason = string_or(child(&item, "reason"), "");
            c.message = string_or(child(&item, "message"), "");
            st.conditions.push_back(std::move(c));
        }
    }
    return g;
}

std::vector<std::string> validate(const group_spec& s) {
    std::vector<std::string> problems;
    if (s.target.api_version != "apps/v1" || s.target.kind != "Deployment") {
        problems.push_back(fmt::format("spec.targetRef: {} {} is not supported; only apps/v1 Deployment",
                                       s.target.api_version, s.target.kind));
    }
    if (s.target.name.empty()) problems.emplace_back("spec.targetRef.name: required");
    else if (!is_dns_subdomain(s.target.name))
        problems.push_back(fmt::format("spec.targetRef.name: \"{}\" is not a valid Deployment name", s.target.name));

    using std::chrono::seconds;
    if (s.lease_duration < seconds(1) || s.lease_duration > std::chrono::hours(1) ||
        s.lease_duration % seconds(1) != milliseconds(0)) {
        problems.push_back(fmt::format(
            "spec.leaseDuration: {} must be whole seconds between 1s and 1h (the Lease stores whole seconds)",
            format_ms(s.lease_duration)));
    }
    if (s.retry_period < milliseconds(100)) {
        problems.push_back(fmt::format("spec.retryPeriod: {} must be at least 100ms", format_ms(s.retry_period)));
    }
    if (s.lease_duration <= s.renew_deadline) {
        problems.push_back(fmt::format("spec.renewDeadline: {} must be less than spec.leaseDuration ({})",
                                       format_ms(s.renew_deadline), format_ms(s.lease_duration)));
    }
    // renewDeadline > 1.2 x retryPeriod, exactly: 5 x renewDeadline > 6 x retryPeriod.
    if (s.renew_deadline * 5 <= s.retry_period * 6) {
        problems.push_back(fmt::format("spec.renewDeadline: {} must be more than 1.2 x spec.retryPeriod ({})",
                                       format_ms(s.renew_deadline), format_ms(s.retry_period)));
    }
    if (!is_qualified_name(s.leader_label_key)) {
        problems.push_back(fmt::format("spec.leaderLabel.key: \"{}\" is not a valid label key", s.leader_label_key));
    }
    if (!is_label_value(s.leader_label_value) || s.leader_label_value.empty()) {
        problems.push_back(
            fmt::format("spec.leaderLabel.value: \"{}\" is not a valid, non-empty label value", s.leader_label_value));
    }
    if (!is_dns_subdomain(s.lease_name)) {
        problems.push_back(fmt::format("spec.leaseName: \"{}\" is not a valid Lease name", s.lease_name));
    }
    if (!s.preferred_leader.empty() && !is_dns_subdomain(s.preferred_leader)) {
        problems.push_back(fmt::format("spec.preferredLeader: \"{}\" is not a valid pod name", s.preferred_leader));
    }
    return problems;
}

std::vector<std::string> validate_against(const group_spec& spec, const kube::deployment& target) {
    std::vector<std::string> problems;
    const std::string& key = spec.leader_label_key;
    const std::string where = fmt::format("Deployment {}", target.meta.name);
    if (kube::find_label(target.selector_match_labels, key) != nullptr ||
        std::find(target.selector_expression_keys.begin(), target.selector_expression_keys.end(), key) !=
            target.selector_expression_keys.end()) {
        problems.push_back(fmt::format(
            "spec.leaderLabel.key: \"{}\" is used by the selector of {}; relabelling pods would orphan them", key,
            where));
    } else if (kube::find_label(target.template_labels, key) != nullptr) {
        problems.push_back(fmt::format(
            "spec.leaderLabel.key: \"{}\" is a pod template label of {}; elector and the Deployment would fight over it",
            key, where));
    }
    return problems;
}

}  // namespace elector::election
