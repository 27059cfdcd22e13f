#pragma once

// The fixture shared by the integration tests that run elector against a
// real control plane (election_test, lifecycle_test, repair_test, ha_test):
// one control plane per test binary with the ElectionGroup CRD applied, a
// namespace per test, a leader_watch on it that fails the test if two pods
// of one group are labelled at once, an elector child process with its log,
// and kubectl helpers. A test file derives its fixture from it, passes the
// fixture_options where it differs, and keeps only what is its own.

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control_plane.hpp"
#include "leader_watch.hpp"
#include "process.hpp"

namespace elector::testing {

// What create_group and group_manifest write. An empty string takes the
// fixture's default (fixture_options::group_defaults).
struct group_options {
    int replicas = 3;
    std::string lease_duration;
    std::string renew_deadline;
    std::string retry_period;
    std::string policy;           // notReadyPolicy; empty in the defaults too: not written
    std::string deployment_spec;  // more Deployment spec fields, YAML lines indented by two spaces
};

// What deployment_manifest writes.
struct deployment_options {
    std::string ns;       // "" = the test's namespace
    int replicas = 3;
    std::string spec;     // more spec fields, YAML lines indented by two spaces
    std::string version;  // non-empty: v=VERSION added to the selector and the pod template's labels
};

// Where the test binaries differ.
struct fixture_options {
    std::string ns_prefix = "test";   // a test's namespace is PREFIX-N
    std::string group_label = "app";  // the pods' label naming their group (leader_watch, manifests, selectors)
    group_options group_defaults{.lease_duration = "3s", .renew_deadline = "2s", .retry_period = "1s"};
    bool leader_service = false;      // create_group also writes a Service selecting the group's leader
    std::string leader_api_bind_address = "127.0.0.1:0";  // elector's --leader-api-bind-address
    std::chrono::milliseconds ready_timeout = std::chrono::seconds(30);  // wait_ready's
    std::string pod_columns = "role";  // label columns of the pod listing printed when a test fails
};

// The port elector announced for one of its servers ("serving the SERVER on
// 127.0.0.1:PORT" in the log at LOG_PATH: "leader API", "metrics", "health
// probes"), 0 if it has not (yet).
int announced_port(const std::string& log_path, const std::string& server);

class election_fixture : public ::testing::Test {
protected:
    using json = nlohmann::json;

    explicit election_fixture(fixture_options options) : options_(std::move(options)) {}

    // One control plane per test binary (each binary is its own process).
    // A fixture that needs another environment hides SetUpTestSuite and
    // calls start_environment with its options.
    static void SetUpTestSuite() { start_environment(); }
    static void TearDownTestSuite() { env_.reset(); }
    // Starts the control plane and applies the ElectionGroup CRD.
    static void start_environment(const control_plane_options& options = {.nodes = 3, .pod_grace_seconds = 0.5});

    // A fresh namespace and a leader_watch on it.
    void SetUp() override;
    // Stops the processes, fails the test on a violation leader_watch saw
    // (but those tolerated), prints logs and state if the test failed, and
    // deletes the namespace.
    void TearDown() override;

    // TearDown's steps that a fixture may change.
    virtual void stop_processes();                                // default: stop_elector() if it runs
    virtual bool tolerated(const std::string& violation) const;  // default: none
    virtual void print_logs() const;                              // default: the last elector log
    void print_state() const;                                     // pods, groups, Leases, Events
    // At TearDown, a sanitizer report in this log fails the test (elector
    // logs started by start_elector are scanned without asking).
    void scan_log(const std::string& path);

    // elector's command line: the binary, the kubeconfig, the bind addresses
    // (leader API as fixture_options say, metrics and health off), EXTRA.
    std::vector<std::string> elector_argv(const std::vector<std::string>& extra_args = {}) const;
    // Starts elector (elector_) with a new log (log_).
    void start_elector(const std::vector<std::string>& extra_env = {}, const std::vector<std::string>& extra_args = {});
    // SIGTERM, and the exit status (-1 if it did not exit normally in 10 s).
    int stop_elector();
    void kill_elector();

    // A Deployment whose pods carry GROUP_LABEL=NAME (the group label leader_watch uses).
    std::string deployment_manifest(const std::string& name, const deployment_options& o = {}) const;
    // An ElectionGroup NAME in the test's namespace for Deployment TARGET.
    std::string group_manifest(const std::string& name, const std::string& target, const group_options& o = {}) const;
    // A Deployment, (a Service for its leader,) and a group of the same name for it.
    void create_group(const std::string& name, const group_options& o = {});

    json group(const std::string& name) const;
    json lease(const std::string& name) const;
    json pod(const std::string& name) const;
    // A condition's field, "" if there is none yet.
    static std::string condition(const json& g, const std::string& type, const std::string& field = "status");
    static json status_of(const json& g);
    // Pods labelled role=leader, by kubectl: all of the namespace, or those
    // with GROUP_LABEL=GROUP_NAME (and the selector `extra`, e.g. ",v=2").
    std::set<std::string> labelled(const std::string& group_name = "", const std::string& extra = "") const;
    // Pods with GROUP_LABEL=GROUP_NAME that are not being deleted, sorted by name.
    std::vector<std::string> live_pods(const std::string& group_name) const;
    // Waits until group NAME has `ready` eligible candidates, Ready=True and
    // exactly its leader labelled among its pods (GROUP_LABEL=NAME, or =POD_GROUP);
    // returns the leader (as last seen if that never happened).
    std::string wait_ready(const std::string& name, int ready = 3);
    std::string wait_ready_on(const std::string& name, const std::string& pod_group, int ready = 3);
    std::int64_t transitions(const std::string& lease_name) const;
    // announced_port of the last elector started, waiting up to 10 s for it.
    int wait_for_port(const std::string& server) const;

    fixture_options options_;
    static inline std::unique_ptr<control_plane> env_;
    std::string ns_;
    std::string log_;                // of the last elector started
    std::vector<std::string> scanned_logs_;  // see scan_log()
    int starts_ = 0;
    std::unique_ptr<child_process> elector_;
    std::unique_ptr<leader_watch> watch_;
};

}  // namespace elector::testing
