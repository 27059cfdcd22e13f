#include "webhook/electiongroup.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace elector::webhook {
namespace {

// The world: namespace "shop", Deployment "web" (selector app=web, pod
// template labels app=web and tier=frontend), the group "db" under review.

json group_object(json spec, std::string name = "db") {
    json metadata = {{"namespace", "shop"}};
    if (!name.empty()) metadata["name"] = std::move(name);
    json object = {{"apiVersion", "elector.dev/v1alpha1"}, {"kind", "ElectionGroup"}, {"metadata", metadata}};
    if (!spec.is_null()) object["spec"] = std::move(spec);
    return object;
}

json web_spec() { return json{{"targetRef", {{"name", "web"}}}}; }

// As the API server sends it on CREATE: no uid nor resourceVersion yet.
admission_request create(json object) {
    admission_request r;
    r.uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
    r.group = "elector.dev";
    r.version = "v1alpha1";
    r.kind = "ElectionGroup";
    r.operation = "CREATE";
    r.ns = "shop";
    if (const auto it = object.find("metadata"); it != object.end() && it->is_object()) {
        if (const auto name = it->find("name"); name != it->end() && name->is_string()) r.name = *name;
    }
    r.object = std::move(object);
    return r;
}

// The stored object as it comes back as oldObject: with its identity.
json stored(json object) {
    object["metadata"]["uid"] = "0c1d2e3f";
    object["metadata"]["resourceVersion"] = "41";
    object["metadata"]["generation"] = 1;
    return object;
}

admission_request update(json object, json old) {
    admission_request r = create(stored(std::move(object)));
    r.operation = "UPDATE";
    r.old_object = stored(std::move(old));
    return r;
}

kube::deployment web_deployment() {
    auto d = kube::deployment::from_json(json::parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "namespace": "shop", "uid": "d-1", "resourceVersion": "7"},
      "spec": {"replicas": 3,
               "selector": {"matchLabels": {"app": "web"},
                            "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable"]}]},
               "template": {"metadata": {"labels": {"app": "web", "tier": "frontend", "track": "stable"}}}}
    })"));
    if (!d) throw std::runtime_error(d.error());
    return std::move(*d);
}

cluster_view with_target() { return cluster_view{.target = web_deployment(), .others = {}}; }

election::election_group other_group(std::string name, std::string target, std::string key = "role",
                                     bool deleting = false) {
    json object = group_object(json{{"targetRef", {{"name", std::move(target)}}}, {"leaderLabel", {{"key", key}}}},
                               std::move(name));
    object = stored(std::move(object));
    if (deleting) object["metadata"]["deletionTimestamp"] = "2026-11-21T10:00:00Z";
    auto g = election::election_group::from_json(object);
    if (!g) throw std::runtime_error(g.error());
    return std::move(*g);
}

// The problems of a refusal: the "; "-separated parts that start with a
// field path (a problem's own text may contain "; ").
std::vector<std::string> problems_of(const admission_response& a) {
    std::vector<std::string> out;
    std::string_view m = a.message;
    while (!m.empty()) {
        const auto cut = m.find("; ");
        const auto part = m.substr(0, cut);
        if (part.starts_with("spec")) out.emplace_back(part);
        else if (!out.empty()) out.back() += "; " + std::string(part);
        if (cut == std::string_view::npos) break;
        m.remove_prefix(cut + 2);
    }
    return out;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

void expect_allowed(const admission_response& a, std::string_view what) {
    EXPECT_TRUE(a.allowed) << what << ": " << a.message;
    EXPECT_EQ(a.rejection, "") << what;
    EXPECT_EQ(a.message, "") << what;
}

// ---------------------------------------------------------------- good specs

TEST(webhook_validate, good_specs_are_allowed) {
    const std::vector<std::pair<const char*, json>> good = {
        {"minimal", web_spec()},
        {"as the CRD schema defaults it",
         json::parse(R"({"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "leaseDuration": "15s", "renewDeadline": "10s", "retryPeriod": "2s",
                         "leaderLabel": {"key": "role", "value": "leader"},
                         "notReadyPolicy": "WaitForLeaseExpiry", "paused": false})")},
        {"every field", json::parse(R"({"targetRef": {"name": "web"}, "leaseDuration": "20s", "renewDeadline": "12s",
                                        "retryPeriod": "3s", "leaderLabel": {"key": "elector.dev/role", "value": "primary"},
                                        "leaseName": "db-lease", "notReadyPolicy": "Immediate",
                                        "preferredLeader": "web-5c9f8d7b6-q7m2p", "paused": true})")},
        {"shortest bounds", json::parse(R"({"targetRef": {"name": "web"}, "leaseDuration": "1s",
                                            "renewDeadline": "500ms", "retryPeriod": "400ms"})")},
        {"longest bounds", json::parse(R"({"targetRef": {"name": "web"}, "leaseDuration": "1h",
                                           "renewDeadline": "59m59s", "retryPeriod": "2s"})")},
        {"renewDeadline just over 1.2 x retryPeriod",
         json::parse(R"({"targetRef": {"name": "web"}, "leaseDuration": "2s", "renewDeadline": "1201ms",
                         "retryPeriod": "1s"})")},
        {"empty leaseName (the group's name)", json::parse(R"({"targetRef": {"name": "web"}, "leaseName": ""})")},
        {"nulls are absent", json::parse(R"({"targetRef": {"name": "web"}, "leaseName": null, "leaderLabel": null,
                                             "paused": null})")},
        {"unknown fields are the schema's business", json::parse(R"({"targetRef": {"name": "web"}, "extra": 1})")},
        {"a different leader label key", json::parse(R"({"targetRef": {"name": "web"},
                                                         "leaderLabel": {"key": "example.com/leader"}})")},
    };
    for (const auto& [what, spec] : good) {
        const auto a = validate(create(group_object(spec)), with_target());
        expect_allowed(a, what);
        EXPECT_EQ(a.uid, "705ab4f5-6393-11e8-b7cc-42010a800002") << what;
        EXPECT_TRUE(a.warnings.empty()) << what << ": " << a.warnings.front();
        EXPECT_TRUE(a.patch.is_null()) << what;
    }
}

// ---------------------------------------------------------------- bad specs

struct bad_case {
    const char* what;
    json spec;            // merged over web_spec()
    const char* path;     // the first problem's field path
    const char* needle;   // in the message
    std::size_t count;    // problems in all
};

TEST(webhook_validate, each_bad_field_is_refused_with_its_path) {
    const std::vector<bad_case> bad = {
        {"target kind", {{"targetRef", {{"name", "web"}, {"kind", "StatefulSet"}}}}, "spec.targetRef", "StatefulSet", 1},
        {"target apiVersion", {{"targetRef", {{"name", "web"}, {"apiVersion", "apps/v1beta2"}}}}, "spec.targetRef",
         "apps/v1beta2", 1},
        {"target name empty", {{"targetRef", {{"name", ""}}}}, "spec.targetRef.name", "required", 1},
        {"target name missing", {{"targetRef", {{"name", nullptr}}}}, "spec.targetRef.name", "required", 1},
        {"target name not DNS-1123", {{"targetRef", {{"name", "Web_1"}}}}, "spec.targetRef.name", "Web_1", 1},
        {"target name a number", {{"targetRef", {{"name", 5}}}}, "spec.targetRef.name", "must be a string", 1},
        {"targetRef a string", {{"targetRef", "web"}}, "spec.targetRef", "must be an object", 1},
        {"leaseDuration unparsable", {{"leaseDuration", "soon"}}, "spec.leaseDuration", "want a duration", 1},
        {"leaseDuration a number", {{"leaseDuration", 15}}, "spec.leaseDuration", "duration string", 1},
        {"leaseDuration negative", {{"leaseDuration", "-15s"}}, "spec.leaseDuration", "negative", 1},
        {"leaseDuration zero", {{"leaseDuration", "0s"}}, "spec.leaseDuration", "between 1s and 1h", 2},
        {"leaseDuration not whole seconds", {{"leaseDuration", "15500ms"}}, "spec.leaseDuration", "whole seconds", 1},
        {"leaseDuration over 1h", {{"leaseDuration", "61m"}}, "spec.leaseDuration", "between 1s and 1h", 1},
        {"renewDeadline equal to leaseDuration", {{"renewDeadline", "15s"}}, "spec.renewDeadline",
         "less than spec.leaseDuration", 1},
        {"renewDeadline exactly 1.2 x retryPeriod", {{"renewDeadline", "2400ms"}}, "spec.renewDeadline",
         "1.2 x spec.retryPeriod", 1},
        {"renewDeadline zero", {{"renewDeadline", "0s"}}, "spec.renewDeadline", "1.2 x", 1},
        {"retryPeriod too short", {{"retryPeriod", "50ms"}}, "spec.retryPeriod", "at least 100ms", 1},
        {"leader label key", {{"leaderLabel", {{"key", "bad key"}}}}, "spec.leaderLabel.key", "bad key", 1},
        {"leader label key two slashes", {{"leaderLabel", {{"key", "a/b/c"}}}}, "spec.leaderLabel.key", "a/b/c", 1},
        {"leader label value", {{"leaderLabel", {{"value", "lead er!"}}}}, "spec.leaderLabel.value", "lead er!", 1},
        {"leader label value empty", {{"leaderLabel", {{"value", ""}}}}, "spec.leaderLabel.value", "non-empty", 1},
        {"leader label key a number", {{"leaderLabel", {{"key", 1}}}}, "spec.leaderLabel.key", "must be a string", 1},
        {"leaderLabel a string", {{"leaderLabel", "role=leader"}}, "spec.leaderLabel", "must be an object", 1},
        {"leaseName", {{"leaseName", "Lease_1"}}, "spec.leaseName", "Lease_1", 1},
        {"leaseName a bool", {{"leaseName", true}}, "spec.leaseName", "must be a string", 1},
        {"preferredLeader", {{"preferredLeader", "Pod!"}}, "spec.preferredLeader", "valid pod name", 1},
        {"preferredLeader a number", {{"preferredLeader", 3}}, "spec.preferredLeader", "must be a string", 1},
        {"notReadyPolicy", {{"notReadyPolicy", "Sometimes"}}, "spec.notReadyPolicy", "Sometimes", 1},
        {"notReadyPolicy a number", {{"notReadyPolicy", 1}}, "spec.notReadyPolicy", "must be a string", 1},
        {"paused a string", {{"paused", "yes"}}, "spec.paused", "true or false", 1},
    };
    for (const auto& c : bad) {
        json spec = web_spec();
        spec.merge_patch(c.spec);
        const auto a = validate(create(group_object(spec)), with_target());
        EXPECT_FALSE(a.allowed) << c.what;
        EXPECT_EQ(a.code, 403) << c.what;
        EXPECT_EQ(a.reason, "Forbidden") << c.what;
        EXPECT_EQ(a.rejection, "invalid_spec") << c.what;
        EXPECT_EQ(a.uid, "705ab4f5-6393-11e8-b7cc-42010a800002") << c.what;
        EXPECT_TRUE(a.patch.is_null()) << c.what;
        const auto problems = problems_of(a);
        ASSERT_FALSE(problems.empty()) << c.what << ": " << a.message;
        EXPECT_TRUE(problems.front().starts_with(std::string(c.path) + ":")) << c.what << ": " << a.message;
        EXPECT_TRUE(contains(a.message, c.needle)) << c.what << ": " << a.message;
        EXPECT_EQ(problems.size(), c.count) << c.what << ": " << a.message;
    }
}

TEST(webhook_validate, spec_missing_or_not_an_object) {
    auto a = validate(create(group_object(nullptr)), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.rejection, "invalid_spec");
    EXPECT_TRUE(a.message.starts_with("spec: required")) << a.message;
    a = validate(create(group_object("web")), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_TRUE(a.message.starts_with("spec: must be an object")) << a.message;
}

TEST(webhook_validate, every_problem_at_once_in_a_stable_order) {
    json spec = json::parse(R"({"targetRef": {"kind": "StatefulSet", "name": "Web_1"}, "leaseDuration": "soon",
                                "retryPeriod": "50ms", "leaderLabel": {"key": "bad key", "value": "x y"},
                                "preferredLeader": "Pod!", "notReadyPolicy": "Never"})");
    const auto a = validate(create(group_object(spec)), with_target());
    ASSERT_FALSE(a.allowed);
    const auto problems = problems_of(a);
    std::vector<std::string> paths;
    for (const auto& p : problems) paths.push_back(p.substr(0, p.find(':')));
    // Unreadable fields first (as from_json reads the spec), then validate()'s order.
    EXPECT_EQ(paths, (std::vector<std::string>{"spec.leaseDuration", "spec.notReadyPolicy", "spec.targetRef",
                                               "spec.targetRef.name", "spec.retryPeriod", "spec.leaderLabel.key",
                                               "spec.leaderLabel.value", "spec.preferredLeader"}))
        << a.message;
    // The same request gets the same answer.
    EXPECT_EQ(validate(create(group_object(spec)), with_target()).message, a.message);
}

TEST(webhook_validate, an_unreadable_duration_is_not_judged_by_its_default) {
    // leaseDuration does not parse: comparing renewDeadline with the 15s
    // default would blame a field the user may have right.
    json spec = web_spec();
    spec["leaseDuration"] = "20 seconds";
    spec["renewDeadline"] = "18s";
    const auto a = validate(create(group_object(spec)), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(problems_of(a).size(), 1U) << a.message;
    EXPECT_TRUE(a.message.starts_with("spec.leaseDuration:")) << a.message;
    EXPECT_FALSE(contains(a.message, "spec.renewDeadline")) << a.message;
}

TEST(webhook_validate, generate_name_does_not_need_a_lease_name) {
    json object = group_object(web_spec(), "");
    object["metadata"]["generateName"] = "db-";
    expect_allowed(validate(create(object), with_target()), "generateName");
    object["spec"]["leaseName"] = "Bad_Lease";
    const auto a = validate(create(object), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_TRUE(a.message.starts_with("spec.leaseName:")) << a.message;
}

TEST(webhook_validate, huge_strings_give_a_bounded_message) {
    json spec = web_spec();
    spec["targetRef"]["name"] = std::string(1 << 20, 'W');
    spec["leaderLabel"] = {{"key", std::string(1 << 20, '!')}, {"value", std::string(1 << 20, '?')}};
    spec["preferredLeader"] = std::string(1 << 20, 'P');
    admission_response a;
    ASSERT_NO_THROW(a = validate(create(group_object(spec)), with_target()));
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.rejection, "invalid_spec");
    EXPECT_LT(a.message.size(), 8000U);
    EXPECT_TRUE(a.message.starts_with("spec.targetRef.name:")) << a.message.substr(0, 200);
    EXPECT_TRUE(contains(a.message, "; spec.leaderLabel.key:"));
    EXPECT_TRUE(contains(a.message, "; spec.leaderLabel.value:"));
    EXPECT_TRUE(contains(a.message, "; spec.preferredLeader:"));
}

// ---------------------------------------------------------------- the target

TEST(webhook_validate, missing_target_is_a_warning_not_an_error) {
    const auto a = validate(create(group_object(web_spec())), cluster_view{});
    expect_allowed(a, "no Deployment");
    ASSERT_EQ(a.warnings.size(), 1U);
    EXPECT_TRUE(a.warnings.front().starts_with("spec.targetRef.name: Deployment web not found in namespace shop"))
        << a.warnings.front();
}

TEST(webhook_validate, leader_label_key_used_by_the_target_is_a_label_conflict) {
    for (const char* key : {"app", "track", "tier"}) {
        json spec = web_spec();
        spec["leaderLabel"] = {{"key", key}};
        const auto a = validate(create(group_object(spec)), with_target());
        EXPECT_FALSE(a.allowed) << key;
        EXPECT_EQ(a.code, 403) << key;
        EXPECT_EQ(a.rejection, "label_conflict") << key;
        EXPECT_TRUE(a.message.starts_with(fmt::format("spec.leaderLabel.key: \"{}\"", key))) << a.message;
        EXPECT_TRUE(contains(a.message, "Deployment web")) << a.message;
        EXPECT_EQ(problems_of(a).size(), 1U) << a.message;
        // Without the Deployment nothing can be said about its labels.
        EXPECT_TRUE(validate(create(group_object(spec)), cluster_view{}).allowed) << key;
    }
}

TEST(webhook_validate, several_kinds_of_problem_the_first_names_the_rejection) {
    json spec = web_spec();
    spec["leaderLabel"] = {{"key", "app"}};
    spec["retryPeriod"] = "10ms";
    cluster_view view = with_target();
    view.others.push_back(other_group("api", "web", "app"));
    const auto a = validate(create(group_object(spec)), view);
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.rejection, "invalid_spec");
    const auto problems = problems_of(a);
    ASSERT_EQ(problems.size(), 3U) << a.message;
    EXPECT_TRUE(problems[0].starts_with("spec.retryPeriod:")) << a.message;
    EXPECT_TRUE(problems[1].starts_with("spec.leaderLabel.key:")) << a.message;
    EXPECT_TRUE(problems[2].starts_with("spec.targetRef.name: Deployment web is already elected")) << a.message;
}

// ---------------------------------------------------------------- duplicates

TEST(webhook_validate, second_group_with_the_same_target_and_key_is_refused) {
    cluster_view view = with_target();
    view.others.push_back(other_group("cache", "redis"));
    view.others.push_back(other_group("web-leader", "web"));
    const auto a = validate(create(group_object(web_spec())), view);
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.code, 403);
    EXPECT_EQ(a.rejection, "duplicate_target");
    EXPECT_EQ(a.message,
              "spec.targetRef.name: Deployment web is already elected by ElectionGroup shop/web-leader with the same "
              "leader label key role");
}

TEST(webhook_validate, every_duplicate_is_named_in_name_order) {
    cluster_view view = with_target();
    view.others.push_back(other_group("zeta", "web"));
    view.others.push_back(other_group("alpha", "web"));
    const auto a = validate(create(group_object(web_spec())), view);
    const auto problems = problems_of(a);
    ASSERT_EQ(problems.size(), 2U) << a.message;
    EXPECT_TRUE(contains(problems[0], "shop/alpha")) << a.message;
    EXPECT_TRUE(contains(problems[1], "shop/zeta")) << a.message;
}

TEST(webhook_validate, same_target_with_a_different_key_is_allowed) {
    cluster_view view = with_target();
    view.others.push_back(other_group("web-leader", "web", "elector.dev/role"));
    expect_allowed(validate(create(group_object(web_spec())), view), "different key");
    // And the other way round.
    json spec = web_spec();
    spec["leaderLabel"] = {{"key", "elector.dev/role"}};
    view.others = {other_group("web-leader", "web", "role")};
    expect_allowed(validate(create(group_object(spec)), view), "different key, reversed");
}

TEST(webhook_validate, a_group_being_deleted_or_the_group_itself_is_no_duplicate) {
    cluster_view view = with_target();
    view.others.push_back(other_group("old", "web", "role", true));
    view.others.push_back(other_group("db", "web"));  // the group itself, should the server pass it
    expect_allowed(validate(create(group_object(web_spec())), view), "deleting / itself");
}

TEST(webhook_validate, update_checks_duplicates_only_when_target_or_key_changes) {
    cluster_view view = with_target();
    view.others.push_back(other_group("twin", "web"));
    // Already a duplicate (a race the controller handles): pausing it is allowed.
    json paused = web_spec();
    paused["paused"] = true;
    expect_allowed(validate(update(group_object(paused), group_object(web_spec())), view), "pause a duplicate");
    // Changing the key to the twin's is refused.
    json mine = web_spec();
    mine["leaderLabel"] = {{"key", "elector.dev/role"}};
    const auto a = validate(update(group_object(web_spec()), group_object(mine)), view);
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.rejection, "duplicate_target");
    EXPECT_TRUE(contains(a.message, "shop/twin")) << a.message;
}

// ---------------------------------------------------------------- UPDATE

TEST(webhook_validate, target_ref_is_immutable) {
    json api = web_spec();
    api["targetRef"]["name"] = "api";
    const auto a = validate(update(group_object(api), group_object(web_spec())), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.code, 403);
    EXPECT_EQ(a.rejection, "immutable_field");
    EXPECT_EQ(a.message, "spec.targetRef: field is immutable (was Deployment web, now Deployment api)");

    json v1beta2 = web_spec();
    v1beta2["targetRef"]["apiVersion"] = "apps/v1beta2";
    const auto b = validate(update(group_object(v1beta2), group_object(web_spec())), with_target());
    EXPECT_EQ(b.rejection, "immutable_field");
    EXPECT_TRUE(b.message.starts_with(
        "spec.targetRef: field is immutable (was apps/v1 Deployment web, now apps/v1beta2 Deployment web)"))
        << b.message;
    EXPECT_TRUE(contains(b.message, "; spec.targetRef: apps/v1beta2 Deployment is not supported")) << b.message;
}

TEST(webhook_validate, effective_lease_name_is_immutable) {
    json named = web_spec();
    named["leaseName"] = "db";
    // Absent means the group's name: writing it out changes nothing.
    expect_allowed(validate(update(group_object(named), group_object(web_spec())), with_target()), "absent -> db");
    expect_allowed(validate(update(group_object(web_spec()), group_object(named)), with_target()), "db -> absent");

    json other = web_spec();
    other["leaseName"] = "db-lease";
    auto a = validate(update(group_object(other), group_object(web_spec())), with_target());
    EXPECT_FALSE(a.allowed);
    EXPECT_EQ(a.rejection, "immutable_field");
    EXPECT_EQ(a.message, "spec.leaseName: field is immutable (was db, now db-lease)");

    a = validate(update(group_object(web_spec()), group_object(other)), with_target());
    EXPECT_EQ(a.rejection, "immutable_field");
    EXPECT_EQ(a.message, "spec.leaseName: field is immutable (was db-lease, now db)");
}

TEST(webhook_validate, other_fields_may_change) {
    json changed = web_spec();
    changed["leaseDuration"] = "30s";
    changed["renewDeadline"] = "20s";
    changed["preferredLeader"] = "web-abc-123";
    changed["notReadyPolicy"] = "Immediate";
    changed["leaderLabel"] = {{"key", "elector.dev/role"}, {"value", "primary"}};
    expect_allowed(validate(update(group_object(changed), group_object(web_spec())), with_target()), "update");
}

TEST(webhook_validate, immutable_and_invalid_together) {
    json bad = web_spec();
    bad["targetRef"]["name"] = "Api_2";
    bad["retryPeriod"] = "1ms";
    const auto a = validate(update(group_object(bad), group_object(web_spec())), with_target());
    EXPECT_EQ(a.rejection, "immutable_field");
    const auto problems = problems_of(a);
    ASSERT_EQ(problems.size(), 3U) << a.message;
    EXPECT_TRUE(problems[0].starts_with("spec.targetRef: field is immutable")) << a.message;
    EXPECT_TRUE(problems[1].starts_with("spec.targetRef.name:")) << a.message;
    EXPECT_TRUE(problems[2].starts_with("spec.retryPeriod:")) << a.message;
}

TEST(webhook_validate, an_unchanged_invalid_spec_does_not_block_metadata_updates) {
    // Written before the webhook existed; elector adds its finalizer, a user a label.
    json invalid = web_spec();
    invalid["retryPeriod"] = "10ms";
    json labelled = stored(group_object(invalid));
    labelled["metadata"]["labels"] = {{"team", "db"}};
    labelled["metadata"]["finalizers"] = {"elector.dev/finalizer"};
    admission_request r = update(group_object(invalid), group_object(invalid));
    r.object = labelled;
    const auto a = validate(r, with_target());
    expect_allowed(a, "metadata only");
    ASSERT_EQ(a.warnings.size(), 1U);
    EXPECT_TRUE(contains(a.warnings.front(), "spec.retryPeriod")) << a.warnings.front();
    // The mutating webhook's leaseName on UPDATE leaves the spec the same.
    r.object["spec"]["leaseName"] = "db";
    expect_allowed(validate(r, with_target()), "metadata and defaulted leaseName");
    // A change to an invalid spec is judged.
    r.object["spec"]["paused"] = true;
    const auto b = validate(r, with_target());
    EXPECT_FALSE(b.allowed);
    EXPECT_EQ(b.rejection, "invalid_spec");
}

// ---------------------------------------------------------------- operations, kinds, malformed

TEST(webhook_validate, delete_and_connect_are_allowed) {
    for (const char* op : {"DELETE", "CONNECT"}) {
        admission_request r = create(nullptr);
        r.operation = op;
        r.old_object = stored(group_object(web_spec()));
        expect_allowed(validate(r, cluster_view{}), op);
        expect_allowed(mutate(r), op);
        EXPECT_TRUE(mutate(r).patch.is_null()) << op;
        r.old_object = "garbage";
        expect_allowed(validate(r, cluster_view{}), op);
    }
}

TEST(webhook_validate, wrong_kind_is_refused_naming_what_came) {
    admission_request r = create(json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}});
    r.group = "apps";
    r.version = "v1";
    r.kind = "Deployment";
    for (const auto& a : {validate(r, with_target()), mutate(r)}) {
        EXPECT_FALSE(a.allowed);
        EXPECT_EQ(a.code, 400);
        EXPECT_EQ(a.reason, "BadRequest");
        EXPECT_EQ(a.rejection, "wrong_kind");
        EXPECT_TRUE(contains(a.message, "apps/v1 Deployment")) << a.message;
        EXPECT_TRUE(contains(a.message, "elector.dev ElectionGroup")) << a.message;
        EXPECT_EQ(a.uid, r.uid);
    }
    r.group = "";
    r.version = "v1";
    r.kind = "Pod";
    EXPECT_TRUE(contains(validate(r, cluster_view{}).message, "core/v1 Pod"));
    r.version = "";
    r.kind = "";
    EXPECT_TRUE(contains(validate(r, cluster_view{}).message, "without request.kind"));
    // Another group's ElectionGroup is still another kind.
    r.group = "example.com";
    r.version = "v1alpha1";
    r.kind = "ElectionGroup";
    EXPECT_EQ(validate(r, cluster_view{}).rejection, "wrong_kind");
    // Even for a DELETE.
    r.operation = "DELETE";
    EXPECT_EQ(validate(r, cluster_view{}).rejection, "wrong_kind");
}

TEST(webhook_validate, malformed_requests_are_refused_not_thrown) {
    struct malformed_case {
        const char* what;
        admission_request r;
        const char* needle;
        bool mutate_refuses = true;  // mutate() lets a bad ElectionGroup through to validation
    };
    std::vector<malformed_case> cases;
    {
        auto r = create(group_object(web_spec()));
        r.operation = "PATCH";
        cases.push_back({"unknown operation", r, "request.operation"});
        r.operation = "";
        cases.push_back({"no operation", r, "request.operation"});
    }
    cases.push_back({"no object", create(nullptr), "request.object"});
    cases.push_back({"object an array", create(json::array({1})), "request.object"});
    cases.push_back({"object a string", create("db"), "request.object"});
    {
        auto r = update(group_object(web_spec()), group_object(web_spec()));
        r.old_object = nullptr;
        cases.push_back({"UPDATE without oldObject", r, "request.oldObject"});
        r.old_object = 3;
        cases.push_back({"oldObject a number", r, "request.oldObject"});
        r.old_object = json{{"metadata", "x"}};
        cases.push_back({"oldObject metadata a string", r, "request.oldObject: metadata", false});
    }
    {
        json object = group_object(web_spec());
        object["metadata"] = json::array();
        cases.push_back({"metadata an array", create(object), "request.object: metadata", false});
        object["metadata"] = {{"name", 5}, {"namespace", "shop"}};
        cases.push_back({"name a number", create(object), "metadata.name", false});
    }
    for (const auto& c : cases) {
        admission_response v, m;
        ASSERT_NO_THROW(v = validate(c.r, with_target())) << c.what;
        ASSERT_NO_THROW(m = mutate(c.r)) << c.what;
        if (!c.mutate_refuses) {
            EXPECT_TRUE(m.allowed) << c.what << ": " << m.message;
        }
        for (const auto* a : {&v, &m}) {
            if (a == &m && !c.mutate_refuses) continue;
            EXPECT_FALSE(a->allowed) << c.what << (a == &m ? " (mutate)" : " (validate)");
            EXPECT_EQ(a->code, 400) << c.what;
            EXPECT_EQ(a->rejection, "malformed") << c.what;
            EXPECT_TRUE(contains(a->message, c.needle)) << c.what << ": " << a->message;
        }
        EXPECT_FALSE(encode_review(v).empty());
    }
}

TEST(webhook_group_of, fills_what_the_api_server_has_not_set_on_create) {
    json object = group_object(web_spec(), "");
    object["metadata"].erase("namespace");
    admission_request r = create(object);
    r.name = "from-request";
    auto g = group_of(r, r.object);
    ASSERT_TRUE(g.has_value()) << g.error();
    EXPECT_EQ(g->meta.name, "from-request");
    EXPECT_EQ(g->meta.namespace_, "shop");
    EXPECT_EQ(g->meta.uid, "");
    EXPECT_EQ(g->spec.target.name, "web");
    // What the object says wins.
    object["metadata"]["name"] = "db";
    object["metadata"]["namespace"] = "other";
    g = group_of(r, object);
    ASSERT_TRUE(g.has_value()) << g.error();
    EXPECT_EQ(g->meta.name, "db");
    EXPECT_EQ(g->meta.namespace_, "other");
    EXPECT_FALSE(group_of(r, json::array()).has_value());
}

TEST(webhook_group_of, reads_a_create_object_that_from_json_alone_refuses) {
    // On CREATE the object has no resourceVersion (and, for the mutating
    // webhook, no uid): election_group::from_json requires both.
    const admission_request r = create(group_object(web_spec()));
    auto strict = election::election_group::from_json(r.object);
    ASSERT_FALSE(strict.has_value());
    EXPECT_TRUE(contains(strict.error(), "metadata.uid")) << strict.error();
    auto g = group_of(r, r.object);
    ASSERT_TRUE(g.has_value()) << g.error();
    EXPECT_EQ(g->spec.target.name, "web");
}

// ---------------------------------------------------------------- mutate

TEST(webhook_mutate, defaults_the_lease_name_from_the_group_name_on_create) {
    const admission_request r = create(group_object(web_spec()));
    const auto a = mutate(r);
    EXPECT_TRUE(a.allowed);
    EXPECT_EQ(a.uid, r.uid);
    EXPECT_EQ(a.rejection, "");
    EXPECT_EQ(a.patch, json::parse(R"([{"op": "add", "path": "/spec/leaseName", "value": "db"}])"));
    const json patched = r.object.patch(a.patch);
    EXPECT_EQ(patched["spec"]["leaseName"], "db");
    EXPECT_EQ(patched["spec"]["targetRef"], r.object["spec"]["targetRef"]);
    // What the patch gives passes validation.
    admission_request next = r;
    next.object = patched;
    expect_allowed(validate(next, with_target()), "patched");
}

TEST(webhook_mutate, an_empty_lease_name_is_replaced) {
    json spec = web_spec();
    spec["leaseName"] = "";
    const admission_request r = create(group_object(spec));
    const auto a = mutate(r);
    ASSERT_TRUE(a.patch.is_array());
    EXPECT_EQ(r.object.patch(a.patch)["spec"]["leaseName"], "db");
    spec["leaseName"] = nullptr;
    EXPECT_EQ(create(group_object(spec)).object.patch(mutate(create(group_object(spec))).patch)["spec"]["leaseName"],
              "db");
}

TEST(webhook_mutate, no_patch_when_there_is_nothing_to_default) {
    json spec = web_spec();
    spec["leaseName"] = "db-lease";
    auto a = mutate(create(group_object(spec)));
    EXPECT_TRUE(a.allowed);
    EXPECT_TRUE(a.patch.is_null()) << a.patch;
    EXPECT_FALSE(contains(encode_review(a), "patch"));
    // A value of the wrong type is validation's business.
    spec["leaseName"] = 7;
    a = mutate(create(group_object(spec)));
    EXPECT_TRUE(a.allowed);
    EXPECT_TRUE(a.patch.is_null());
    // As is a spec that is not an object.
    a = mutate(create(group_object("web")));
    EXPECT_TRUE(a.allowed);
    EXPECT_TRUE(a.patch.is_null());
}

TEST(webhook_mutate, adds_the_spec_first_when_absent) {
    const admission_request r = create(group_object(nullptr));
    const auto a = mutate(r);
    EXPECT_TRUE(a.allowed);
    ASSERT_TRUE(a.patch.is_array());
    ASSERT_EQ(a.patch.size(), 2U);
    EXPECT_EQ(a.patch[0]["path"], "/spec");
    EXPECT_EQ(r.object.patch(a.patch)["spec"], json::parse(R"({"leaseName": "db"})"));
}

TEST(webhook_mutate, generate_name_leaves_the_lease_name_to_elector) {
    json object = group_object(web_spec(), "");
    object["metadata"]["generateName"] = "db-";
    const auto a = mutate(create(object));
    EXPECT_TRUE(a.allowed);
    EXPECT_TRUE(a.patch.is_null()) << a.patch;
}

TEST(webhook_mutate, on_update_only_where_the_old_object_had_none) {
    auto a = mutate(update(group_object(web_spec()), group_object(web_spec())));
    EXPECT_TRUE(a.allowed);
    EXPECT_EQ(a.patch, json::parse(R"([{"op": "add", "path": "/spec/leaseName", "value": "db"}])"));

    json old = web_spec();
    old["leaseName"] = "db-lease";
    a = mutate(update(group_object(web_spec()), group_object(old)));
    EXPECT_TRUE(a.allowed);
    EXPECT_TRUE(a.patch.is_null()) << a.patch;
    // validation then refuses the change of the effective name
    EXPECT_EQ(validate(update(group_object(web_spec()), group_object(old)), with_target()).rejection,
              "immutable_field");
}

TEST(webhook_mutate, round_trip_through_the_codec) {
    json review = {{"apiVersion", "admission.k8s.io/v1"},
                   {"kind", "AdmissionReview"},
                   {"request",
                    {{"uid", "abc-123"},
                     {"kind", {{"group", "elector.dev"}, {"version", "v1alpha1"}, {"kind", "ElectionGroup"}}},
                     {"operation", "CREATE"},
                     {"namespace", "shop"},
                     {"name", "db"},
                     {"object", group_object(web_spec())}}}};
    auto r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    const json out = json::parse(encode_review(mutate(*r)));
    EXPECT_EQ(out["response"]["uid"], "abc-123");
    EXPECT_EQ(out["response"]["allowed"], true);
    EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
    EXPECT_EQ(out["response"]["patch"],
              base64_encode(R"([{"op":"add","path":"/spec/leaseName","value":"db"}])"));

    // A huge invalid name, validated and encoded: a parseable, bounded answer.
    review["request"]["object"]["spec"]["targetRef"]["name"] = std::string(3 << 20, 'x') + "_";
    r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    const std::string body = encode_review(validate(*r, cluster_view{}));
    EXPECT_LT(body.size(), 8000U);
    const json refused = json::parse(body);
    EXPECT_EQ(refused["response"]["allowed"], false);
    EXPECT_EQ(refused["response"]["status"]["code"], 403);
}

}  // namespace
}  // namespace elector::webhook
