// Malformed cluster data, on a real control plane: pods, Deployments, Leases
// and ElectionGroups with missing, odd or wrongly typed fields, written
// through the API (status subresources, raw PUTs, and for groups a CRD
// replaced by a permissive one, as an old or hand-edited CRD would be).
// After each test elector must still be the same process with /healthz ok
// and no sanitizer report in its log, a healthy group ("steady") must have
// kept its leader and had its Lease renewed throughout (a `kubectl get -w`
// records every renewal), and each affected group must either elect as
// usual (harmless data) or say in its conditions what is wrong.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "kube/time.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::int64_t int32_max = std::numeric_limits<std::int32_t>::max();

class malformed_test : public election_fixture {
protected:
    malformed_test() : election_fixture({.ns_prefix = "malformed", .leader_api_bind_address = "0"}) {}

    void stop_processes() override {
        if (steady_watch_) steady_watch_.reset();
        election_fixture::stop_processes();
        fmt::print("{} phases (seconds since the test began): {}\n",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), fmt::join(phases_, ", "));
    }
    // Notes when a phase ended (named after what it did), for the line above: where the time goes.
    void phase(const std::string& what) { phases_.push_back(fmt::format("{} {:.1f}", what, seconds_since(began_))); }

    // elector with its health probes on a free port.
    void start() {
        start_elector({}, {"--health-probe-bind-address=127.0.0.1:0"});
        pid_ = elector_->pid();
        health_port_ = wait_for_port("health probes");
        ASSERT_GT(health_port_, 0) << "elector did not announce its health probes";
    }

    // "CODE BODY" of GET /healthz.
    std::string healthz() const {
        auto r = run({"curl", "-s", "-m", "5", "-w", " %{http_code}", fmt::format("http://127.0.0.1:{}/healthz", health_port_)});
        return r.out;
    }

    // The same elector process, healthy, with nothing in its log that a
    // sanitizer, std::terminate or a reconcile exception writes.
    void expect_alive(const std::string& when) {
        SCOPED_TRACE(when);
        ASSERT_TRUE(elector_) << "elector is not running";
        EXPECT_TRUE(elector_->running()) << "elector exited";
        EXPECT_EQ(elector_->pid(), pid_);
        std::string health;
        EXPECT_TRUE(eventually(5s, [&] { return (health = healthz()).ends_with(" 200"); })) << "/healthz: " << health;
        const std::string log = read_text(log_);
        for (const char* bad : {"AddressSanitizer", "LeakSanitizer", "runtime error:", "terminate called",
                                "reconcile failed with an exception"}) {
            EXPECT_EQ(log.find(bad), std::string::npos) << "elector's log has \"" << bad << "\"";
        }
    }

    // ---- the healthy group, watched throughout

    // Creates the Deployment and group "steady" (lease 5s, renewed every 1s).
    void create_steady() {
        create_group("steady", {.replicas = 2, .lease_duration = "5s", .renew_deadline = "4s", .retry_period = "1s"});
    }
    // Waits for its leader, then records every change of its Lease.
    void watch_steady() {
        steady_leader_ = wait_ready("steady", 2);
        ASSERT_FALSE(steady_leader_.empty()) << "steady never elected";
        steady_transitions_ = transitions("steady");
        steady_log_ = fmt::format("{}/steady-lease-{}.json", env_->dir(), ns_);
        steady_watch_ = std::make_unique<child_process>(
            std::vector<std::string>{env_->info().at("kubectl").get<std::string>(), "--kubeconfig", env_->kubeconfig(),
                                     "get", "lease", "steady", "-n", ns_, "-w", "-o", "json"},
            steady_log_, steady_log_ + ".err");
        steady_since_ = std::chrono::system_clock::now();
    }
    // steady kept its leader, its term and its label, and its Lease was
    // never left unrenewed for a leaseDuration (5s) while the test ran.
    void expect_steady_throughout() {
        ASSERT_TRUE(steady_watch_);
        // One more renewal must show up, so that the record reaches the end of the test.
        const auto until = std::chrono::system_clock::now();
        std::vector<json> seen;
        eventually(8s, [&] {
            seen.clear();
            std::istringstream in(read_text(steady_log_));
            json j;
            try {
                while (in >> std::ws && in.peek() != EOF && (in >> j)) seen.push_back(j);
            } catch (const json::exception&) {
                // a half-written object at the end: read again
            }
            if (seen.empty()) return false;
            auto last = kube::parse_time(seen.back().value("spec", json::object()).value("renewTime", ""));
            return last && *last >= until;
        });
        steady_watch_.reset();
        ASSERT_FALSE(seen.empty()) << "no Lease seen by the watch";
        std::optional<kube::time_point> previous;
        auto longest = std::chrono::milliseconds(0);
        int renewals = 0;
        for (const auto& l : seen) {
            const json spec = l.value("spec", json::object());
            EXPECT_EQ(spec.value("holderIdentity", ""), steady_leader_);
            EXPECT_EQ(spec.value("leaseTransitions", std::int64_t{-1}), steady_transitions_);
            auto t = kube::parse_time(spec.value("renewTime", ""));
            if (!t) {
                ADD_FAILURE() << "a Lease without a renewTime: " << l.dump();
                continue;
            }
            if (previous && *t != *previous) {
                ++renewals;
                longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(*t - *previous));
            }
            previous = t;
        }
        const auto gap_to_end = previous ? std::chrono::duration_cast<std::chrono::milliseconds>(until - *previous)
                                         : std::chrono::milliseconds::max();
        longest = std::max(longest, gap_to_end);
        RecordProperty("steady_longest_renewal_gap_ms", static_cast<int>(std::min<std::int64_t>(longest.count(), 1 << 30)));
        EXPECT_LT(longest, 5s) << "steady's Lease went unrenewed for " << longest.count() << " ms (" << renewals
                               << " renewals seen)";
        const auto span = std::chrono::duration_cast<std::chrono::seconds>(until - steady_since_);
        EXPECT_GE(renewals, span.count() / 3) << "too few renewals over " << span.count() << " s";
        EXPECT_EQ(labelled("steady"), std::set<std::string>{steady_leader_});
        EXPECT_EQ(status_of(group("steady")).value("leader", ""), steady_leader_);
        EXPECT_EQ(condition(group("steady"), "Ready"), "True");
    }

    // ---- reading

    static std::string leader_of(const json& g) { return status_of(g).value("leader", ""); }
    static std::int64_t term_of(const json& g) {
        const json t = status_of(g).value("term", json());
        return t.is_number_integer() ? t.get<std::int64_t>() : -1;
    }
    static std::string reason_of(const json& g) { return status_of(g).value("lastTransitionReason", ""); }
    static std::string annotation_of(const json& p, const std::string& key) {
        return p.value("metadata", json::object()).value("annotations", json::object()).value(key, "");
    }
    // "[Ready False NoEligibleCandidate: message] ..." of group NAME, for failure messages.
    std::string conditions_of(const std::string& name) const {
        auto got = env_->kubectl({"get", "eg", name, "-n", ns_, "-o", "json"});
        if (!got.ok()) return got.describe();
        const json g = json::parse(got.out);
        std::string out;
        for (const auto& c : status_of(g).value("conditions", json::array())) {
            if (!c.is_object()) continue;
            out += fmt::format("[{} {} {}: {}] ", c.value("type", "?"), c.value("status", "?"), c.value("reason", "?"),
                               c.value("message", "?"));
        }
        return out;
    }
    // The group has condition TYPE with this status and reason, and a message
    // containing each of `words`.
    bool has_condition(const std::string& name, const std::string& type, const std::string& status,
                       const std::string& reason, const std::vector<std::string>& words = {}) const {
        auto got = env_->kubectl({"get", "eg", name, "-n", ns_, "-o", "json"});
        if (!got.ok()) return false;
        const json g = json::parse(got.out);
        if (condition(g, type) != status || condition(g, type, "reason") != reason) return false;
        const std::string message = condition(g, type, "message");
        return std::all_of(words.begin(), words.end(), [&](const auto& w) { return message.find(w) != std::string::npos; });
    }
    void expect_condition(const std::string& name, const std::string& type, const std::string& status,
                          const std::string& reason, const std::vector<std::string>& words = {},
                          std::chrono::milliseconds timeout = 15s) {
        EXPECT_TRUE(eventually(timeout, [&] { return has_condition(name, type, status, reason, words); }, 200ms))
            << name << ": want " << type << "=" << status << " " << reason << " mentioning [" << fmt::format("{}", fmt::join(words, "|"))
            << "]; have " << conditions_of(name);
    }
    std::vector<std::string> pods_of(const std::string& app) const {
        std::vector<std::string> out;
        const json listed = env_->get_json({"get", "pods", "-n", ns_, "-l", "app=" + app});
        for (const auto& p : listed["items"]) out.push_back(p["metadata"]["name"].get<std::string>());
        std::sort(out.begin(), out.end());
        return out;
    }

    // ---- writing

    // GETs the object at the API path PATH, lets `edit` change it and PUTs it
    // back to its status subresource. Pods and Deployments allow an update
    // without a resourceVersion (nothing to lose a race against: the node
    // simulator writes pod statuses too); a custom resource does not, so it
    // is retried when someone wrote in between.
    void put_status(const std::string& path, const std::function<void(json&)>& edit) {
        std::string last;
        for (int attempt = 0; attempt < 10; ++attempt) {
            auto got = env_->kubectl({"get", "--raw", path});
            ASSERT_TRUE(got.ok()) << path << ": " << got.describe();
            json object = json::parse(got.out);
            edit(object);
            if (path.find("/electiongroups/") == std::string::npos) object["metadata"].erase("resourceVersion");
            auto r = env_->kubectl({"replace", "--raw", path + "/status", "-f", "-"}, {.input = object.dump()});
            if (r.ok()) return;
            last = r.describe();
            if (last.find("Conflict") == std::string::npos && last.find("modified") == std::string::npos) break;
        }
        FAIL() << "PUT " << path << "/status: " << last;
    }
    // A JSON merge patch (null removes a field): no resourceVersion, so it
    // never loses a race against elector's renewals.
    void merge_patch(const std::string& kind, const std::string& name, const json& patch) {
        auto r = env_->kubectl({"patch", kind, name, "-n", ns_, "--type=merge", "-p", patch.dump()});
        ASSERT_TRUE(r.ok()) << kind << " " << name << " " << patch.dump() << ": " << r.describe();
    }
    std::string pod_path(const std::string& name) const { return fmt::format("/api/v1/namespaces/{}/pods/{}", ns_, name); }
    std::string group_path(const std::string& name) const {
        return fmt::format("/apis/elector.dev/v1alpha1/namespaces/{}/electiongroups/{}", ns_, name);
    }
    // Without kubectl's own validation: it may still know the CRD's old schema.
    void create_json(const json& object) {
        auto r = env_->kubectl({"create", "--validate=false", "-f", "-"}, {.input = object.dump()});
        ASSERT_TRUE(r.ok()) << object.dump() << ": " << r.describe();
    }
    json group_object(const std::string& name, const json& spec) const {
        return {{"apiVersion", "elector.dev/v1alpha1"},
                {"kind", "ElectionGroup"},
                {"metadata", {{"name", name}, {"namespace", ns_}}},
                {"spec", spec}};
    }

    std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
    std::vector<std::string> phases_;
    pid_t pid_ = -1;
    int health_port_ = 0;
    std::string steady_leader_;
    std::int64_t steady_transitions_ = 0;
    std::string steady_log_;
    std::chrono::system_clock::time_point steady_since_;
    std::unique_ptr<child_process> steady_watch_;
};

// ---- pods --------------------------------------------------------------------

TEST_F(malformed_test, pods_with_odd_data_never_crash_elector) {
    start();
    create_steady();
    create_group("odd");
    // Pods that never run: bound to a node no simulator runs (a Node object
    // without any status, so that its Ready is unknown), and unschedulable.
    env_->apply("apiVersion: v1\nkind: Node\nmetadata: {name: hand-made-node}\n");
    env_->apply(fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: ghost, namespace: {0}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: ghost}}}}
  template:
    metadata: {{labels: {{app: ghost}}}}
    spec:
      nodeName: hand-made-node
      containers: [{{name: app, image: registry.invalid/app:1}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: unscheduled, namespace: {0}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: unscheduled}}}}
  template:
    metadata: {{labels: {{app: unscheduled}}}}
    spec:
      nodeSelector: {{no-such-label: "x"}}
      containers: [{{name: app, image: registry.invalid/app:1}}]
---
{1}---
{2})",
                            ns_, group_manifest("ghost", "ghost"), group_manifest("unscheduled", "unscheduled")));
    watch_steady();
    const std::string leader = wait_ready("odd");
    ASSERT_FALSE(leader.empty());
    const auto odd_pods = pods_of("odd");
    ASSERT_EQ(odd_pods.size(), 3u);
    std::vector<std::string> followers;
    for (const auto& p : odd_pods) {
        if (p != leader) followers.push_back(p);
    }
    const std::string& f1 = followers.at(0);
    const std::string& f2 = followers.at(1);

    phase("ready");
    {
        SCOPED_TRACE("pods that never run: NoEligibleCandidate naming the pods and why");
        expect_condition("ghost", "LeaderElected", "False", "NoEligibleCandidate",
                         {"hand-made-node is unreachable or unknown"});
        expect_condition("unscheduled", "Ready", "False", "NoEligibleCandidate", {"phase Pending"});
        // A status emptied entirely (the API server keeps no phase).
        const auto ghosts = pods_of("ghost");
        ASSERT_FALSE(ghosts.empty());
        put_status(pod_path(ghosts[0]), [](json& p) { p["status"] = json::object(); });
        EXPECT_EQ(pod(ghosts[0]).value("status", json::object()), json::object());
        expect_condition("ghost", "LeaderElected", "False", "NoEligibleCandidate", {ghosts[0] + " (its node"});
    }
    phase("never-running");
    {
        SCOPED_TRACE("pods of no Deployment: empty labels; an owner ReplicaSet that does not exist");
        env_->apply(fmt::format(R"(apiVersion: v1
kind: Pod
metadata: {{name: bare, namespace: {0}, labels: {{}}, annotations: {{}}}}
spec:
  nodeName: {1}
  containers: [{{name: app, image: registry.invalid/app:1}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: adopted-by-nobody
  namespace: {0}
  labels: {{app: odd}}
  ownerReferences:
  - {{apiVersion: apps/v1, kind: ReplicaSet, name: odd-gone, uid: 00000000-0000-0000-0000-000000000001, controller: true}}
spec:
  nodeName: {1}
  containers: [{{name: app, image: registry.invalid/app:1}}]
)",
                                ns_, env_->node_names().at(0)));
    }
    phase("no-deployment");
    {
        SCOPED_TRACE("huge annotations (240 KiB) and 300 labels on the leader and a follower");
        json labels = json::object();
        for (int i = 0; i < 300; ++i) labels[fmt::format("extra-{}", i)] = fmt::format("v{}", i);
        const json patch = {{"metadata", {{"annotations", {{"example.com/blob", std::string(240 * 1024, 'x')}}}, {"labels", labels}}}};
        // Too long for one command-line argument: from a file.
        const std::string file = fmt::format("{}/big-patch-{}.json", env_->dir(), ns_);
        ASSERT_TRUE(run({"sh", "-c", "cat > " + file}, {.input = patch.dump()}).ok());
        for (const auto& p : {leader, f1}) {
            auto r = env_->kubectl({"patch", "pod", p, "-n", ns_, "--type=merge", "--patch-file", file});
            ASSERT_TRUE(r.ok()) << r.describe();
        }
        EXPECT_EQ(annotation_of(pod(leader), "example.com/blob").size(), 240u * 1024);
    }
    phase("huge");
    {
        SCOPED_TRACE("a garbage elector.dev/term on the leader and a follower");
        const std::pair<std::string, std::string> garbage[] = {{"abc", "-5"}, {"99999999999999999999", ""}};
        for (const auto& [on_leader, on_follower] : garbage) {
            SCOPED_TRACE("terms \"" + on_leader + "\" and \"" + on_follower + "\"");
            auto r = env_->kubectl({"annotate", "--overwrite", "pod", leader, "-n", ns_, "elector.dev/term=" + on_leader});
            ASSERT_TRUE(r.ok()) << r.describe();
            r = env_->kubectl({"annotate", "--overwrite", "pod", f1, "-n", ns_, "elector.dev/term=" + on_follower});
            ASSERT_TRUE(r.ok()) << r.describe();
            EXPECT_TRUE(eventually(10s, [&] {
                return annotation_of(pod(leader), "elector.dev/term") == "1" &&
                       !pod(f1).value("metadata", json::object()).value("annotations", json::object()).contains("elector.dev/term");
            })) << "leader's term " << annotation_of(pod(leader), "elector.dev/term") << ", follower's "
                << annotation_of(pod(f1), "elector.dev/term");
        }
    }
    phase("terms");
    {
        SCOPED_TRACE("odd statuses: a container the spec does not have, terminated with a huge restart count; "
                     "conditions of unknown types and status Maybe; Ready without lastTransitionTime");
        const auto odd_status = [](json& p) {
            auto& st = p["status"];
            st["containerStatuses"].push_back({{"name", "not-in-the-spec"},
                                               {"ready", false},
                                               {"restartCount", int32_max},
                                               {"image", "registry.invalid/x:1"},
                                               {"imageID", ""},
                                               {"state", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}});
            st["conditions"].push_back({{"type", "example.com/Custom"}, {"status", "Maybe"}});
            for (auto& c : st["conditions"]) {
                if (c.value("type", "") == "Ready") c.erase("lastTransitionTime");
            }
        };
        put_status(pod_path(f1), odd_status);
        put_status(pod_path(leader), odd_status);
        // A follower whose Ready is "Maybe" (the node simulator sets it back).
        put_status(pod_path(f2), [](json& p) {
            for (auto& c : p["status"]["conditions"]) {
                if (c.value("type", "") == "Ready") c["status"] = "Maybe";
            }
        });
        // Something elector must act on after those: it has seen them too.
        auto r = env_->kubectl({"annotate", "--overwrite", "pod", f2, "-n", ns_, "elector.dev/term=7"});
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_TRUE(eventually(10s, [&] { return annotation_of(pod(f2), "elector.dev/term").empty(); }));
        const json g = group("odd");
        EXPECT_EQ(leader_of(g), leader) << "a status entry for a container that does not exist moved leadership";
        EXPECT_EQ(term_of(g), 1);
        EXPECT_EQ(transitions("odd"), 0);
        EXPECT_EQ(labelled("odd"), std::set<std::string>{leader});
        // The pod owned by a ReplicaSet that does not exist is no candidate.
        EXPECT_EQ(status_of(g).value("candidates", json::object()).value("total", 0), 3);
    }
    expect_alive("after the odd pods");
    phase("odd-statuses");
    {
        SCOPED_TRACE("the leader's own container restarted 2147483647 times: a crash, handed over at once");
        put_status(pod_path(leader), [](json& p) {
            for (auto& c : p["status"]["containerStatuses"]) {
                if (c.value("name", "") == "app") c["restartCount"] = int32_max;
            }
        });
        std::string next;
        EXPECT_TRUE(eventually(10s, [&] {
            const json g = group("odd");
            next = leader_of(g);
            return next != leader && !next.empty() && reason_of(g) == "LeaderCrashed" && term_of(g) == 2 &&
                   labelled("odd") == std::set<std::string>{next};
        })) << conditions_of("odd");
    }
    phase("last step");
    expect_steady_throughout();
    phase("steady checked");
    expect_alive("at the end");
}

// ---- Deployments -----------------------------------------------------------

TEST_F(malformed_test, deployments_with_odd_data_never_crash_elector) {
    start();
    create_steady();
    // A selector with matchExpressions only, and a field the API does not know
    // (dropped by the API server: harmless).
    auto applied = env_->kubectl({"apply", "--validate=false", "-f", "-"},
                                 {.input = fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: expr, namespace: {0}}}
spec:
  replicas: 2
  noSuchField: {{nested: [1, 2]}}
  selector:
    matchExpressions:
    - {{key: app, operator: In, values: [expr]}}
    - {{key: tier, operator: NotIn, values: [db]}}
  template:
    metadata: {{labels: {{app: expr}}}}
    spec:
      containers: [{{name: app, image: registry.invalid/app:1}}]
---
{1}---
{2}---
{3})",
                                                        ns_, group_manifest("expr", "expr"),
                                                        deployment_manifest("zero", {.replicas = 0}),
                                                        group_manifest("zero", "zero"))});
    ASSERT_TRUE(applied.ok()) << applied.describe();
    create_group("again", {.replicas = 2});
    // A group whose Deployment does not exist yet.
    env_->apply(group_manifest("later", "later"));
    watch_steady();

    expect_condition("zero", "Ready", "False", "NoCandidates", {"Deployment zero has no pods"});
    expect_condition("later", "Ready", "False", "TargetNotFound", {"Deployment later not found"});
    const std::string expr_leader = wait_ready("expr", 2);
    EXPECT_FALSE(expr_leader.empty()) << conditions_of("expr");
    phase("ready");
    {
        SCOPED_TRACE("a Deployment whose status was emptied (the controller writes it again)");
        put_status(fmt::format("/apis/apps/v1/namespaces/{}/deployments/expr", ns_),
                   [](json& d) { d["status"] = json::object(); });
    }
    phase("emptied-status");
    {
        SCOPED_TRACE("the target created after the group");
        env_->apply(deployment_manifest("later", {.replicas = 2}));
        EXPECT_FALSE(wait_ready("later", 2).empty()) << conditions_of("later");
    }
    phase("created-late");
    {
        SCOPED_TRACE("the target deleted and created again: a pod of the new one leads");
        const std::string first = wait_ready("again", 2);
        ASSERT_FALSE(first.empty());
        const auto old_pods = pods_of("again");
        auto r = env_->kubectl({"delete", "deployment", "again", "-n", ns_, "--wait=false"});
        ASSERT_TRUE(r.ok()) << r.describe();
        expect_condition("again", "Ready", "False", "TargetNotFound", {"Deployment again not found"});
        env_->apply(deployment_manifest("again", {.replicas = 2}));
        std::string next;
        EXPECT_TRUE(eventually(30s, [&] {
            const json g = group("again");
            next = leader_of(g);
            return !next.empty() && std::find(old_pods.begin(), old_pods.end(), next) == old_pods.end() &&
                   condition(g, "Ready") == "True" && labelled("again") == std::set<std::string>{next};
        })) << "leader " << next << "; " << conditions_of("again");
    }
    EXPECT_EQ(leader_of(group("expr")), expr_leader);
    phase("last step");
    expect_steady_throughout();
    phase("steady checked");
    expect_alive("at the end");
}

// ---- Leases ----------------------------------------------------------------

TEST_F(malformed_test, odd_leases_before_and_while_elector_runs) {
    // Before elector runs: groups whose Leases already exist, owned by the
    // group (as if elector had written them and someone edited them since)
    // but odd; and one that belongs to nobody.
    create_steady();
    std::string manifests = group_manifest("live", "live") + "---\n" + deployment_manifest("live");
    for (const char* name : {"nospec", "noholder", "ghostholder", "exhausted", "foreign"}) {
        manifests += "---\n" + deployment_manifest(name, {.replicas = 1}) + "---\n" + group_manifest(name, name);
    }
    env_->apply(manifests);
    std::map<std::string, std::string> uids;
    const json groups = env_->get_json({"get", "eg", "-n", ns_});
    for (const auto& g : groups["items"]) {
        uids[g["metadata"]["name"].get<std::string>()] = g["metadata"]["uid"].get<std::string>();
    }
    json leases = json::array();
    const auto owned_lease = [&](const std::string& name, const json& spec, bool labelled_as_elector) {
        json metadata = {{"name", name},
                         {"namespace", ns_},
                         {"ownerReferences",
                          {{{"apiVersion", "elector.dev/v1alpha1"}, {"kind", "ElectionGroup"}, {"name", name},
                            {"uid", uids[name]}, {"controller", true}}}}};
        if (labelled_as_elector) {
            metadata["labels"] = {{"app.kubernetes.io/managed-by", "elector"}, {"elector.dev/group", name}};
        }
        json lease = {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", metadata}};
        if (!spec.is_null()) lease["spec"] = spec;
        leases.push_back(std::move(lease));
    };
    owned_lease("nospec", json(), false);  // not labelled: elector finds it only when its create fails
    owned_lease("noholder", {{"holderIdentity", ""}}, true);
    owned_lease("ghostholder",
                {{"holderIdentity", "pod-that-never-existed"},
                 {"renewTime", "9999-12-31T23:59:59.999999Z"},
                 {"acquireTime", "1970-01-01T00:00:00.000000Z"}},
                true);
    owned_lease("exhausted", {{"holderIdentity", "pod-that-never-existed"}, {"leaseTransitions", int32_max}}, true);
    leases.push_back({{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata", {{"name", "foreign"}, {"namespace", ns_}}}});
    create_json({{"apiVersion", "v1"}, {"kind", "List"}, {"items", leases}});
    start();
    watch_steady();

    phase("ready");
    {
        SCOPED_TRACE("a Lease without spec, or with no holder: a pod is elected, continuing the Lease's term");
        for (const char* name : {"nospec", "noholder"}) {
            const std::string leader = wait_ready(name, 1);
            EXPECT_FALSE(leader.empty()) << name << ": " << conditions_of(name);
            const json g = group(name);
            EXPECT_EQ(reason_of(g), "Elected") << name;
            EXPECT_EQ(term_of(g), 2) << name << ": the Lease said term 1 (leaseTransitions 0)";
            EXPECT_EQ(transitions(name), 1) << name;
        }
    }
    phase("no-holder");
    {
        SCOPED_TRACE("a holder that never existed, renewed \"until\" 9999: replaced at once (elector keeps its own time)");
        const std::string leader = wait_ready("ghostholder", 1);
        EXPECT_FALSE(leader.empty()) << conditions_of("ghostholder");
        EXPECT_EQ(reason_of(group("ghostholder")), "LeaderDeleted");
        const json spec = lease("ghostholder")["spec"];
        EXPECT_EQ(spec.value("holderIdentity", ""), leader);
        EXPECT_EQ(spec.value("leaseDurationSeconds", 0), 3);
        EXPECT_TRUE(spec.value("renewTime", "").starts_with("20")) << spec.dump();
        EXPECT_TRUE(spec.value("acquireTime", "").starts_with("20")) << spec.dump();
    }
    phase("ghost-holder");
    {
        SCOPED_TRACE("leaseTransitions 2147483647: no new term fits; TermExhausted, nothing written");
        expect_condition("exhausted", "Ready", "False", "TermExhausted", {"2147483648", "recreate ElectionGroup exhausted"});
        expect_condition("exhausted", "LeaderElected", "False", "TermExhausted");
        EXPECT_TRUE(labelled("exhausted").empty());
        EXPECT_EQ(lease("exhausted")["spec"].value("holderIdentity", ""), "pod-that-never-existed");
        // Deleting the Lease starts again from the group's own term.
        auto r = env_->kubectl({"delete", "lease", "exhausted", "-n", ns_});
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_FALSE(wait_ready("exhausted", 1).empty()) << conditions_of("exhausted");
        EXPECT_EQ(term_of(group("exhausted")), 1);
    }
    phase("exhausted");
    {
        SCOPED_TRACE("a Lease that belongs to nobody: LeaseConflict until it is gone");
        expect_condition("foreign", "Ready", "False", "LeaseConflict", {"holder \"\"", "no owner"});
        EXPECT_TRUE(labelled("foreign").empty());
        auto r = env_->kubectl({"delete", "lease", "foreign", "-n", ns_});
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_FALSE(wait_ready("foreign", 1).empty()) << conditions_of("foreign");
    }

    // While elector runs: the Lease of "live" edited into odd shapes. Each is
    // rewritten for the leader in its own term (a repair, no transition).
    const std::string leader = wait_ready("live");
    ASSERT_FALSE(leader.empty());
    const auto repaired = [&] {
        const json spec = lease("live")["spec"];
        return spec.value("holderIdentity", "") == leader && spec.value("leaseDurationSeconds", 0) == 3 &&
               spec.value("leaseTransitions", -1) == 0 && spec.value("renewTime", "").starts_with("20") &&
               spec.value("acquireTime", "").starts_with("20");
    };
    const std::pair<const char*, json> edits[] = {
        {"no spec", {{"spec", nullptr}}},
        {"empty holderIdentity", {{"spec", {{"holderIdentity", ""}}}}},
        {"a holder that does not exist, no leaseDurationSeconds, renewTime in 9999, acquireTime in 1970",
         {{"spec",
           {{"holderIdentity", "pod-that-never-existed"},
            {"leaseDurationSeconds", nullptr},
            {"renewTime", "9999-12-31T23:59:59.999999Z"},
            {"acquireTime", "1970-01-01T00:00:00.000000Z"}}}}},
        {"no renewTime and no leaseDurationSeconds", {{"spec", {{"renewTime", nullptr}, {"leaseDurationSeconds", nullptr}}}}},
    };
    for (const auto& [what, patch] : edits) {
        SCOPED_TRACE(what);
        merge_patch("lease", "live", patch);
        EXPECT_TRUE(eventually(10s, repaired)) << lease("live")["spec"].dump();
        const json g = group("live");
        EXPECT_EQ(leader_of(g), leader);
        EXPECT_EQ(term_of(g), 1);
        EXPECT_EQ(labelled("live"), std::set<std::string>{leader});
    }
    phase("foreign-and-lease-edits");
    {
        SCOPED_TRACE("leaseTransitions raised to 2147483647: the leader goes on in that term");
        merge_patch("lease", "live", {{"spec", {{"leaseTransitions", int32_max}}}});
        EXPECT_TRUE(eventually(10s, [&] {
            const json g = group("live");
            return leader_of(g) == leader && term_of(g) == int32_max + 1 &&
                   annotation_of(pod(leader), "elector.dev/term") == "2147483648";
        })) << conditions_of("live");
        EXPECT_EQ(reason_of(group("live")), "LeaseChanged");
        EXPECT_EQ(condition(group("live"), "Ready"), "True");
        // Then the leader is deleted: a handover would need term 2147483649.
        auto r = env_->kubectl({"delete", "pod", leader, "-n", ns_, "--wait=false"});
        ASSERT_TRUE(r.ok()) << r.describe();
        expect_condition("live", "Ready", "False", "TermExhausted", {"2147483648"});
        EXPECT_EQ(lease("live")["spec"].value("leaseTransitions", std::int64_t{0}), int32_max);
        // What the message says to do: recreate the group.
        r = env_->kubectl({"delete", "eg", "live", "-n", ns_, "--timeout=20s"});
        ASSERT_TRUE(r.ok()) << r.describe();
        env_->apply(group_manifest("live", "live"));
        const std::string next = wait_ready("live");
        EXPECT_FALSE(next.empty()) << conditions_of("live");
        EXPECT_EQ(term_of(group("live")), 1);
    }
    phase("last step");
    expect_steady_throughout();
    phase("steady checked");
    expect_alive("at the end");
}

// ---- ElectionGroups --------------------------------------------------------

// The real CRD, applied again however the test ends.
struct real_crd {
    const control_plane& env;
    ~real_crd() {
        env.kubectl({"replace", "-f", source_dir() + "/crds/elector.dev_electiongroups.yaml"});
    }
};

const char* const permissive_crd = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: electiongroups.elector.dev}
spec:
  group: elector.dev
  scope: Namespaced
  names: {kind: ElectionGroup, listKind: ElectionGroupList, plural: electiongroups, singular: electiongroup, shortNames: [eg]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {x-kubernetes-preserve-unknown-fields: true}
          status: {x-kubernetes-preserve-unknown-fields: true}
)";

// Runs last: it swaps the CRD for one without validation (a cluster may run
// an old or hand-edited CRD) and puts the real one back at the end.
TEST_F(malformed_test, groups_with_wrong_types_report_invalid_spec_and_recover) {
    start();
    create_steady();
    create_group("st", {.replicas = 2});
    create_group("fixme", {.replicas = 1});  // its group is replaced by a bad one below
    watch_steady();
    ASSERT_FALSE(wait_ready("st", 2).empty());

    real_crd restore{*env_};
    auto replaced = env_->kubectl({"replace", "-f", "-"}, {.input = permissive_crd});
    ASSERT_TRUE(replaced.ok()) << replaced.describe();
    // Wait until the API server validates with the new schema.
    ASSERT_TRUE(eventually(30s, [&] {
        auto r = env_->kubectl({"create", "--dry-run=server", "--validate=false", "-f", "-"},
                               {.input = group_object("probe", {{"targetRef", {{"name", "x"}}}, {"leaseDuration", 15}}).dump()});
        return r.ok();
    }, 200ms)) << "the permissive CRD never took effect";

    struct bad_group {
        const char* name;
        json spec;
        std::vector<std::string> words;  // the message names the field
    };
    const std::vector<bad_group> bad = {
        {"duration-number", {{"targetRef", {{"name", "x"}}}, {"leaseDuration", 15}}, {"spec.leaseDuration", "duration"}},
        {"duration-abc", {{"targetRef", {{"name", "x"}}}, {"leaseDuration", "abc"}}, {"spec.leaseDuration"}},
        {"duration-negative", {{"targetRef", {{"name", "x"}}}, {"leaseDuration", "-5s"}}, {"spec.leaseDuration", "negative"}},
        {"duration-zero", {{"targetRef", {{"name", "x"}}}, {"leaseDuration", "0s"}}, {"spec.leaseDuration: 0s"}},
        {"target-string", {{"targetRef", "x"}}, {"spec.targetRef: must be an object, not a string"}},
        {"target-list", {{"targetRef", json::array()}}, {"spec.targetRef: must be an object, not an array"}},
        {"target-empty", {{"targetRef", json::object()}}, {"spec.targetRef.name: required"}},
        {"target-name-number", {{"targetRef", {{"name", 7}}}}, {"spec.targetRef.name: must be a string, not a number"}},
        {"spec-null", nullptr, {"spec: required"}},
        {"spec-list", json::array({1, 2}), {"spec: must be an object, not an array"}},
        {"label-key-invalid", {{"targetRef", {{"name", "x"}}}, {"leaderLabel", {{"key", "bad key!"}}}},
         {"spec.leaderLabel.key", "bad key!"}},
        {"label-key-number", {{"targetRef", {{"name", "x"}}}, {"leaderLabel", {{"key", 5}}}},
         {"spec.leaderLabel.key: must be a string, not a number"}},
        {"paused-yes", {{"targetRef", {{"name", "x"}}}, {"paused", "yes"}}, {"spec.paused", "yes"}},
    };
    // A group whose Deployment exists, with a number for a duration: fixed below.
    auto r = env_->kubectl({"delete", "eg", "fixme", "-n", ns_, "--timeout=20s"});
    ASSERT_TRUE(r.ok()) << r.describe();
    json items = json::array({group_object("fixme", {{"targetRef", {{"name", "fixme"}}}, {"leaseDuration", 3},
                                                     {"renewDeadline", "2s"}, {"retryPeriod", "1s"}})});
    for (const auto& b : bad) items.push_back(group_object(b.name, b.spec));
    create_json({{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}});
    // Every one: InvalidSpec=True and Ready=False with reason InvalidSpec, the
    // message naming the field.
    std::vector<std::string> wrong;
    EXPECT_TRUE(eventually(20s, [&] {
        wrong.clear();
        std::map<std::string, json> by_name;
        const json listed = env_->get_json({"get", "eg", "-n", ns_});
        for (const auto& g : listed["items"]) by_name[g["metadata"]["name"].get<std::string>()] = g;
        for (const auto& b : bad) {
            if (!by_name.contains(b.name)) {
                wrong.push_back(fmt::format("{}: not found", b.name));
                continue;
            }
            const json& g = by_name[b.name];
            const std::string message = condition(g, "InvalidSpec", "message");
            const bool named = std::all_of(b.words.begin(), b.words.end(),
                                           [&](const auto& w) { return message.find(w) != std::string::npos; });
            if (condition(g, "InvalidSpec") != "True" || condition(g, "InvalidSpec", "reason") != "InvalidSpec" ||
                condition(g, "Ready") != "False" || condition(g, "Ready", "reason") != "InvalidSpec" || !named) {
                wrong.push_back(fmt::format("{}: want the message to name [{}], have {}", b.name,
                                            fmt::join(b.words, "|"), status_of(g).value("conditions", json()).dump()));
            }
        }
        return wrong.empty();
    }, 300ms)) << fmt::format("{}", fmt::join(wrong, "\n"));
    expect_condition("fixme", "InvalidSpec", "True", "InvalidSpec", {"spec.leaseDuration"});
    EXPECT_TRUE(labelled("fixme").empty());
    expect_alive("after the wrongly typed groups");

    phase("invalid-specs");
    {
        SCOPED_TRACE("a status of wrong types, written through the status subresource: elector writes it again");
        const std::string leader = leader_of(group("st"));
        put_status(group_path("st"), [](json& g) {
            g["status"]["term"] = "x";
            g["status"]["conditions"] = json::object();
            g["status"]["leader"] = 5;
            g["status"]["candidates"] = "lots";
        });
        EXPECT_TRUE(eventually(10s, [&] {
            const json g = group("st");
            return leader_of(g) == leader && term_of(g) == 1 && condition(g, "Ready") == "True" &&
                   status_of(g).value("candidates", json::object()).value("ready", 0) == 2;
        })) << status_of(group("st")).dump();
        EXPECT_EQ(labelled("st"), std::set<std::string>{leader});
        EXPECT_EQ(transitions("st"), 0);
    }
    phase("status-types");
    {
        SCOPED_TRACE("fixed: elects");
        r = env_->kubectl({"patch", "eg", "fixme", "-n", ns_, "--type=merge", "-p", R"({"spec":{"leaseDuration":"3s"}})"});
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_FALSE(wait_ready("fixme", 1).empty()) << conditions_of("fixme");
        expect_condition("fixme", "InvalidSpec", "False", "SpecValid");
    }
    // The bad groups go (elector removes their finalizers) before the real
    // CRD is back.
    std::vector<std::string> names{"delete", "eg", "-n", ns_, "--timeout=30s"};
    for (const auto& b : bad) names.insert(names.begin() + 2, b.name);
    r = env_->kubectl(names);
    EXPECT_TRUE(r.ok()) << r.describe();
    phase("last step");
    expect_steady_throughout();
    phase("steady checked");
    expect_alive("at the end");
}

}  // namespace
}  // namespace elector::testing
