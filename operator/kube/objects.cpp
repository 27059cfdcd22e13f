#include "kube/objects.hpp"

#include <algorithm>
#include <charconv>
#include <concepts>
#include <utility>

#include <fmt/format.h>

#include "kube/json_fields.hpp"

namespace elector::kube {

namespace {

constexpr std::string_view revision_annotation = "deployment.kubernetes.io/revision";

using namespace json_fields;

kube::labels as_labels(const json* j) {
    kube::labels out;
    if (j == nullptr || !j->is_object()) return out;
    out.reserve(j->size());
    // json objects are std::maps: the keys come out sorted already.
    for (const auto& [key, value] : j->items()) {
        if (value.is_string()) out.emplace_back(key, value.get<std::string>());
    }
    return out;
}

std::vector<std::string> as_strings(const json* j) {
    std::vector<std::string> out;
    if (j == nullptr || !j->is_array()) return out;
    for (const auto& item : *j) {
        if (item.is_string()) out.push_back(item.get<std::string>());
    }
    return out;
}

// The first condition of that type in a status.conditions array.
const json* find_condition(const json* conditions, std::string_view type) {
    if (conditions == nullptr || !conditions->is_array()) return nullptr;
    for (const auto& condition : *conditions) {
        const std::string* t = as_string(child(&condition, "type"));
        if (t != nullptr && *t == type) return &condition;
    }
    return nullptr;
}

// "True" or "False"; Unknown and anything else is nullopt.
std::optional<bool> condition_status(const json* condition) {
    const std::string* status = as_string(child(condition, "status"));
    if (status == nullptr) return std::nullopt;
    if (*status == "True") return true;
    if (*status == "False") return false;
    return std::nullopt;
}

// Digits only; anything else (or a number beyond int64) is 0.
std::int64_t parse_revision(const kube::labels& annotations) {
    const std::string* value = find_label(annotations, revision_annotation);
    if (value == nullptr || value->empty()) return 0;
    std::int64_t revision = 0;
    const char* end = value->data() + value->size();
    auto [ptr, ec] = std::from_chars(value->data(), end, revision);
    return ec == std::errc{} && ptr == end && revision >= 0 ? revision : 0;
}

std::expected<std::string, std::string> identity_field(const json& metadata, const char* key, std::string_view kind) {
    const std::string* value = as_string(child(&metadata, key));
    if (value == nullptr) return std::unexpected(fmt::format("{}: metadata.{} missing or not a string", kind, key));
    return *value;
}

std::vector<owner_reference> as_owner_references(const json* j) {
    std::vector<owner_reference> out;
    if (j == nullptr || !j->is_array()) return out;
    for (const auto& ref : *j) {
        if (!ref.is_object()) continue;
        out.push_back({
            .api_version = string_or(child(&ref, "apiVersion")),
            .kind = string_or(child(&ref, "kind")),
            .name = string_or(child(&ref, "name")),
            .uid = string_or(child(&ref, "uid")),
            .controller = bool_or(child(&ref, "controller"), false),
        });
    }
    return out;
}

const json& metadata_of(const json& object) {
    static const json absent;
    const json* metadata = child(&object, "metadata");
    return metadata != nullptr ? *metadata : absent;
}

// Kubelets write exactly one state; should several appear, the ones that say
// "not running" win.
void read_state(const json* state, container_status& out) {
    if (const json* terminated = child(state, "terminated"); terminated != nullptr && terminated->is_object()) {
        out.state = container_state::terminated;
        out.state_reason = string_or(child(terminated, "reason"));
    } else if (const json* waiting = child(state, "waiting"); waiting != nullptr && waiting->is_object()) {
        out.state = container_state::waiting;
        out.state_reason = string_or(child(waiting, "reason"));
    } else if (const json* running = child(state, "running"); running != nullptr && running->is_object()) {
        out.state = container_state::running;
    }
}

container_status as_container_status(const json& j) {
    container_status out;
    out.name = string_or(child(&j, "name"));
    out.ready = bool_or(child(&j, "ready"), false);
    out.restart_count = int_or<std::int32_t>(child(&j, "restartCount"), 0);
    read_state(child(&j, "state"), out);
    const json* last_terminated = at_path(&j, "lastState", "terminated");
    out.last_terminated = last_terminated != nullptr && last_terminated->is_object();
    if (out.last_terminated) out.last_terminated_at = as_time(child(last_terminated, "finishedAt"));
    return out;
}

// The statuses of the containers the pod declares (`containers`: its
// spec.containers; not an array: no filter). A kubelet reports exactly those:
// an entry for another name was written by someone else and describes nothing
// that runs, so it must not count as a crash or a restart.
std::vector<container_status> as_container_statuses(const json* j, const json* containers) {
    std::vector<container_status> out;
    if (j == nullptr || !j->is_array()) return out;
    const auto declared = [&](const std::string& name) {
        if (containers == nullptr || !containers->is_array()) return true;
        return std::any_of(containers->begin(), containers->end(), [&](const json& c) {
            const std::string* n = as_string(child(&c, "name"));
            return n != nullptr && *n == name;
        });
    };
    out.reserve(j->size());
    for (const auto& item : *j) {
        if (!item.is_object()) continue;
        auto status = as_container_status(item);
        if (declared(status.name)) out.push_back(std::move(status));
    }
    return out;
}

std::vector<taint> as_taints(const json* j) {
    std::vector<taint> out;
    if (j == nullptr || !j->is_array()) return out;
    for (const auto& item : *j) {
        if (!item.is_object()) continue;
        out.push_back({string_or(child(&item, "key")), string_or(child(&item, "effect"))});
    }
    return out;
}

json labels_to_json(const kube::labels& l) {
    json out = json::object();
    for (const auto& [key, value] : l) out[key] = value;
    return out;
}

json owner_references_to_json(const std::vector<owner_reference>& refs) {
    json out = json::array();
    for (const auto& ref : refs) {
        json j = {{"apiVersion", ref.api_version}, {"kind", ref.kind}, {"name", ref.name}, {"uid", ref.uid}};
        // Go's *bool with omitempty: false and absent mean the same.
        if (ref.controller) j["controller"] = true;
        out.push_back(std::move(j));
    }
    return out;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no
// overlong forms, surrogates or code points above U+10FFFF), 0 if there is none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) return 1;
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_min = 0xA0;
        if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_min = 0x90;
        if (lead == 0xF4) second_max = 0x8F;
    } else {
        return 0;
    }
    if (i + length > s.size() || byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
    for (std::size_t k = 2; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    return length;
}

// At most max_bytes of whole UTF-8 characters; invalid bytes become U+FFFD
// because nlohmann::json refuses to serialize invalid UTF-8.
std::string utf8_prefix(std::string_view s, std::size_t max_bytes) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(std::min(s.size(), max_bytes));
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t length = utf8_sequence_length(s, i);
        const std::string_view piece = length > 0 ? s.substr(i, length) : replacement;
        if (out.size() + piece.size() > max_bytes) break;
        out += piece;
        i += length > 0 ? length : 1;
    }
    return out;
}

json object_reference_to_json(const object_reference& ref) {
    json out = json::object();
    // ObjectReference's fields are all omitempty.
    const std::pair<const char*, const std::string*> fields[] = {
        {"apiVersion", &ref.api_version}, {"kind", &ref.kind}, {"name", &ref.name},
        {"namespace", &ref.namespace_},   {"uid", &ref.uid},   {"resourceVersion", &ref.resource_version},
    };
    for (const auto& [key, value] : fields) {
        if (!value->empty()) out[key] = *value;
    }
    return out;
}

}  // namespace

const std::string* find_label(const labels& l, std::string_view key) {
    auto it = std::lower_bound(l.begin(), l.end(), key,
                               [](const auto& entry, std::string_view k) { return std::string_view(entry.first) < k; });
    return it != l.end() && it->first == key ? &it->second : nullptr;
}

void sort_labels(labels& l) {
    std::stable_sort(l.begin(), l.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // Keep the last of each run of equal keys.
    const auto same_key = [](const auto& a, const auto& b) { return a.first == b.first; };
    auto last_of_run = std::unique(l.rbegin(), l.rend(), same_key);
    l.erase(l.begin(), last_of_run.base());
}

const owner_reference* object_meta::controller_owner() const {
    auto it = std::find_if(owner_references.begin(), owner_references.end(),
                           [](const owner_reference& ref) { return ref.controller; });
    return it != owner_references.end() ? &*it : nullptr;
}

std::expected<object_meta, std::string> object_meta::from_json(const json& metadata, std::string_view kind,
                                                               bool namespaced) {
    if (!metadata.is_object()) return std::unexpected(fmt::format("{}: metadata missing or not an object", kind));
    object_meta meta;
    auto name = identity_field(metadata, "name", kind);
    if (!name) return std::unexpected(std::move(name.error()));
    meta.name = std::move(*name);
    if (namespaced) {
        auto ns = identity_field(metadata, "namespace", kind);
        if (!ns) return std::unexpected(std::move(ns.error()));
        meta.namespace_ = std::move(*ns);
    }
    auto uid = identity_field(metadata, "uid", kind);
    if (!uid) return std::unexpected(std::move(uid.error()));
    meta.uid = std::move(*uid);
    auto resource_version = identity_field(metadata, "resourceVersion", kind);
    if (!resource_version) return std::unexpected(std::move(resource_version.error()));
    meta.resource_version = std::move(*resource_version);

    meta.generation = int_or<std::int64_t>(child(&metadata, "generation"), 0);
    meta.creation_timestamp = as_time(child(&metadata, "creationTimestamp"));
    meta.deletion_timestamp = as_time(child(&metadata, "deletionTimestamp"));
    meta.labels = as_labels(child(&metadata, "labels"));
    meta.annotations = as_labels(child(&metadata, "annotations"));
    meta.owner_references = as_owner_references(child(&metadata, "ownerReferences"));
    meta.finalizers = as_strings(child(&metadata, "finalizers"));
    return meta;
}

std::expected<pod, std::string> pod::from_json(const json& object) {
    auto meta = object_meta::from_json(metadata_of(object), "pod", true);
    if (!meta) return std::unexpected(std::move(meta.error()));
    pod p;
    p.meta = std::move(*meta);
    const json* spec = child(&object, "spec");
    const json* status = child(&object, "status");
    p.node_name = string_or(child(spec, "nodeName"));
    p.phase = string_or(child(status, "phase"));
    const json* ready = find_condition(child(status, "conditions"), "Ready");
    p.ready = condition_status(ready);
    if (p.ready == true) p.ready_since = as_time(child(ready, "lastTransitionTime"));
    p.pod_ip = string_or(child(status, "podIP"));
    p.start_time = as_time(child(status, "startTime"));
    p.containers = as_container_statuses(child(status, "containerStatuses"), child(spec, "containers"));
    return p;
}

std::expected<deployment, std::string> deployment::from_json(const json& object) {
    auto meta = object_meta::from_json(metadata_of(object), "deployment", true);
    if (!meta) return std::unexpected(std::move(meta.error()));
    deployment d;
    d.meta = std::move(*meta);
    const json* spec = child(&object, "spec");
    d.replicas = int_or<std::int32_t>(child(spec, "replicas"), 1);
    const json* selector = child(spec, "selector");
    d.selector_match_labels = as_labels(child(selector, "matchLabels"));
    const json* expressions = child(selector, "matchExpressions");
    d.has_match_expressions = expressions != nullptr && expressions->is_array() && !expressions->empty();
    if (d.has_match_expressions) {
        for (const auto& e : *expressions) {
            if (const std::string* key = as_string(child(&e, "key")); key != nullptr) d.selector_expression_keys.push_back(*key);
        }
    }
    d.template_labels = as_labels(at_path(spec, "template", "metadata", "labels"));
    d.min_ready_seconds = int_or<std::int32_t>(child(spec, "minReadySeconds"), 0);
    if (const std::string* type = as_string(at_path(spec, "strategy", "type")); type != nullptr && !type->empty()) {
        d.strategy_type = *type;
    }
    d.revision = parse_revision(d.meta.annotations);
    d.observed_generation = int_or<std::int64_t>(at_path(&object, "status", "observedGeneration"), 0);
    d.paused = bool_or(child(spec, "paused"), false);
    return d;
}

std::expected<replica_set, std::string> replica_set::from_json(const json& object) {
    auto meta = object_meta::from_json(metadata_of(object), "replicaset", true);
    if (!meta) return std::unexpected(std::move(meta.error()));
    replica_set rs;
    rs.meta = std::move(*meta);
    const json* spec = child(&object, "spec");
    rs.revision = parse_revision(rs.meta.annotations);
    rs.replicas = int_or<std::int32_t>(child(spec, "replicas"), 1);
    rs.template_labels = as_labels(at_path(spec, "template", "metadata", "labels"));
    return rs;
}

std::expected<node, std::string> node::from_json(const json& object) {
    auto meta = object_meta::from_json(metadata_of(object), "node", false);
    if (!meta) return std::unexpected(std::move(meta.error()));
    node n;
    n.meta = std::move(*meta);
    const json* spec = child(&object, "spec");
    n.ready = condition_status(find_condition(at_path(&object, "status", "conditions"), "Ready"));
    n.unschedulable = bool_or(child(spec, "unschedulable"), false);
    n.taints = as_taints(child(spec, "taints"));
    return n;
}

std::expected<lease, std::string> lease::from_json(const json& object) {
    auto meta = object_meta::from_json(metadata_of(object), "lease", true);
    if (!meta) return std::unexpected(std::move(meta.error()));
    lease l;
    l.meta = std::move(*meta);
    const json* spec = child(&object, "spec");
    l.holder_identity = string_or(child(spec, "holderIdentity"));
    l.lease_duration_seconds = int_or<std::int32_t>(child(spec, "leaseDurationSeconds"), 0);
    l.acquire_time = as_time(child(spec, "acquireTime"));
    l.renew_time = as_time(child(spec, "renewTime"));
    l.lease_transitions = int_or<std::int32_t>(child(spec, "leaseTransitions"), 0);
    return l;
}

json lease::to_json() const {
    json metadata = {{"name", meta.name}, {"namespace", meta.namespace_}};
    if (!meta.resource_version.empty()) metadata["resourceVersion"] = meta.resource_version;
    if (!meta.labels.empty()) metadata["labels"] = labels_to_json(meta.labels);
    if (!meta.annotations.empty()) metadata["annotations"] = labels_to_json(meta.annotations);
    if (!meta.owner_references.empty()) metadata["ownerReferences"] = owner_references_to_json(meta.owner_references);

    // client-go sets every field it owns, holderIdentity even when empty.
    json spec = {{"holderIdentity", holder_identity},
                 {"leaseDurationSeconds", lease_duration_seconds},
                 {"leaseTransitions", lease_transitions}};
    if (acquire_time) spec["acquireTime"] = format_micro_time(*acquire_time);
    if (renew_time) spec["renewTime"] = format_micro_time(*renew_time);

    return {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", std::move(metadata)},
            {"spec", std::move(spec)}};
}

json make_event(const event_spec& spec) {
    std::string ns = spec.namespace_;
    if (ns.empty()) ns = spec.involved.namespace_;
    // Events about cluster-scoped objects go to "default", as client-go's recorder does.
    if (ns.empty()) ns = "default";
    const std::string timestamp = format_time(spec.now);

    json event = json::object();
    event["apiVersion"] = "v1";
    event["kind"] = "Event";
    event["metadata"] = {{"generateName", spec.involved.name + "."}, {"namespace", ns}};
    event["involvedObject"] = object_reference_to_json(spec.involved);
    event["reason"] = spec.reason;
    event["message"] = utf8_prefix(spec.message, max_event_message_bytes);
    event["type"] = spec.type;
    event["source"] = {{"component", spec.reporting_controller}};
    event["firstTimestamp"] = timestamp;
    event["lastTimestamp"] = timestamp;
    event["count"] = spec.count;
    event["reportingComponent"] = spec.reporting_controller;
    event["reportingInstance"] = spec.reporting_instance;
    return event;
}

}  // namespace elector::kube
