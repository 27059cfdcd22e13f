#include "webhook/electiongroup.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "kube/json_fields.hpp"

namespace elector::webhook {

namespace {

using kube::json_fields::child;

// How long one problem or warning may be: values such as a huge name are
// quoted by the messages, and the API server passes them on to the user.
constexpr std::size_t max_problem_bytes = 1024;
constexpr std::size_t max_warning_bytes = 256;

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        if (!out.empty()) out += "; ";
        out += truncate_utf8(line, max_problem_bytes);
    }
    return out;
}

admission_response allow(const admission_request& r) { return admission_response{.uid = r.uid}; }

admission_response refuse(const admission_request& r, int code, std::string reason, std::string_view rejection,
                          std::string message) {
    return admission_response{.uid = r.uid,
                              .allowed = false,
                              .code = code,
                              .reason = std::move(reason),
                              .message = std::move(message),
                              .rejection = std::string(rejection)};
}

admission_response malformed(const admission_request& r, std::string message) {
    return refuse(r, 400, "BadRequest", rejections::malformed, std::move(message));
}

// A refusal for a request this webhook does not judge (wrong kind, unknown
// operation, object not an object), or nullopt.
std::optional<admission_response> refuse_unjudgeable(const admission_request& r) {
    if (r.group != election::api_group || r.kind != election::kind) {
        std::string what;
        if (r.group.empty() && r.version.empty() && r.kind.empty()) {
            what = "a request without request.kind";
        } else {
            what = fmt::format("{}/{} {}", r.group.empty() ? "core" : r.group, r.version, r.kind);
        }
        return refuse(r, 400, "BadRequest", rejections::wrong_kind,
                      fmt::format("this webhook judges {} {} objects only, not {}", election::api_group,
                                  election::kind, truncate_utf8(what, 256)));
    }
    if (r.operation == "DELETE" || r.operation == "CONNECT") return std::nullopt;
    if (r.operation != "CREATE" && r.operation != "UPDATE") {
        return malformed(r, fmt::format("request.operation: \"{}\" is not one of CREATE, UPDATE, DELETE, CONNECT",
                                        truncate_utf8(r.operation, 64)));
    }
    if (!r.object.is_object()) {
        return malformed(r, fmt::format("request.object: want an ElectionGroup, got {}",
                                        r.object.is_null() ? std::string("none") : std::string(r.object.type_name())));
    }
    if (r.operation == "UPDATE" && !r.old_object.is_object()) {
        return malformed(r, fmt::format("request.oldObject: want the ElectionGroup before the UPDATE, got {}",
                                        r.old_object.is_null() ? std::string("none")
                                                               : std::string(r.old_object.type_name())));
    }
    return std::nullopt;
}

// The problems with the types of spec fields election_group::from_json reads
// as absent when they are of the wrong type (it reports only durations and
// the policy and paused fields itself). null counts as absent.
std::vector<std::string> type_problems(const json& object) {
    std::vector<std::string> out;
    const json* spec = child(&object, "spec");
    if (spec == nullptr || spec->is_null()) {
        out.emplace_back("spec: required");
        return out;
    }
    if (!spec->is_object()) {
        out.push_back(fmt::format("spec: must be an object, not a {}", spec->type_name()));
        return out;
    }
    const auto want = [&](const json* parent, const char* key, std::string_view path, bool an_object) {
        const json* j = child(parent, key);
        if (j == nullptr || j->is_null()) return;
        if (an_object && !j->is_object()) out.push_back(fmt::format("{}: must be an object, not a {}", path, j->type_name()));
        if (!an_object && !j->is_string()) out.push_back(fmt::format("{}: must be a string, not a {}", path, j->type_name()));
    };
    want(spec, "targetRef", "spec.targetRef", true);
    const json* target = child(spec, "targetRef");
    want(target, "apiVersion", "spec.targetRef.apiVersion", false);
    want(target, "kind", "spec.targetRef.kind", false);
    want(target, "name", "spec.targetRef.name", false);
    want(spec, "leaderLabel", "spec.leaderLabel", true);
    const json* label = child(spec, "leaderLabel");
    want(label, "key", "spec.leaderLabel.key", false);
    want(label, "value", "spec.leaderLabel.value", false);
    want(spec, "leaseName", "spec.leaseName", false);
    want(spec, "notReadyPolicy", "spec.notReadyPolicy", false);
    want(spec, "preferredLeader", "spec.preferredLeader", false);
    return out;
}

// The field path a problem starts with ("spec.leaseDuration: ...").
std::string_view path_of(std::string_view problem) { return problem.substr(0, problem.find(':')); }

bool path_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.'; }

// Whether `problem` names the field `path` (not merely a longer one).
bool mentions(std::string_view problem, std::string_view path) {
    for (auto at = problem.find(path); at != std::string_view::npos; at = problem.find(path, at + 1)) {
        const auto end = at + path.size();
        if ((at == 0 || !path_char(problem[at - 1])) && (end == problem.size() || !path_char(problem[end]))) return true;
    }
    return false;
}

// Whether a problem of election::validate() is about a field already
// reported as unreadable: it then judged the field's default, not what the
// user wrote.
bool about_unreadable(std::string_view problem, const std::vector<std::string>& unreadable) {
    const auto p = path_of(problem);
    return std::any_of(unreadable.begin(), unreadable.end(), [&](const std::string& line) {
        const auto b = path_of(line);
        return p == b || (b.size() > p.size() && b.starts_with(p) && b[p.size()] == '.') ||
               (p.size() > b.size() && p.starts_with(b) && p[b.size()] == '.') || mentions(problem, b);
    });
}

bool has_lease_name(const json& object) {
    const std::string* name = kube::json_fields::as_string(kube::json_fields::at_path(&object, "spec", "leaseName"));
    return name != nullptr && !name->empty();
}

// The spec's own problems: types, unreadable fields, then election::validate().
std::vector<std::string> spec_problems(const json& object, const election::election_group& g) {
    std::vector<std::string> out = type_problems(object);
    out.insert(out.end(), g.spec_errors.begin(), g.spec_errors.end());
    const std::vector<std::string> unreadable = out;
    // Without a name (generateName on CREATE) the lease name is not known
    // yet: elector defaults it to the generated name.
    const bool lease_name_unknown = g.meta.name.empty() && !has_lease_name(object);
    for (auto& problem : election::validate(g.spec)) {
        if (about_unreadable(problem, unreadable)) continue;
        if (lease_name_unknown && path_of(problem) == "spec.leaseName") continue;
        out.push_back(std::move(problem));
    }
    return out;
}

std::string describe_target(const election::target_ref& t, bool with_api_version) {
    return with_api_version ? fmt::format("{} {} {}", t.api_version, t.kind, t.name) : fmt::format("{} {}", t.kind, t.name);
}

std::vector<std::string> immutable_problems(const election::election_group& now, const election::election_group& was) {
    std::vector<std::string> out;
    const auto& a = was.spec.target;
    const auto& b = now.spec.target;
    if (a.api_version != b.api_version || a.kind != b.kind || a.name != b.name) {
        const bool versions = a.api_version != b.api_version;
        out.push_back(fmt::format("spec.targetRef: field is immutable (was {}, now {})", describe_target(a, versions),
                                  describe_target(b, versions)));
    }
    // from_json gives the effective name: leaseName, or the group's name.
    if (was.spec.lease_name != now.spec.lease_name) {
        out.push_back(fmt::format("spec.leaseName: field is immutable (was {}, now {})", was.spec.lease_name,
                                  now.spec.lease_name));
    }
    return out;
}

std::vector<std::string> duplicate_problems(const election::election_group& g, const cluster_view& view) {
    std::vector<std::string> out;
    if (g.spec.target.name.empty()) return out;
    std::vector<const election::election_group*> same;
    for (const auto& other : view.others) {
        if (other.meta.deletion_timestamp) continue;
        if (!g.meta.name.empty() && other.meta.name == g.meta.name) continue;  // the group itself
        if (!g.meta.namespace_.empty() && !other.meta.namespace_.empty() && other.meta.namespace_ != g.meta.namespace_)
            continue;
        const auto& t = other.spec.target;
        if (t.api_version == g.spec.target.api_version && t.kind == g.spec.target.kind &&
            t.name == g.spec.target.name && other.spec.leader_label_key == g.spec.leader_label_key) {
            same.push_back(&other);
        }
    }
    std::sort(same.begin(), same.end(), [](const auto* x, const auto* y) { return x->meta.name < y->meta.name; });
    for (const auto* other : same) {
        out.push_back(fmt::format(
            "spec.targetRef.name: {} {} is already elected by ElectionGroup {}/{} with the same leader label key {}",
            g.spec.target.kind, g.spec.target.name, other->meta.namespace_, other->meta.name, g.spec.leader_label_key));
    }
    return out;
}

// The spec with leaseName taken out, to compare the rest.
json spec_without_lease_name(const json& object) {
    const json* spec = child(&object, "spec");
    if (spec == nullptr) return nullptr;
    json copy = *spec;
    if (copy.is_object()) copy.erase("leaseName");
    return copy;
}

}  // namespace

std::expected<election::election_group, std::string> group_of(const admission_request& r, const json& object) {
    if (!object.is_object()) return std::unexpected(fmt::format("want an ElectionGroup, got a JSON {}", object.type_name()));
    json copy = object;
    json& metadata = copy["metadata"];
    if (metadata.is_null()) metadata = json::object();
    if (!metadata.is_object()) {
        return std::unexpected(fmt::format("metadata: want an object, got a JSON {}", metadata.type_name()));
    }
    const auto fill = [&](const char* key, const std::string& fallback) {
        auto it = metadata.find(key);
        if (it == metadata.end() || it->is_null()) metadata[key] = fallback;
    };
    fill("name", r.name);
    fill("namespace", r.ns);
    fill("uid", "");
    fill("resourceVersion", "");
    return election::election_group::from_json(copy);
}

admission_response validate(const admission_request& r, const cluster_view& view) {
    if (auto refused = refuse_unjudgeable(r)) return std::move(*refused);
    if (r.operation != "CREATE" && r.operation != "UPDATE") return allow(r);

    auto g = group_of(r, r.object);
    if (!g) return malformed(r, "request.object: " + g.error());
    std::optional<election::election_group> was;
    if (r.operation == "UPDATE") {
        auto old = group_of(r, r.old_object);
        if (!old) return malformed(r, "request.oldObject: " + old.error());
        was = std::move(*old);
    }

    std::vector<std::string> immutable;
    if (was) immutable = immutable_problems(*g, *was);
    const std::vector<std::string> invalid = spec_problems(r.object, *g);
    std::vector<std::string> conflicts;
    if (view.target) conflicts = election::validate_against(g->spec, *view.target);
    std::vector<std::string> duplicates;
    if (!was || was->spec.target.name != g->spec.target.name ||
        was->spec.leader_label_key != g->spec.leader_label_key) {
        duplicates = duplicate_problems(*g, view);
    }

    admission_response answer = allow(r);
    const auto& target = g->spec.target;
    if (!view.target && election::is_dns_subdomain(target.name)) {
        answer.warnings.push_back(truncate_utf8(
            fmt::format("spec.targetRef.name: {} {} not found in namespace {}; elector elects a leader once it exists",
                        target.kind, target.name, g->meta.namespace_),
            max_warning_bytes));
    }

    std::vector<std::string> problems;
    std::string_view rejection;
    using category = std::pair<const std::vector<std::string>*, std::string_view>;
    for (const auto& [lines, kind] : {category{&immutable, rejections::immutable_field},
                                      category{&invalid, rejections::invalid_spec},
                                      category{&conflicts, rejections::label_conflict},
                                      category{&duplicates, rejections::duplicate_target}}) {
        if (lines->empty()) continue;
        if (rejection.empty()) rejection = kind;
        problems.insert(problems.end(), lines->begin(), lines->end());
    }
    if (problems.empty()) return answer;

    if (was && g->spec.lease_name == was->spec.lease_name &&
        spec_without_lease_name(r.object) == spec_without_lease_name(r.old_object)) {
        answer.warnings.push_back(
            truncate_utf8("spec not changed, still invalid (fix it to let elector run the group): " + joined(problems),
                          max_warning_bytes));
        return answer;
    }
    // 403 Forbidden, as controller-runtime's admission.Denied: kubectl (1.20
    // at least) shows a 422 "Invalid" without causes as only "The request is
    // invalid", hiding the message.
    return refuse(r, 403, "Forbidden", rejection, joined(problems));
}

admission_response mutate(const admission_request& r) {
    if (auto refused = refuse_unjudgeable(r)) return std::move(*refused);
    if (r.operation != "CREATE" && r.operation != "UPDATE") return allow(r);
    admission_response answer = allow(r);

    const json* spec = child(&r.object, "spec");
    const bool no_spec = spec == nullptr || spec->is_null();
    if (!no_spec && !spec->is_object()) return answer;  // validation refuses it
    if (!no_spec) {
        const json* lease_name = child(spec, "leaseName");
        const std::string* text = kube::json_fields::as_string(lease_name);
        if (lease_name != nullptr && !lease_name->is_null() && !(text != nullptr && text->empty())) {
            return answer;  // set (a value of the wrong type is validation's)
        }
    }
    // On UPDATE the lease name is immutable: default it only where it was defaulted before.
    if (r.operation == "UPDATE" && has_lease_name(r.old_object)) return answer;

    std::string name = kube::json_fields::string_or(kube::json_fields::at_path(&r.object, "metadata", "name"));
    if (name.empty()) name = r.name;
    if (name.empty()) return answer;  // generateName: not known yet

    answer.patch = json::array();
    if (no_spec) answer.patch.push_back({{"op", "add"}, {"path", "/spec"}, {"value", json::object()}});
    answer.patch.push_back({{"op", "add"}, {"path", "/spec/" + json_pointer_escape("leaseName")}, {"value", name}});
    return answer;
}

}  // namespace elector::webhook
