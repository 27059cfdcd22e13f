#include "election/group.hpp"

#include "decide_support.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace elector::election {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

using test_support::at;

bool any_contains(const std::vector<std::string>& lines, std::string_view needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return line.find(needle) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += "[" + line + "] ";
    return out;
}

// An ElectionGroup as kubectl would show it, every spec field set.
const char* const full_group_json = R"({
  "apiVersion": "elector.dev/v1alpha1",
  "kind": "ElectionGroup",
  "metadata": {
    "name": "db",
    "namespace": "shop",
    "uid": "4b8e0c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b",
    "resourceVersion": "9001",
    "generation": 3,
    "creationTimestamp": "2026-11-20T23:00:00Z"
  },
  "spec": {
    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "postgres"},
    "leaseDuration": "20s",
    "renewDeadline": "12s",
    "retryPeriod": "3s",
    "leaderLabel": {"key": "elector.dev/role", "value": "primary"},
    "leaseName": "db-lease",
    "notReadyPolicy": "Immediate"
  },
  "status": {
    "leader": "postgres-5c9f8d7b6-q7m2p",
    "term": 7,
    "leaseName": "db-lease",
    "candidates": {"ready": 2, "total": 3},
    "candidatesReady": "2/3",
    "lastTransitionTime": "2026-11-20T23:47:27Z",
    "lastTransitionReason": "LeaderCrashed",
    "observedGeneration": 3,
    "conditions": [
      {"type": "Ready", "status": "True", "observedGeneration": 3,
       "lastTransitionTime": "2026-11-20T23:47:28Z", "reason": "LeaderElected", "message": "leader is renewed"},
      {"type": "LeaderElected", "status": "True", "observedGeneration": 2,
       "lastTransitionTime": "2026-11-20T23:40:00Z", "reason": "Elected", "message": "term 7"},
      {"type": "InvalidSpec", "status": "False", "observedGeneration": 3,
       "lastTransitionTime": "2026-11-20T23:00:01Z", "reason": "Valid", "message": "spec is valid"}
    ]
  }
})";

// Only what a user must write.
const char* const minimal_group_json = R"({
  "apiVersion": "elector.dev/v1alpha1",
  "kind": "ElectionGroup",
  "metadata": {"name": "queue", "namespace": "jobs", "uid": "u-1", "resourceVersion": "1"},
  "spec": {"targetRef": {"name": "consumer"}}
})";

json sample(const char* text) {
    return json::parse(text);
}

election_group parse_ok(const json& j) {
    auto g = election_group::from_json(j);
    if (!g) throw std::runtime_error("from_json failed: " + g.error());
    return std::move(*g);
}

group_spec valid_spec() {
    group_spec s;
    s.target.name = "web";
    s.lease_name = "web-leader";
    return s;
}

std::string repeat(char c, std::size_t n) {
    return std::string(n, c);
}

// A DNS subdomain of exactly n characters: labels of 63 separated by dots.
std::string subdomain_of_length(std::size_t n) {
    std::string out;
    while (out.size() < n) {
        if (!out.empty()) out += '.';
        const std::size_t room = n - out.size();
        out += std::string(std::min<std::size_t>(room, 63), 'b');
    }
    return out;
}

// ---------------------------------------------------------------- defaults

TEST(election_group_defaults, struct_defaults_are_client_go_and_issue_defaults) {
    group_spec s;
    EXPECT_EQ(s.target.api_version, "apps/v1");
    EXPECT_EQ(s.target.kind, "Deployment");
    EXPECT_EQ(s.target.name, "");
    EXPECT_EQ(s.lease_duration, 15s);
    EXPECT_EQ(s.renew_deadline, 10s);
    EXPECT_EQ(s.retry_period, 2s);
    EXPECT_EQ(s.leader_label_key, "role");
    EXPECT_EQ(s.leader_label_value, "leader");
    EXPECT_EQ(s.policy, not_ready_policy::wait_for_lease_expiry);

    group_status st;
    EXPECT_EQ(st.term, 0);
    EXPECT_TRUE(st.conditions.empty());
    EXPECT_EQ(st.find(conditions::ready), nullptr);
}

TEST(election_group_defaults, policy_names_are_the_crd_enum) {
    EXPECT_EQ(to_string(not_ready_policy::wait_for_lease_expiry), "WaitForLeaseExpiry");
    EXPECT_EQ(to_string(not_ready_policy::immediate), "Immediate");
}

TEST(election_group_defaults, minimal_group_gets_every_default) {
    election_group g = parse_ok(sample(minimal_group_json));
    EXPECT_EQ(g.meta.name, "queue");
    EXPECT_EQ(g.meta.namespace_, "jobs");
    EXPECT_EQ(g.meta.uid, "u-1");
    EXPECT_EQ(g.meta.resource_version, "1");
    EXPECT_EQ(g.spec.target.api_version, "apps/v1");
    EXPECT_EQ(g.spec.target.kind, "Deployment");
    EXPECT_EQ(g.spec.target.name, "consumer");
    EXPECT_EQ(g.spec.lease_duration, 15s);
    EXPECT_EQ(g.spec.renew_deadline, 10s);
    EXPECT_EQ(g.spec.retry_period, 2s);
    EXPECT_EQ(g.spec.leader_label_key, "role");
    EXPECT_EQ(g.spec.leader_label_value, "leader");
    EXPECT_EQ(g.spec.lease_name, "queue");  // the group's name
    EXPECT_EQ(g.spec.policy, not_ready_policy::wait_for_lease_expiry);
    EXPECT_TRUE(g.spec_errors.empty()) << joined(g.spec_errors);
    EXPECT_EQ(g.status, group_status{});
    EXPECT_TRUE(validate(g.spec).empty()) << joined(validate(g.spec));
}

TEST(election_group_defaults, empty_lease_name_defaults_to_the_group_name) {
    json j = sample(minimal_group_json);
    j["spec"]["leaseName"] = "";
    EXPECT_EQ(parse_ok(j).spec.lease_name, "queue");
}

TEST(election_group_defaults, group_without_spec_parses_and_fails_validation_on_the_target) {
    json j = sample(minimal_group_json);
    j.erase("spec");
    election_group g = parse_ok(j);
    EXPECT_EQ(g.spec.target.name, "");
    EXPECT_EQ(g.spec.lease_name, "queue");
    auto problems = validate(g.spec);
    EXPECT_TRUE(any_contains(problems, "spec.targetRef")) << joined(problems);
}

// ---------------------------------------------------------------- parsing

TEST(election_group_parse, every_spec_field) {
    election_group g = parse_ok(sample(full_group_json));
    EXPECT_EQ(g.meta.name, "db");
    EXPECT_EQ(g.meta.namespace_, "shop");
    EXPECT_EQ(g.meta.generation, 3);
    EXPECT_EQ(g.spec.target.api_version, "apps/v1");
    EXPECT_EQ(g.spec.target.kind, "Deployment");
    EXPECT_EQ(g.spec.target.name, "postgres");
    EXPECT_EQ(g.spec.lease_duration, 20s);
    EXPECT_EQ(g.spec.renew_deadline, 12s);
    EXPECT_EQ(g.spec.retry_period, 3s);
    EXPECT_EQ(g.spec.leader_label_key, "elector.dev/role");
    EXPECT_EQ(g.spec.leader_label_value, "primary");
    EXPECT_EQ(g.spec.lease_name, "db-lease");
    EXPECT_EQ(g.spec.policy, not_ready_policy::immediate);
    EXPECT_TRUE(g.spec_errors.empty()) << joined(g.spec_errors);
    EXPECT_TRUE(validate(g.spec).empty()) << joined(validate(g.spec));
}

TEST(election_group_parse, target_ref_kept_as_written_for_validate_to_judge) {
    json j = sample(minimal_group_json);
    j["spec"]["targetRef"] = {{"apiVersion", "apps/v1beta2"}, {"kind", "StatefulSet"}, {"name", "x"}};
    election_group g = parse_ok(j);
    EXPECT_EQ(g.spec.target.api_version, "apps/v1beta2");
    EXPECT_EQ(g.spec.target.kind, "StatefulSet");
    auto problems = validate(g.spec);
    EXPECT_TRUE(any_contains(problems, "spec.targetRef")) << joined(problems);
}

TEST(election_group_parse, wait_for_lease_expiry_policy) {
    json j = sample(minimal_group_json);
    j["spec"]["notReadyPolicy"] = "WaitForLeaseExpiry";
    election_group g = parse_ok(j);
    EXPECT_EQ(g.spec.policy, not_ready_policy::wait_for_lease_expiry);
    EXPECT_TRUE(g.spec_errors.empty()) << joined(g.spec_errors);
}

TEST(election_group_parse, every_status_field) {
    election_group g = parse_ok(sample(full_group_json));
    const group_status& s = g.status;
    EXPECT_EQ(s.leader, "postgres-5c9f8d7b6-q7m2p");
    EXPECT_EQ(s.term, 7);
    EXPECT_EQ(s.lease_name, "db-lease");
    EXPECT_EQ(s.candidates_ready, 2);
    EXPECT_EQ(s.candidates_total, 3);
    EXPECT_EQ(s.last_transition_time, at("2026-11-20T23:47:27Z"));
    EXPECT_EQ(s.last_transition_reason, "LeaderCrashed");
    EXPECT_EQ(s.observed_generation, 3);
    ASSERT_EQ(s.conditions.size(), 3u);
    EXPECT_EQ(s.conditions[0], (condition{"Ready", "True", 3, at("2026-11-20T23:47:28Z"), "LeaderElected",
                                          "leader is renewed"}));
    EXPECT_EQ(s.conditions[1],
              (condition{"LeaderElected", "True", 2, at("2026-11-20T23:40:00Z"), "Elected", "term 7"}));
    EXPECT_EQ(s.conditions[2],
              (condition{"InvalidSpec", "False", 3, at("2026-11-20T23:00:01Z"), "Valid", "spec is valid"}));

    ASSERT_NE(s.find("LeaderElected"), nullptr);
    EXPECT_EQ(s.find("LeaderElected")->reason, "Elected");
    ASSERT_NE(s.find(conditions::invalid_spec), nullptr);
    EXPECT_EQ(s.find(conditions::invalid_spec)->status, "False");
    EXPECT_EQ(s.find("Progressing"), nullptr);
}

struct duration_case {
    const char* text;
    milliseconds expected;
};

TEST(election_group_parse, go_durations) {
    const duration_case cases[] = {
        {"15s", 15s},     {"1s", 1s},         {"500ms", 500ms},        {"100ms", 100ms},
        {"1m", 60s},      {"1m30s", 90s},     {"1h", 3600s},           {"2s500ms", 2500ms},
        {"1.5s", 1500ms}, {"0.25s", 250ms},   {"1h2m3s4ms", 3723004ms}, {"15000ms", 15s},
        {"90s", 90s},     {"2.5m", 150s},
    };
    for (const auto& c : cases) {
        for (const char* field : {"leaseDuration", "renewDeadline", "retryPeriod"}) {
            SCOPED_TRACE(std::string(field) + " = " + c.text);
            json j = sample(minimal_group_json);
            j["spec"][field] = c.text;
            election_group g = parse_ok(j);
            EXPECT_TRUE(g.spec_errors.empty()) << joined(g.spec_errors);
            const milliseconds got = std::string_view(field) == "leaseDuration"   ? g.spec.lease_duration
                                     : std::string_view(field) == "renewDeadline" ? g.spec.renew_deadline
                                                                                  : g.spec.retry_period;
            EXPECT_EQ(got.count(), c.expected.count());
        }
    }
}

TEST(election_group_parse, a_signed_duration_is_refused) {
    // Go's ParseDuration takes "+3s", but the CRD's pattern does not, and
    // elector's flags never did: a sign is an error naming the field.
    json j = sample(minimal_group_json);
    j["spec"]["retryPeriod"] = "+3s";
    election_group g = parse_ok(j);
    ASSERT_EQ(g.spec_errors.size(), 1u) << joined(g.spec_errors);
    EXPECT_NE(g.spec_errors[0].find("spec.retryPeriod"), std::string::npos);
    EXPECT_EQ(g.spec.retry_period, 2s);
}

TEST(election_group_parse, unparseable_durations_keep_the_default_and_name_the_field) {
    const char* const bad[] = {"15", "abc", "1d", "15 s", "s", "15S", "15sec", "1m-5s", "--1s", "1ss", "ms", " 15s",
                               "15s ", ".s", "1e3s"};
    struct field_case {
        const char* field;
        milliseconds group_spec::* member;
        milliseconds fallback;
    };
    const field_case fields[] = {
        {"leaseDuration", &group_spec::lease_duration, 15s},
        {"renewDeadline", &group_spec::renew_deadline, 10s},
        {"retryPeriod", &group_spec::retry_period, 2s},
    };
    for (const char* text : bad) {
        for (const auto& f : fields) {
            SCOPED_TRACE(std::string(f.field) + " = \"" + text + "\"");
            json j = sample(minimal_group_json);
            j["spec"][f.field] = text;
            election_group g = parse_ok(j);
            EXPECT_EQ((g.spec.*f.member).count(), f.fallback.count());
            ASSERT_FALSE(g.spec_errors.empty());
            EXPECT_TRUE(any_contains(g.spec_errors, std::string("spec.") + f.field)) << joined(g.spec_errors);
            EXPECT_EQ(g.spec_errors.size(), 1u) << joined(g.spec_errors);
            for (const auto& line : g.spec_errors) {
                EXPECT_EQ(line.find('\n'), std::string::npos);
            }
        }
    }
}

TEST(election_group_parse, negative_durations_are_rejected_somewhere) {
    // Go parses "-5s"; a negative period is wrong either as written or by validate().
    for (const char* field : {"leaseDuration", "renewDeadline", "retryPeriod"}) {
        SCOPED_TRACE(field);
        json j = sample(minimal_group_json);
        j["spec"][field] = "-5s";
        election_group g = parse_ok(j);
        auto problems = g.spec_errors;
        for (auto& p : validate(g.spec)) problems.push_back(p);
        EXPECT_TRUE(any_contains(problems, std::string("spec.") + field)) << joined(problems);
    }
}

TEST(election_group_parse, three_bad_fields_are_three_lines) {
    json j = sample(minimal_group_json);
    j["spec"]["leaseDuration"] = "soon";
    j["spec"]["retryPeriod"] = "often";
    j["spec"]["notReadyPolicy"] = "Sometimes";
    election_group g = parse_ok(j);
    EXPECT_EQ(g.spec_errors.size(), 3u) << joined(g.spec_errors);
    EXPECT_TRUE(any_contains(g.spec_errors, "spec.leaseDuration"));
    EXPECT_TRUE(any_contains(g.spec_errors, "spec.retryPeriod"));
    EXPECT_TRUE(any_contains(g.spec_errors, "spec.notReadyPolicy"));
    EXPECT_EQ(g.spec.lease_duration, 15s);
    EXPECT_EQ(g.spec.retry_period, 2s);
    EXPECT_EQ(g.spec.policy, not_ready_policy::wait_for_lease_expiry);
}

TEST(election_group_parse, unknown_policy_keeps_the_default_and_names_the_field) {
    for (const char* text : {"Sometimes", "immediate", "waitForLeaseExpiry", "IMMEDIATE", "Never"}) {
        SCOPED_TRACE(text);
        json j = sample(minimal_group_json);
        j["spec"]["notReadyPolicy"] = text;
        election_group g = parse_ok(j);
        EXPECT_EQ(g.spec.policy, not_ready_policy::wait_for_lease_expiry);
        ASSERT_EQ(g.spec_errors.size(), 1u) << joined(g.spec_errors);
        EXPECT_NE(g.spec_errors[0].find("spec.notReadyPolicy"), std::string::npos) << g.spec_errors[0];
    }
}

TEST(election_group_parse, wrong_types_get_defaults) {
    json j = sample(minimal_group_json);
    j["spec"]["leaseDuration"] = 15;
    j["spec"]["renewDeadline"] = json::array();
    j["spec"]["retryPeriod"] = nullptr;
    j["spec"]["leaderLabel"] = {{"key", 7}, {"value", true}};
    j["spec"]["leaseName"] = 12;
    j["spec"]["notReadyPolicy"] = json::object();
    election_group g = parse_ok(j);
    EXPECT_EQ(g.spec.lease_duration, 15s);
    EXPECT_EQ(g.spec.renew_deadline, 10s);
    EXPECT_EQ(g.spec.retry_period, 2s);
    EXPECT_EQ(g.spec.leader_label_key, "role");
    EXPECT_EQ(g.spec.leader_label_value, "leader");
    EXPECT_EQ(g.spec.lease_name, "queue");
    EXPECT_EQ(g.spec.policy, not_ready_policy::wait_for_lease_expiry);
    EXPECT_EQ(g.spec.target.name, "consumer");

    json k = sample(full_group_json);
    k["spec"] = "not an object";
    k["status"] = 42;
    election_group h = parse_ok(k);
    EXPECT_EQ(h.spec.target.name, "");
    EXPECT_EQ(h.spec.lease_name, "db");
    EXPECT_EQ(h.status, group_status{});

    json m = sample(full_group_json);
    m["spec"]["targetRef"] = "postgres";
    m["status"]["term"] = "7";
    m["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}, 5, "x"};
    m["status"]["candidates"] = "2/3";
    election_group n = parse_ok(m);
    EXPECT_EQ(n.spec.target.name, "");
    EXPECT_EQ(n.spec.target.kind, "Deployment");
    EXPECT_EQ(n.status.term, 0);
    ASSERT_EQ(n.status.conditions.size(), 1u);
    EXPECT_EQ(n.status.conditions[0].type, "Ready");
    EXPECT_EQ(n.status.conditions[0].status, "True");
    EXPECT_FALSE(n.status.conditions[0].last_transition_time.has_value());
}

// A CRD without its schema (an older or hand-edited one) lets values of any
// type in: each one read as absent is named, with the type that came.
TEST(election_group_parse, wrong_types_are_named_in_spec_type_errors) {
    struct row {
        const char* name;
        json spec;
        const char* line;  // the expected line, exactly
    };
    const std::vector<row> rows = {
        {"spec a string", "str", "spec: must be an object, not a string"},
        {"spec a list", json::array({1, 2}), "spec: must be an object, not an array"},
        {"spec null", nullptr, "spec: required"},
        {"targetRef a string", {{"targetRef", "web"}}, "spec.targetRef: must be an object, not a string"},
        {"targetRef a list", {{"targetRef", json::array()}}, "spec.targetRef: must be an object, not an array"},
        {"target name a number", {{"targetRef", {{"name", 7}}}}, "spec.targetRef.name: must be a string, not a number"},
        {"target kind a bool", {{"targetRef", {{"name", "web"}, {"kind", true}}}},
         "spec.targetRef.kind: must be a string, not a boolean"},
        {"leaderLabel a string", {{"targetRef", {{"name", "web"}}}, {"leaderLabel", "role=leader"}},
         "spec.leaderLabel: must be an object, not a string"},
        {"leader label key a number", {{"targetRef", {{"name", "web"}}}, {"leaderLabel", {{"key", 5}}}},
         "spec.leaderLabel.key: must be a string, not a number"},
        {"leader label value an object", {{"targetRef", {{"name", "web"}}}, {"leaderLabel", {{"value", json::object()}}}},
         "spec.leaderLabel.value: must be a string, not an object"},
        {"leaseName a bool", {{"targetRef", {{"name", "web"}}}, {"leaseName", false}},
         "spec.leaseName: must be a string, not a boolean"},
        {"notReadyPolicy a number", {{"targetRef", {{"name", "web"}}}, {"notReadyPolicy", 1}},
         "spec.notReadyPolicy: must be a string, not a number"},
        {"preferredLeader a list", {{"targetRef", {{"name", "web"}}}, {"preferredLeader", json::array({"a"})}},
         "spec.preferredLeader: must be a string, not an array"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        json j = sample(minimal_group_json);
        j["spec"] = r.spec;
        election_group g = parse_ok(j);
        EXPECT_EQ(g.spec_type_errors, std::vector<std::string>{r.line});
        EXPECT_TRUE(g.spec_errors.empty()) << joined(g.spec_errors);
    }
    // The field keeps its default: a key written as a number is not "role"
    // by accident: the group is invalid until it is fixed.
    json j = sample(minimal_group_json);
    j["spec"]["leaderLabel"] = {{"key", 5}};
    EXPECT_EQ(parse_ok(j).spec.leader_label_key, "role");
    // Absent, null and well-typed fields are no problem.
    j = sample(full_group_json);
    j["spec"]["preferredLeader"] = nullptr;
    EXPECT_TRUE(parse_ok(j).spec_type_errors.empty()) << joined(parse_ok(j).spec_type_errors);
    EXPECT_TRUE(parse_ok(sample(minimal_group_json)).spec_type_errors.empty());
    j = sample(minimal_group_json);
    j.erase("spec");
    EXPECT_EQ(parse_ok(j).spec_type_errors, std::vector<std::string>{"spec: required"});
}

// status.term beyond what a Lease can record (leaseTransitions is an int32),
// or negative, was not written by elector: it reads as absent, so that the
// next term cannot overflow.
TEST(election_group_parse, status_term_out_of_the_lease_range_reads_as_absent) {
    const std::pair<json, std::int64_t> cases[] = {
        {json(7), 7},
        {json(max_term), max_term},
        {json(max_term + 1), 0},
        {json(std::numeric_limits<std::int64_t>::max()), 0},
        {json(std::numeric_limits<std::uint64_t>::max()), 0},
        {json(-5), 0},
        {json("x"), 0},
        {json(1.5), 0},
    };
    for (const auto& [value, want] : cases) {
        SCOPED_TRACE(value.dump());
        json j = sample(full_group_json);
        j["status"]["term"] = value;
        EXPECT_EQ(parse_ok(j).status.term, want);
    }
}

TEST(election_group_parse, identity_fields_are_required) {
    for (const char* field : {"name", "namespace", "uid", "resourceVersion"}) {
        SCOPED_TRACE(field);
        json missing = sample(full_group_json);
        missing["metadata"].erase(field);
        auto g = election_group::from_json(missing);
        ASSERT_FALSE(g.has_value());
        EXPECT_NE(g.error().find(field), std::string::npos) << g.error();

        json mistyped = sample(full_group_json);
        mistyped["metadata"][field] = 5;
        EXPECT_FALSE(election_group::from_json(mistyped).has_value());
    }
    EXPECT_FALSE(election_group::from_json(json::object()).has_value());
    EXPECT_FALSE(election_group::from_json(json::array()).has_value());
    EXPECT_FALSE(election_group::from_json(json("x")).has_value());
    EXPECT_FALSE(election_group::from_json(json()).has_value());
}

// Randomly replaces values with values of other types: never a throw, and a
// group whose identity is intact always parses.
void collect_pointers(const json& j, const json::json_pointer& at_ptr, std::vector<json::json_pointer>& out) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            out.push_back(at_ptr / it.key());
            collect_pointers(it.value(), at_ptr / it.key(), out);
        }
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            out.push_back(at_ptr / i);
            collect_pointers(j[i], at_ptr / i, out);
        }
    }
}

TEST(election_group_parse, random_type_replacements_never_throw) {
    std::mt19937 rng(424242);
    const json values[] = {json(), json(true), json(-3), json(2.5), json("15s"), json("x"), json::array(),
                           json::object(), json::array({1, "a"}), json({{"k", "v"}})};
    const std::vector<std::string> identity = {"/metadata", "/metadata/name", "/metadata/namespace",
                                               "/metadata/uid", "/metadata/resourceVersion"};
    for (int i = 0; i < 2000; ++i) {
        json j = sample(full_group_json);
        bool identity_broken = false;
        std::string trace;
        for (int m = std::uniform_int_distribution<int>(1, 3)(rng); m > 0; --m) {
            std::vector<json::json_pointer> pointers;
            collect_pointers(j, json::json_pointer(), pointers);
            if (pointers.empty()) break;
            const auto target = pointers[std::uniform_int_distribution<std::size_t>(0, pointers.size() - 1)(rng)];
            const json& v = values[std::uniform_int_distribution<std::size_t>(0, std::size(values) - 1)(rng)];
            const std::string p = target.to_string();
            identity_broken = identity_broken || std::find(identity.begin(), identity.end(), p) != identity.end();
            trace += p + " = " + v.dump() + "; ";
            j[target] = v;
        }
        SCOPED_TRACE(trace);
        std::optional<bool> ok;
        ASSERT_NO_THROW(ok = election_group::from_json(j).has_value());
        if (!identity_broken) {
            EXPECT_TRUE(*ok);
        }
        if (*ok) {
            auto g = election_group::from_json(j);
            ASSERT_NO_THROW((void)validate(g->spec));
            ASSERT_NO_THROW((void)g->status.to_json());
        }
    }
}

// ---------------------------------------------------------------- status JSON

group_status full_status() {
    group_status s;
    s.leader = "web-7d4b9c6f5-x2x9k";
    s.term = 12;
    s.lease_name = "web-leader";
    s.candidates_ready = 2;
    s.candidates_total = 3;
    s.last_transition_time = at("2026-11-20T23:47:27Z");
    s.last_transition_reason = "LeaderDeleted";
    s.observed_generation = 5;
    s.conditions = {
        {"Ready", "True", 5, at("2026-11-20T23:47:28Z"), "LeaderRenewed", "web-7d4b9c6f5-x2x9k leads term 12"},
        {"LeaderElected", "True", 5, at("2026-11-20T23:47:27Z"), "Elected", "elected"},
        {"InvalidSpec", "False", 4, at("2026-11-20T20:00:00Z"), "Valid", "spec is valid"},
    };
    return s;
}

json group_with_status(const json& status) {
    json j = sample(minimal_group_json);
    j["status"] = status;
    return j;
}

TEST(election_group_status, to_json_field_names) {
    json j = full_status().to_json();
    EXPECT_EQ(j.at("leader"), "web-7d4b9c6f5-x2x9k");
    EXPECT_EQ(j.at("term"), 12);
    EXPECT_EQ(j.at("leaseName"), "web-leader");
    EXPECT_EQ(j.at("candidates"), (json{{"ready", 2}, {"total", 3}}));
    EXPECT_EQ(j.at("candidatesReady"), "2/3");
    EXPECT_EQ(j.at("lastTransitionTime"), "2026-11-20T23:47:27Z");
    EXPECT_EQ(j.at("lastTransitionReason"), "LeaderDeleted");
    EXPECT_EQ(j.at("observedGeneration"), 5);
    ASSERT_TRUE(j.at("conditions").is_array());
    ASSERT_EQ(j.at("conditions").size(), 3u);
    const json& c0 = j.at("conditions")[0];
    EXPECT_EQ(c0.at("type"), "Ready");
    EXPECT_EQ(c0.at("status"), "True");
    EXPECT_EQ(c0.at("observedGeneration"), 5);
    EXPECT_EQ(c0.at("lastTransitionTime"), "2026-11-20T23:47:28Z");
    EXPECT_EQ(c0.at("reason"), "LeaderRenewed");
    EXPECT_EQ(c0.at("message"), "web-7d4b9c6f5-x2x9k leads term 12");
    // Order as given.
    EXPECT_EQ(j.at("conditions")[1].at("type"), "LeaderElected");
    EXPECT_EQ(j.at("conditions")[2].at("type"), "InvalidSpec");
}

TEST(election_group_status, to_json_leaves_out_empty_strings_and_absent_times_but_conditions_keep_theirs) {
    group_status s;
    s.candidates_total = 0;
    json j = s.to_json();
    ASSERT_TRUE(j.is_object());
    EXPECT_FALSE(j.contains("leader"));
    EXPECT_FALSE(j.contains("leaseName"));
    EXPECT_FALSE(j.contains("lastTransitionTime"));
    EXPECT_FALSE(j.contains("lastTransitionReason"));

    group_status t;
    t.conditions = {{"Ready", "False", 0, std::nullopt, "NoCandidates", ""}};
    json k = t.to_json();
    ASSERT_EQ(k.at("conditions").size(), 1u);
    EXPECT_EQ(k.at("conditions")[0].at("type"), "Ready");
    EXPECT_EQ(k.at("conditions")[0].at("status"), "False");
    // metav1.Condition requires lastTransitionTime: the epoch stands in.
    EXPECT_EQ(k.at("conditions")[0].at("lastTransitionTime"), "1970-01-01T00:00:00Z") << k.dump();
}

TEST(election_group_status, round_trips_through_from_json) {
    const group_status cases[] = {
        full_status(),
        group_status{},
        [] {
            group_status s;
            s.leader = "a";
            s.term = 1;
            s.candidates_ready = 0;
            s.candidates_total = 1;
            s.observed_generation = 1;
            s.conditions = {{"Ready", "False", 1, at("2026-01-01T00:00:00Z"), "NoEligibleCandidate", "0/1 ready"}};
            return s;
        }(),
        [] {
            group_status s = full_status();
            s.last_transition_time.reset();
            s.last_transition_reason.clear();
            s.leader.clear();
            return s;
        }(),
    };
    for (const auto& s : cases) {
        json j = s.to_json();
        SCOPED_TRACE(j.dump());
        // And through text, as it travels.
        election_group g = parse_ok(group_with_status(json::parse(j.dump())));
        EXPECT_EQ(g.status, s);
        EXPECT_EQ(g.status.to_json(), j);
    }
}

TEST(election_group_status, from_json_then_to_json_keeps_the_server_copy) {
    json j = sample(full_group_json);
    election_group g = parse_ok(j);
    EXPECT_EQ(g.status.to_json(), j["status"]);
}

// ---------------------------------------------------------------- validate()

struct spec_case {
    const char* name;
    std::function<void(group_spec&)> change;
    const char* field;  // nullptr: valid; else every accepted field name, '|'-separated
};

bool names_one_of(const std::vector<std::string>& problems, std::string_view fields) {
    std::size_t start = 0;
    while (start <= fields.size()) {
        std::size_t bar = fields.find('|', start);
        if (bar == std::string_view::npos) bar = fields.size();
        if (any_contains(problems, fields.substr(start, bar - start))) return true;
        start = bar + 1;
    }
    return false;
}

TEST(election_group_validate, every_rule_and_its_boundaries) {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    const spec_case cases[] = {
        {"defaults", [](group_spec&) {}, nullptr},
        // leaseDuration: whole seconds in 1s..1h.
        {"lease 1s", [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 500ms; s.retry_period = 100ms; },
         nullptr},
        {"lease 1h", [](group_spec& s) { s.lease_duration = 3600s; }, nullptr},
        {"lease 1h+1s", [](group_spec& s) { s.lease_duration = 3601s; }, "spec.leaseDuration"},
        {"lease 2h", [](group_spec& s) { s.lease_duration = 7200s; }, "spec.leaseDuration"},
        {"lease 0", [](group_spec& s) { s.lease_duration = 0ms; s.renew_deadline = 0ms; s.retry_period = 100ms; },
         "spec.leaseDuration"},
        {"lease 999ms",
         [](group_spec& s) { s.lease_duration = 999ms; s.renew_deadline = 500ms; s.retry_period = 100ms; },
         "spec.leaseDuration"},
        {"lease 15.5s", [](group_spec& s) { s.lease_duration = 15500ms; }, "spec.leaseDuration"},
        {"lease 15001ms", [](group_spec& s) { s.lease_duration = 15001ms; }, "spec.leaseDuration"},
        {"lease negative", [](group_spec& s) { s.lease_duration = -15s; }, "spec.leaseDuration"},
        // retryPeriod >= 100ms.
        {"retry 100ms", [](group_spec& s) { s.retry_period = 100ms; }, nullptr},
        {"retry 99ms", [](group_spec& s) { s.retry_period = 99ms; }, "spec.retryPeriod"},
        {"retry 0", [](group_spec& s) { s.retry_period = 0ms; }, "spec.retryPeriod"},
        {"retry negative", [](group_spec& s) { s.retry_period = -1s; }, "spec.retryPeriod"},
        // leaseDuration > renewDeadline.
        {"renew = lease", [](group_spec& s) { s.renew_deadline = 15s; }, "spec.renewDeadline|spec.leaseDuration"},
        {"renew > lease", [](group_spec& s) { s.renew_deadline = 20s; }, "spec.renewDeadline|spec.leaseDuration"},
        {"renew = lease - 1ms", [](group_spec& s) { s.renew_deadline = 14999ms; }, nullptr},
        // renewDeadline > 1.2 x retryPeriod, exactly at the boundary and 1ms above.
        {"renew = 1.2 x 2s", [](group_spec& s) { s.renew_deadline = 2400ms; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew = 1.2 x 2s + 1ms", [](group_spec& s) { s.renew_deadline = 2401ms; }, nullptr},
        {"renew = 1.2 x 1s",
         [](group_spec& s) { s.lease_duration = 2s; s.renew_deadline = 1200ms; s.retry_period = 1s; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew = 1.2 x 1s + 1ms",
         [](group_spec& s) { s.lease_duration = 2s; s.renew_deadline = 1201ms; s.retry_period = 1s; }, nullptr},
        {"renew = 1.2 x 100ms",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 120ms; s.retry_period = 100ms; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew = 1.2 x 100ms + 1ms",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 121ms; s.retry_period = 100ms; }, nullptr},
        {"renew = 1.2 x 300ms",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 360ms; s.retry_period = 300ms; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew = 1.2 x 300ms + 1ms",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 361ms; s.retry_period = 300ms; }, nullptr},
        {"renew = 1.2 x 5s", [](group_spec& s) { s.renew_deadline = 6000ms; s.retry_period = 5s; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew = 1.2 x 5s + 1ms", [](group_spec& s) { s.renew_deadline = 6001ms; s.retry_period = 5s; }, nullptr},
        {"renew below 1.2 x 101ms (121.2ms)",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 121ms; s.retry_period = 101ms; },
         "spec.renewDeadline|spec.retryPeriod"},
        {"renew above 1.2 x 101ms",
         [](group_spec& s) { s.lease_duration = 1s; s.renew_deadline = 122ms; s.retry_period = 101ms; }, nullptr},
        {"renew = retry", [](group_spec& s) { s.renew_deadline = 2s; }, "spec.renewDeadline|spec.retryPeriod"},
        {"renew < retry", [](group_spec& s) { s.renew_deadline = 1s; }, "spec.renewDeadline|spec.retryPeriod"},
        // targetRef.
        {"target apps/v1beta1", [](group_spec& s) { s.target.api_version = "apps/v1beta1"; }, "spec.targetRef"},
        {"target v1", [](group_spec& s) { s.target.api_version = "v1"; }, "spec.targetRef"},
        {"target empty apiVersion", [](group_spec& s) { s.target.api_version = ""; }, "spec.targetRef"},
        {"target StatefulSet", [](group_spec& s) { s.target.kind = "StatefulSet"; }, "spec.targetRef"},
        {"target deployment (case)", [](group_spec& s) { s.target.kind = "deployment"; }, "spec.targetRef"},
        {"target without name", [](group_spec& s) { s.target.name = ""; }, "spec.targetRef"},
        // leaderLabel.
        {"label prefixed key", [](group_spec& s) { s.leader_label_key = "elector.dev/role"; }, nullptr},
        {"label 63-char key", [&](group_spec& s) { s.leader_label_key = label63; }, nullptr},
        {"label 64-char key", [&](group_spec& s) { s.leader_label_key = label64; }, "spec.leaderLabel"},
        {"label empty key", [](group_spec& s) { s.leader_label_key = ""; }, "spec.leaderLabel"},
        {"label key with space", [](group_spec& s) { s.leader_label_key = "my role"; }, "spec.leaderLabel"},
        {"label key two slashes", [](group_spec& s) { s.leader_label_key = "a/b/c"; }, "spec.leaderLabel"},
        {"label key bad prefix", [](group_spec& s) { s.leader_label_key = "Elector.dev/role"; }, "spec.leaderLabel"},
        {"label 63-char value", [&](group_spec& s) { s.leader_label_value = label63; }, nullptr},
        {"label 64-char value", [&](group_spec& s) { s.leader_label_value = label64; }, "spec.leaderLabel"},
        {"label value with slash", [](group_spec& s) { s.leader_label_value = "lead/er"; }, "spec.leaderLabel"},
        {"label value leading dash", [](group_spec& s) { s.leader_label_value = "-leader"; }, "spec.leaderLabel"},
        // leaseName.
        {"lease name with dots", [](group_spec& s) { s.lease_name = "web.leader.v1"; }, nullptr},
        {"lease name empty", [](group_spec& s) { s.lease_name = ""; }, "spec.leaseName"},
        {"lease name upper case", [](group_spec& s) { s.lease_name = "Web"; }, "spec.leaseName"},
        {"lease name underscore", [](group_spec& s) { s.lease_name = "web_leader"; }, "spec.leaseName"},
        {"lease name 253 in labels of 63", [](group_spec& s) { s.lease_name = subdomain_of_length(253); }, nullptr},
        {"lease name 254", [](group_spec& s) { s.lease_name = std::string(254, 'a'); }, "spec.leaseName"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        group_spec s = valid_spec();
        c.change(s);
        const auto problems = validate(s);
        if (c.field == nullptr) {
            EXPECT_TRUE(problems.empty()) << joined(problems);
        } else {
            EXPECT_FALSE(problems.empty());
            EXPECT_TRUE(names_one_of(problems, c.field)) << "expected " << c.field << " in " << joined(problems);
        }
        for (const auto& line : problems) {
            EXPECT_FALSE(line.empty());
            EXPECT_EQ(line.find('\n'), std::string::npos) << line;
        }
    }
}

TEST(election_group_validate, an_empty_leader_label_value_is_refused) {
    // Valid label syntax, but a Service selecting `role: ""` is almost
    // certainly a mistake: elector asks for a value.
    group_spec s = valid_spec();
    s.leader_label_value = "";
    const auto problems = validate(s);
    ASSERT_EQ(problems.size(), 1u) << joined(problems);
    EXPECT_NE(problems[0].find("spec.leaderLabel.value"), std::string::npos);
}

TEST(election_group_validate, lease_name_labels_longer_than_63_are_valid) {
    // apimachinery's IsDNS1123Subdomain limits the whole name to 253, not each label.
    group_spec s = valid_spec();
    s.lease_name = std::string(100, 'a');
    EXPECT_TRUE(validate(s).empty()) << joined(validate(s));
    s.lease_name = std::string(253, 'a');
    EXPECT_TRUE(validate(s).empty()) << joined(validate(s));
}

TEST(election_group_validate, every_problem_is_its_own_line) {
    group_spec s;  // no target name
    s.lease_duration = 1500ms;            // not whole seconds
    s.retry_period = 50ms;                // too short
    s.leader_label_key = "bad key!";      // not a qualified name
    s.leader_label_value = "bad value!";  // not a label value
    s.lease_name = "Bad_Name";            // not a DNS subdomain
    const auto problems = validate(s);
    EXPECT_GE(problems.size(), 6u) << joined(problems);
    for (const char* field : {"spec.targetRef", "spec.leaseDuration", "spec.retryPeriod", "spec.leaderLabel",
                              "spec.leaseName"}) {
        EXPECT_TRUE(any_contains(problems, field)) << field << " not in " << joined(problems);
    }
}

// ---------------------------------------------------------------- validate_against()

kube::deployment deployment_from(const json& selector, const json& template_labels) {
    json j = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "d-1"}, {"resourceVersion", "5"}}},
        {"spec",
         {{"replicas", 3},
          {"selector", selector},
          {"template", {{"metadata", {{"labels", template_labels}}}, {"spec", {{"containers", json::array()}}}}}}},
    };
    auto d = kube::deployment::from_json(j);
    if (!d) throw std::runtime_error(d.error());
    return *d;
}

TEST(election_group_validate_against, free_key_is_fine) {
    auto d = deployment_from({{"matchLabels", {{"app", "web"}}}}, {{"app", "web"}, {"tier", "db"}});
    group_spec s = valid_spec();
    EXPECT_TRUE(validate_against(s, d).empty()) << joined(validate_against(s, d));
    s.leader_label_key = "elector.dev/role";
    EXPECT_TRUE(validate_against(s, d).empty());
    // Same name, another prefix: a different key.
    s.leader_label_key = "example.com/app";
    EXPECT_TRUE(validate_against(s, d).empty());
}

TEST(election_group_validate_against, key_in_match_labels) {
    auto d = deployment_from({{"matchLabels", {{"app", "web"}, {"role", "any"}}}}, {{"app", "web"}, {"role", "any"}});
    group_spec s = valid_spec();
    auto problems = validate_against(s, d);
    ASSERT_FALSE(problems.empty());
    for (const auto& p : problems) {
        EXPECT_FALSE(p.empty());
    }
    // Whatever the value: the key is what relabelling touches.
    s.leader_label_value = "any";
    EXPECT_FALSE(validate_against(s, d).empty());
}

TEST(election_group_validate_against, key_in_template_labels_only) {
    auto d = deployment_from({{"matchLabels", {{"app", "web"}}}}, {{"app", "web"}, {"role", "worker"}});
    group_spec s = valid_spec();
    EXPECT_FALSE(validate_against(s, d).empty());
}

TEST(election_group_validate_against, key_in_match_expressions) {
    json selector = {{"matchLabels", {{"app", "web"}}},
                     {"matchExpressions",
                      json::array({{{"key", "tier"}, {"operator", "In"}, {"values", {"db"}}},
                                   {{"key", "role"}, {"operator", "DoesNotExist"}}})}};
    auto d = deployment_from(selector, {{"app", "web"}, {"tier", "db"}});
    ASSERT_TRUE(d.has_match_expressions);
    group_spec s = valid_spec();
    EXPECT_FALSE(validate_against(s, d).empty());
    s.leader_label_key = "tier";
    EXPECT_FALSE(validate_against(s, d).empty());
    s.leader_label_key = "elector.dev/role";
    EXPECT_TRUE(validate_against(s, d).empty()) << joined(validate_against(s, d));
}

TEST(election_group_validate_against, match_expressions_on_other_keys_are_fine) {
    json selector = {{"matchExpressions", json::array({{{"key", "app"}, {"operator", "In"}, {"values", {"web"}}}})}};
    auto d = deployment_from(selector, {{"app", "web"}});
    group_spec s = valid_spec();
    EXPECT_TRUE(validate_against(s, d).empty()) << joined(validate_against(s, d));
    s.leader_label_key = "app";
    EXPECT_FALSE(validate_against(s, d).empty());
}

TEST(election_group_validate_against, built_struct) {
    kube::deployment d;
    d.selector_match_labels = {{"app", "web"}};
    d.template_labels = {{"app", "web"}};
    group_spec s = valid_spec();
    EXPECT_TRUE(validate_against(s, d).empty());
    s.leader_label_key = "app";
    EXPECT_FALSE(validate_against(s, d).empty());

    d.has_match_expressions = true;
    d.selector_expression_keys = {"zone", "role"};
    s.leader_label_key = "role";
    EXPECT_FALSE(validate_against(s, d).empty());
    s.leader_label_key = "leader";
    EXPECT_TRUE(validate_against(s, d).empty());
}

// ---------------------------------------------------------------- syntax helpers

struct syntax_case {
    std::string text;
    bool valid;
};

TEST(election_group_syntax, qualified_names) {
    const syntax_case cases[] = {
        {"role", true},
        {"a", true},
        {"A", true},
        {"Role_1.x-y", true},
        {"9", true},
        {"app.kubernetes.io/name", true},
        {"elector.dev/role", true},
        {"a/b", true},
        {"example.com/Role", true},
        {repeat('a', 63), true},
        {repeat('a', 64), false},
        {"example.com/" + repeat('x', 63), true},
        {"example.com/" + repeat('x', 64), false},
        {subdomain_of_length(253) + "/role", true},
        {subdomain_of_length(254) + "/role", false},
        {"", false},
        {"/role", false},
        {"example.com/", false},
        {"a/b/c", false},
        {"-role", false},
        {"role-", false},
        {"_role", false},
        {".role", false},
        {"role.", false},
        {"ro le", false},
        {"role!", false},
        {"rôle", false},
        {"Example.com/role", false},
        {"example_com/role", false},
        {"-example.com/role", false},
        {"example..com/role", false},
        {"example.com/-role", false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_qualified_name(c.text), c.valid) << "\"" << c.text << "\" (" << c.text.size() << " chars)";
    }
}

TEST(election_group_syntax, label_values) {
    const syntax_case cases[] = {
        {"", true},
        {"leader", true},
        {"L", true},
        {"7", true},
        {"Primary_1.a-b", true},
        {repeat('v', 63), true},
        {repeat('v', 64), false},
        {"-leader", false},
        {"leader-", false},
        {"_leader", false},
        {"leader.", false},
        {"lead er", false},
        {"lead/er", false},
        {"leader!", false},
        {"lead:er", false},
        {"é", false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_label_value(c.text), c.valid) << "\"" << c.text << "\" (" << c.text.size() << " chars)";
    }
}

TEST(election_group_syntax, dns_subdomain_labels_are_not_limited_to_63) {
    // apimachinery: IsDNS1123Subdomain checks len <= 253 and the regex
    // [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*, no per-label limit.
    EXPECT_TRUE(is_dns_subdomain(repeat('a', 64)));
    EXPECT_TRUE(is_dns_subdomain(repeat('a', 253)));
    EXPECT_TRUE(is_dns_subdomain("x." + repeat('a', 100) + ".y"));
    EXPECT_TRUE(is_qualified_name(repeat('p', 100) + ".example.com/role"));  // the prefix is a subdomain
}

TEST(election_group_syntax, dns_subdomains) {
    const syntax_case cases[] = {
        {"a", true},
        {"0", true},
        {"web-leader", true},
        {"web.leader", true},
        {"0abc-9", true},
        {"a.b.c.d", true},
        {subdomain_of_length(253), true},
        {repeat('a', 254), false},
        {subdomain_of_length(254), false},
        {"", false},
        {"Web", false},
        {"web_leader", false},
        {"-web", false},
        {"web-", false},
        {".web", false},
        {"web.", false},
        {"web..leader", false},
        {"web.-leader", false},
        {"web leader", false},
        {"web/leader", false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_dns_subdomain(c.text), c.valid) << "\"" << c.text << "\" (" << c.text.size() << " chars)";
    }
}

}  // namespace
}  // namespace elector::election
