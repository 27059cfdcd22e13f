// The ElectionGroup CustomResourceDefinition (crds/elector.dev_electiongroups.yaml)
// on a real kube-apiserver 1.20, asserted as a user sees it through kubectl:
// it installs, the schema defaults and refuses what it should, the printer
// columns show the status, spec and status are written separately, and
// `kubectl explain` shows the field descriptions.
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string crd_name = "electiongroups.elector.dev";

std::string crd_path() { return source_dir() + "/crds/elector.dev_electiongroups.yaml"; }

// An ElectionGroup in namespace default; SPEC is YAML indented under `spec:`.
std::string election_group(const std::string& name, const std::string& spec) {
    return fmt::format(
        "apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\nmetadata: {{name: {}, namespace: default}}\n"
        "spec:\n{}\n",
        name, spec);
}

// Words of each line of kubectl's table output.
std::vector<std::vector<std::string>> table(const std::string& out) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::vector<std::string> row;
        for (std::string w; words >> w;) row.push_back(w);
        if (!row.empty()) rows.push_back(std::move(row));
    }
    return rows;
}

// Runs of whitespace as one space, so that kubectl's line wrapping does not matter.
std::string squeeze(const std::string& text) {
    std::istringstream words(text);
    std::string out;
    for (std::string w; words >> w;) out += (out.empty() ? "" : " ") + w;
    return out;
}

json condition(const json& obj, const std::string& type) {
    for (const auto& c : obj["status"].value("conditions", json::array())) {
        if (c["type"] == type) return c;
    }
    return json::object();
}

// Every property below SCHEMA that has no description, as paths.
void undescribed(const json& schema, const std::string& path, std::vector<std::string>& missing) {
    if (!schema.contains("properties")) return;
    for (const auto& [name, prop] : schema["properties"].items()) {
        const std::string p = path + "." + name;
        if (name == "metadata" && path.empty()) continue;  // the API server's own
        if (prop.value("description", "").empty()) missing.push_back(p);
        undescribed(prop, p, missing);
        if (prop.contains("items")) undescribed(prop["items"], p + "[]", missing);
    }
}

class crd_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        env_ = std::make_unique<control_plane>(control_plane_options{.nodes = 1});
        // Installed once for every test; crd_applies_and_becomes_established asserts how it went.
        applied_ = env_->kubectl({"apply", "-f", crd_path()});
        established_ = env_->kubectl({"wait", "--for", "condition=established", "crd/" + crd_name, "--timeout=30s"});
    }
    static void TearDownTestSuite() { env_.reset(); }

    static const control_plane& env() { return *env_; }

    static void create(const std::string& name, const std::string& spec) {
        auto r = env().kubectl({"apply", "-f", "-"}, {.input = election_group(name, spec)});
        ASSERT_TRUE(r.ok()) << r.describe();
    }

    static json get(const std::string& name) { return env().get_json({"get", "eg", name, "-n", "default"}); }

    // PUT to the status subresource (kubectl 1.20 has no --subresource): the
    // object as read, with STATUS and, to prove it is ignored, SPEC_CHANGE merged into spec.
    static json write_status(const std::string& name, const json& status, const json& spec_change = json::object()) {
        auto obj = get(name);
        obj["status"] = status;
        obj["spec"].update(spec_change);
        auto r = env().kubectl(
            {"replace", "--raw", "/apis/elector.dev/v1alpha1/namespaces/default/electiongroups/" + name + "/status", "-f", "-"},
            {.input = obj.dump()});
        if (!r.ok()) throw std::runtime_error("status write: " + r.describe());
        return json::parse(r.out);
    }

    static json sample_status() {
        return {{"leader", "web-7d4b9c-abcde"},
                {"term", 4},
                {"leaseName", "columns-lease"},
                {"candidates", {{"ready", 2}, {"total", 3}}},
                {"candidatesReady", "2/3"},
                {"lastTransitionTime", "2025-01-02T03:04:05Z"},
                {"lastTransitionReason", "LeaseExpired"},
                {"observedGeneration", 1},
                {"conditions", json::array({json::object({{"type", "LeaderElected"},
                                                          {"status", "True"},
                                                          {"observedGeneration", 1},
                                                          {"lastTransitionTime", "2025-01-02T03:04:05Z"},
                                                          {"reason", "LeaseAcquired"},
                                                          {"message", "web-7d4b9c-abcde holds the lease"}})})}};
    }

    static inline std::unique_ptr<control_plane> env_;
    static inline run_result applied_;
    static inline run_result established_;
};

TEST_F(crd_test, crd_applies_and_becomes_established) {
    ASSERT_TRUE(applied_.ok()) << applied_.describe();
    EXPECT_NE(applied_.out.find("customresourcedefinition.apiextensions.k8s.io/" + crd_name + " created"),
              std::string::npos)
        << applied_.out;
    ASSERT_TRUE(established_.ok()) << established_.describe();

    auto crd = env().get_json({"get", "crd", crd_name});
    EXPECT_EQ(condition(crd, "Established")["status"], "True") << crd["status"].dump();
    EXPECT_EQ(condition(crd, "NamesAccepted")["status"], "True") << crd["status"].dump();
    EXPECT_EQ(crd["metadata"]["labels"]["app.kubernetes.io/name"], "elector");
    EXPECT_EQ(crd["metadata"]["labels"]["app.kubernetes.io/part-of"], "elector");
    const auto& names = crd["status"]["acceptedNames"];
    EXPECT_EQ(names["kind"], "ElectionGroup");
    EXPECT_EQ(names["listKind"], "ElectionGroupList");
    EXPECT_EQ(names["singular"], "electiongroup");
    EXPECT_EQ(names["shortNames"], json::array({"eg"}));
    EXPECT_EQ(names["categories"], json::array({"elector"}));
    EXPECT_EQ(crd["spec"]["scope"], "Namespaced");
    ASSERT_EQ(crd["spec"]["versions"].size(), 1u);
    const auto& version = crd["spec"]["versions"][0];
    EXPECT_EQ(version["name"], "v1alpha1");
    EXPECT_TRUE(version["served"].get<bool>());
    EXPECT_TRUE(version["storage"].get<bool>());
    EXPECT_EQ(version["subresources"], json::object({{"status", json::object()}}));

    // Descriptions everywhere: `kubectl explain` shows them.
    std::vector<std::string> missing;
    undescribed(version["schema"]["openAPIV3Schema"], "", missing);
    EXPECT_TRUE(missing.empty()) << "fields without a description: " << fmt::format("{}", fmt::join(missing, ", "));

    // Applying the same file again changes nothing.
    auto again = env().kubectl({"apply", "-f", crd_path()});
    ASSERT_TRUE(again.ok()) << again.describe();
    EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
}

TEST_F(crd_test, an_election_group_with_only_a_target_name_gets_every_default) {
    create("defaults", "  targetRef: {name: web}");
    const auto spec = get("defaults")["spec"];
    EXPECT_EQ(spec,
              json::object({{"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
                    {"leaseDuration", "15s"},
                    {"renewDeadline", "10s"},
                    {"retryPeriod", "2s"},
                    {"leaderLabel", {{"key", "role"}, {"value", "leader"}}},
                    {"notReadyPolicy", "WaitForLeaseExpiry"},
                    {"paused", false}}))
        << spec.dump();  // and no leaseName or preferredLeader: elector, not the schema, defaults the name

    // A leaderLabel given in part gets the rest.
    create("partial-label", "  targetRef: {name: web}\n  leaderLabel: {value: primary}");
    EXPECT_EQ(get("partial-label")["spec"]["leaderLabel"], json::object({{"key", "role"}, {"value", "primary"}}));
}

TEST_F(crd_test, the_quickstart_example_is_accepted_as_written) {
    auto r = env().kubectl({"apply", "--dry-run=server", "-o", "json", "-f",
                            source_dir() + "/examples/quickstart/electiongroup.yaml"});
    ASSERT_TRUE(r.ok()) << r.describe();
    auto obj = json::parse(r.out);
    EXPECT_EQ(obj["metadata"]["name"], "quickstart");
    EXPECT_EQ(obj["metadata"]["namespace"], "default");
    EXPECT_EQ(obj["spec"]["targetRef"]["name"], "quickstart");
    EXPECT_EQ(obj["spec"]["leaseDuration"], "15s");
    EXPECT_EQ(obj["spec"]["renewDeadline"], "10s");
    EXPECT_EQ(obj["spec"]["retryPeriod"], "2s");
}

TEST_F(crd_test, get_prints_the_columns_and_the_status_fills_them) {
    create("columns", "  targetRef: {name: web}");

    auto r = env().kubectl({"get", "eg", "columns", "-n", "default"});
    ASSERT_TRUE(r.ok()) << r.describe();
    auto rows = table(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"NAME", "TARGET", "LEADER", "TERM", "READY", "AGE"})) << r.out;
    EXPECT_EQ(rows[1][0], "columns");
    EXPECT_EQ(rows[1][1], "web");
    EXPECT_EQ(rows[1].size(), 3u) << "no status yet: only NAME, TARGET and AGE have a value\n" << r.out;

    r = env().kubectl({"get", "eg", "columns", "-n", "default", "-o", "wide"});
    ASSERT_TRUE(r.ok()) << r.describe();
    rows = table(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"NAME", "TARGET", "LEADER", "TERM", "READY", "AGE", "LEASE",
                                                 "POLICY", "REASON", "PAUSED", "PREFERRED"}))
        << r.out;
    ASSERT_GE(rows[1].size(), 2u) << r.out;
    EXPECT_EQ(rows[1][rows[1].size() - 2], "WaitForLeaseExpiry") << r.out;
    EXPECT_EQ(rows[1].back(), "false") << "spec.paused defaults to false\n" << r.out;

    write_status("columns", sample_status());

    r = env().kubectl({"get", "eg", "columns", "-n", "default"});
    ASSERT_TRUE(r.ok()) << r.describe();
    rows = table(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    ASSERT_EQ(rows[1].size(), 6u) << r.out;
    EXPECT_EQ((std::vector<std::string>(rows[1].begin(), rows[1].begin() + 5)),
              (std::vector<std::string>{"columns", "web", "web-7d4b9c-abcde", "4", "2/3"}))
        << r.out;

    r = env().kubectl({"get", "eg", "columns", "-n", "default", "-o", "wide"});
    ASSERT_TRUE(r.ok()) << r.describe();
    rows = table(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    ASSERT_EQ(rows[1].size(), 10u) << r.out;
    EXPECT_EQ((std::vector<std::string>(rows[1].begin() + 6, rows[1].end())),
              (std::vector<std::string>{"columns-lease", "WaitForLeaseExpiry", "LeaseExpired", "false"}))
        << r.out;

    // The category lists it too; `kubectl get all` does not.
    r = env().kubectl({"get", "elector", "-n", "default", "-o", "name"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_NE(r.out.find("electiongroup.elector.dev/columns"), std::string::npos) << r.out;
    r = env().kubectl({"get", "all", "-n", "default", "-o", "name"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out.find("electiongroup"), std::string::npos) << r.out;
}

TEST_F(crd_test, the_schema_refuses_invalid_specs_and_names_the_field) {
    struct invalid {
        std::string what;
        std::string spec;
        std::string field;  // as the error names it
    };
    const std::vector<invalid> cases{
        {"no target name", "  targetRef: {kind: Deployment}", "name"},
        {"empty target name", "  targetRef: {name: \"\"}", "spec.targetRef.name"},
        {"a duration in words", "  targetRef: {name: web}\n  leaseDuration: 15 seconds", "spec.leaseDuration"},
        {"a duration without a unit", "  targetRef: {name: web}\n  retryPeriod: \"2\"", "spec.retryPeriod"},
        {"an unknown policy", "  targetRef: {name: web}\n  notReadyPolicy: Sometimes", "spec.notReadyPolicy"},
        {"a StatefulSet target", "  targetRef: {name: web, kind: StatefulSet}", "spec.targetRef.kind"},
        {"a target in another group", "  targetRef: {name: web, apiVersion: apps/v1beta1}", "spec.targetRef.apiVersion"},
        {"paused as a word", "  targetRef: {name: web}\n  paused: \"yes\"", "spec.paused"},
        {"a preferred leader as a number", "  targetRef: {name: web}\n  preferredLeader: 7", "spec.preferredLeader"},
    };
    for (const auto& c : cases) {
        // As a user runs it (kubectl validates against the published schema
        // first), and with --validate=false so that the API server alone decides.
        for (const std::string validate : {"--validate=true", "--validate=false"}) {
            SCOPED_TRACE(c.what + " " + validate);
            auto r = env().kubectl({"apply", validate, "-f", "-"}, {.input = election_group("invalid", c.spec)});
            EXPECT_FALSE(r.ok()) << r.out;
            EXPECT_NE(r.err.find(c.field), std::string::npos) << r.err;
        }
    }
    // kubectl's own check names the missing field with its parent.
    auto r = env().kubectl({"apply", "-f", "-"}, {.input = election_group("invalid", cases[0].spec)});
    EXPECT_NE(r.err.find("ElectionGroup.spec.targetRef): missing required field \"name\""), std::string::npos)
        << r.err;
    // The server says the same in its own words.
    r = env().kubectl({"apply", "--validate=false", "-f", "-"}, {.input = election_group("invalid", cases[0].spec)});
    EXPECT_NE(r.err.find("spec.targetRef.name: Required value"), std::string::npos) << r.err;

    auto none = env().kubectl({"get", "eg", "invalid", "-n", "default"});
    EXPECT_FALSE(none.ok()) << "an invalid ElectionGroup was stored: " << none.out;

    // No spec at all.
    r = env().kubectl({"apply", "--validate=false", "-f", "-"},
                      {.input = "apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\n"
                                "metadata: {name: invalid, namespace: default}\n"});
    EXPECT_FALSE(r.ok()) << r.out;
    EXPECT_NE(r.err.find("spec"), std::string::npos) << r.err;

    // Go durations of several components and units pass.
    r = env().kubectl({"apply", "--dry-run=server", "-f", "-"},
                      {.input = election_group("durations", "  targetRef: {name: web}\n  leaseDuration: 1m30s\n"
                                                            "  renewDeadline: 1.5s\n  retryPeriod: 500ms")});
    EXPECT_TRUE(r.ok()) << r.describe();
    r = env().kubectl({"apply", "--dry-run=server", "-f", "-"},
                      {.input = election_group("durations", "  targetRef: {name: web}\n  leaseDuration: 1h\n"
                                                            "  notReadyPolicy: Immediate")});
    EXPECT_TRUE(r.ok()) << r.describe();
}

// A misspelt field: kubectl 1.20 refuses it from the published schema; the
// API server alone drops it without a word (1.20 has no field warnings).
TEST_F(crd_test, unknown_fields_are_refused_by_kubectl_and_pruned_by_the_server) {
    const auto manifest = election_group("typo", "  targetRef: {name: web}\n  leaseDurationSeconds: 30");
    auto r = env().kubectl({"apply", "-f", "-"}, {.input = manifest});
    EXPECT_FALSE(r.ok()) << r.out;
    EXPECT_NE(r.err.find("unknown field \"leaseDurationSeconds\""), std::string::npos) << r.err;

    r = env().kubectl({"apply", "--validate=false", "-f", "-"}, {.input = manifest});
    ASSERT_TRUE(r.ok()) << r.describe();
    const auto spec = get("typo")["spec"];
    EXPECT_FALSE(spec.contains("leaseDurationSeconds")) << spec.dump();
    EXPECT_EQ(spec["leaseDuration"], "15s");
}

TEST_F(crd_test, spec_and_status_are_written_separately) {
    create("split", "  targetRef: {name: web}");
    auto obj = get("split");
    EXPECT_EQ(obj["metadata"]["generation"], 1);
    EXPECT_FALSE(obj.contains("status")) << obj.dump();

    // The status subresource takes the status and ignores the spec sent with it.
    auto written = write_status("split", sample_status(), {{"notReadyPolicy", "Immediate"}, {"leaseDuration", "1h"}});
    EXPECT_EQ(written["status"]["leader"], "web-7d4b9c-abcde");
    obj = get("split");
    EXPECT_EQ(obj["status"], sample_status()) << obj["status"].dump();
    EXPECT_EQ(obj["spec"]["notReadyPolicy"], "WaitForLeaseExpiry");
    EXPECT_EQ(obj["spec"]["leaseDuration"], "15s");
    EXPECT_EQ(obj["metadata"]["generation"], 1);

    // The main resource takes the spec and ignores the status sent with it.
    auto r = env().kubectl({"patch", "eg", "split", "-n", "default", "--type", "merge", "-p",
                            R"({"spec": {"leaseDuration": "20s"}, "status": {"leader": "intruder", "term": 99}})"});
    ASSERT_TRUE(r.ok()) << r.describe();
    obj = get("split");
    EXPECT_EQ(obj["spec"]["leaseDuration"], "20s");
    EXPECT_EQ(obj["status"], sample_status()) << obj["status"].dump();
    EXPECT_EQ(obj["metadata"]["generation"], 2);

    // Metadata alone and status alone leave the generation as it is.
    r = env().kubectl({"label", "eg", "split", "-n", "default", "tier=test"});
    ASSERT_TRUE(r.ok()) << r.describe();
    auto status = sample_status();
    status["term"] = 5;
    status["observedGeneration"] = 2;
    write_status("split", status);
    obj = get("split");
    EXPECT_EQ(obj["metadata"]["generation"], 2);
    EXPECT_EQ(obj["status"]["term"], 5);
    EXPECT_EQ(obj["status"]["observedGeneration"], 2);

    // The status is checked against its schema too.
    status["conditions"][0]["status"] = "Maybe";
    EXPECT_THROW(write_status("split", status), std::runtime_error);
}

TEST_F(crd_test, explain_shows_the_field_descriptions) {
    const auto crd = env().get_json({"get", "crd", crd_name});
    const auto& spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    const std::string description = spec_schema["properties"]["notReadyPolicy"]["description"];
    ASSERT_FALSE(description.empty());

    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    run_result r;
    ASSERT_TRUE(eventually(20s, [&] {
        r = env().kubectl({"explain", "eg.spec.notReadyPolicy"});
        return r.ok();
    }, 500ms)) << r.describe();
    EXPECT_NE(r.out.find("KIND:     ElectionGroup"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("VERSION:  elector.dev/v1alpha1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("FIELD:    notReadyPolicy <string>"), std::string::npos) << r.out;
    EXPECT_NE(squeeze(r.out).find(squeeze(description)), std::string::npos) << r.out;

    r = env().kubectl({"explain", "eg.spec.targetRef"});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_NE(r.out.find("name\t<string> -required-"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace elector::testing
