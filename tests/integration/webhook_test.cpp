// elector's admission webhook called by the real kube-apiserver over TLS
// (issue 8): the webhook configurations of config/webhook/local with a CA of
// the test's own, every example of examples/webhook applied with kubectl and
// refused with exactly the message its comment says (or, for the valid one,
// mutated: spec.leaseName defaulted from the group's name), immutability,
// duplicate targets and the label conflict on the real Deployment, the
// webhook metrics as scraped, a rotated serving certificate picked up
// without a restart, and failurePolicy Fail: with elector down, changes to
// ElectionGroups are refused until the webhook configurations are deleted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "local_webhook.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// What the API server says when elector's validating webhook refuses; elector's message follows.
const std::string denied_marker = "admission webhook \"velectiongroup.elector.dev\" denied the request: ";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

std::string trimmed(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

run_result sh(const std::string& script) { return run({"sh", "-c", script}, {.timeout = 20s}); }

// elector's message as kubectl printed it: what follows denied_marker up to
// the end of its line; "" if the webhook did not refuse.
std::string denial(const std::string& kubectl_err) {
    const auto at = kubectl_err.find(denied_marker);
    if (at == std::string::npos) return "";
    const auto from = at + denied_marker.size();
    const auto end = kubectl_err.find('\n', from);
    return kubectl_err.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

// One file of examples/webhook: the ElectionGroup's name, and elector's
// answer as its comment states it (after "# elector answers", one problem a
// line, "#   PROBLEM"; joined by "; " as elector joins them). No answer: the
// valid example. `after`: the comment says "# Apply after:" (it is refused
// only once the Deployment and the valid group exist).
struct example {
    std::string file;
    std::string path;
    std::string name;
    std::vector<std::string> problems;
    bool after = false;

    [[nodiscard]] bool valid() const { return problems.empty(); }
    // The whole answer, for namespace NS (the comments are written for "default").
    [[nodiscard]] std::string message(const std::string& ns) const {
        std::string out;
        for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
        return replace_all(out, "ElectionGroup default/", "ElectionGroup " + ns + "/");
    }
};

std::vector<example> read_examples(const std::string& dir) {
    std::vector<example> out;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
        if (entry.path().extension() != ".yaml") continue;
        example e{.file = entry.path().filename().string(), .path = entry.path().string()};
        std::istringstream lines(read_text(e.path));
        bool answer = false;
        bool in_metadata = false;
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with("# Apply after:")) e.after = true;
            if (line.starts_with("# elector answers")) {
                answer = true;
                continue;
            }
            if (answer && line.starts_with("#   ")) {
                e.problems.push_back(trimmed(line.substr(1)));
                continue;
            }
            answer = false;
            if (line == "metadata:") in_metadata = true;
            else if (in_metadata && line.starts_with("  name: ")) {
                e.name = trimmed(line.substr(8));
                in_metadata = false;
            }
        }
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const example& a, const example& b) { return a.file < b.file; });
    return out;
}

// Prometheus text: the sum of the samples of NAME whose labels include WANT.
double sample_sum(const std::string& scrape, const std::string& name, const std::map<std::string, std::string>& want) {
    double sum = 0;
    std::istringstream lines(scrape);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with(name) || line.size() <= name.size()) continue;
        std::map<std::string, std::string> labels;
        std::size_t at = name.size();
        if (line[at] == '{') {
            ++at;
            while (at < line.size() && line[at] != '}') {
                const auto eq = line.find("=\"", at);
                if (eq == std::string::npos) break;
                std::string key = line.substr(at, eq - at);
                std::string value;
                at = eq + 2;
                while (at < line.size() && line[at] != '"') {
                    if (line[at] == '\\' && at + 1 < line.size()) ++at;
                    value += line[at++];
                }
                labels[std::move(key)] = std::move(value);
                ++at;                                     // the closing quote
                if (at < line.size() && line[at] == ',') ++at;
            }
            ++at;  // '}'
        } else if (line[at] != ' ') {
            continue;  // another metric whose name starts with NAME
        }
        const bool match = std::all_of(want.begin(), want.end(), [&](const auto& kv) {
            auto it = labels.find(kv.first);
            return it != labels.end() && it->second == kv.second;
        });
        if (match) sum += std::stod(line.substr(at));
    }
    return sum;
}

class webhook_test : public election_fixture {
protected:
    webhook_test() : election_fixture({.ns_prefix = "webhook"}) {}

    // The webhook configurations are cluster-scoped: with failurePolicy Fail
    // they would block every ElectionGroup change of the tests after this
    // one. They go first, also when the test failed.
    void TearDown() override {
        delete_configurations();
        election_fixture::TearDown();
    }

    run_result delete_configurations() const { return delete_local_webhooks(*env_); }

    // A CA and two serving certificates it signed (SAN IP:127.0.0.1),
    // serials A1 and B2, under certs_ (ca.crt, a.crt, a.key, b.crt, b.key).
    void make_certificates() {
        certs_ = fmt::format("{}/webhook-certs-{}", env_->dir(), ns_);
        cert_dir_ = certs_ + "/serving";
        std::filesystem::create_directories(cert_dir_);
        ASSERT_EQ(make_test_ca(certs_), "");
        ASSERT_EQ(make_serving_certificate(certs_, "a", "0xA1"), "");
        ASSERT_EQ(make_serving_certificate(certs_, "b", "0xB2"), "");
    }

    // The serving pair NAME ("a", "b") into cert_dir_ as a rotation writes
    // it: each file written beside and renamed over the old one.
    void install(const std::string& name) const {
        for (const auto& ext : {"crt", "key"}) {
            const std::string target = fmt::format("{}/tls.{}", cert_dir_, ext);
            std::filesystem::copy_file(fmt::format("{}/{}.{}", certs_, name, ext), target + ".new",
                                       std::filesystem::copy_options::overwrite_existing);
            std::filesystem::rename(target + ".new", target);
        }
    }

    // The serial of the certificate a new TLS connection to the webhook port presents ("serial=A1"), "" if none.
    std::string served_serial() const {
        auto r = sh(fmt::format(
            "openssl s_client -connect 127.0.0.1:{} </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null",
            webhook_port_));
        return trimmed(r.out);
    }

    // Certificates (A served), elector serving the webhook and metrics, the
    // webhook configurations applied and in effect.
    void serve_webhook() {
        const auto started = std::chrono::steady_clock::now();
        make_certificates();
        if (HasFatalFailure()) return;
        install("a");
        webhook_port_ = free_port();
        ASSERT_GT(webhook_port_, 0);
        start_elector({}, {"--metrics-bind-address=127.0.0.1:0", "--webhook-host=127.0.0.1",
                           fmt::format("--webhook-port={}", webhook_port_), "--webhook-cert-dir=" + cert_dir_});
        ASSERT_EQ(wait_for_port("webhook"), webhook_port_) << "elector does not say it serves the webhook";
        metrics_port_ = wait_for_port("metrics");
        ASSERT_GT(metrics_port_, 0);
        ASSERT_EQ(served_serial(), "serial=A1");

        ASSERT_EQ(apply_local_webhooks(*env_, webhook_port_, certs_, ns_), "");
        std::cout << fmt::format("[ figures  ] certificates, elector and webhook configurations in effect after {:.1f} s\n",
                                 seconds_since(started));
    }

    std::string scrape() const {
        httplib::Client client("127.0.0.1", metrics_port_);
        client.set_read_timeout(5, 0);
        auto r = client.Get("/metrics");
        return r && r->status == 200 ? r->body : "";
    }

    run_result apply_file(const std::string& path) const { return env_->kubectl({"apply", "-n", ns_, "-f", path}); }
    run_result apply_text(const std::string& manifest) const {
        return env_->kubectl({"apply", "-n", ns_, "-f", "-"}, {.input = manifest});
    }
    std::string field(const std::string& group, const std::string& jsonpath) const {
        return env_->kubectl({"get", "eg", group, "-n", ns_, "-o", "jsonpath={" + jsonpath + "}"}).out;
    }
    bool exists(const std::string& group) const { return env_->kubectl({"get", "eg", group, "-n", ns_}).ok(); }

    std::string certs_;
    std::string cert_dir_;
    int webhook_port_ = 0;
    int metrics_port_ = 0;
};

TEST_F(webhook_test, every_example_is_refused_with_electors_message_and_the_valid_one_is_mutated) {
    const auto started = std::chrono::steady_clock::now();
    const auto examples = read_examples(source_dir() + "/examples/webhook");
    ASSERT_GE(examples.size(), 10u);
    const auto valid = std::find_if(examples.begin(), examples.end(), [](const example& e) { return e.valid(); });
    ASSERT_NE(valid, examples.end()) << "no valid example (one without \"# elector answers\")";
    ASSERT_EQ(std::count_if(examples.begin(), examples.end(), [](const example& e) { return e.valid(); }), 1);
    for (const auto& e : examples) ASSERT_FALSE(e.name.empty()) << e.file << ": no metadata.name found";
    ASSERT_TRUE(std::any_of(examples.begin(), examples.end(), [](const example& e) { return e.problems.size() >= 3; }))
        << "no example with several problems at once";

    serve_webhook();
    if (HasFatalFailure()) return;
    // The Deployment the examples target, so that the label conflict can be judged.
    auto app = apply_file(source_dir() + "/examples/quickstart/app.yaml");
    ASSERT_TRUE(app.ok()) << app.describe();
    const std::string before = scrape();
    ASSERT_FALSE(before.empty()) << "no metrics from elector";
    int refused_creates = 0;
    int refused_updates = 0;
    int allowed = 0;

    const auto expect_refused = [&](const example& e) {
        SCOPED_TRACE(e.file);
        ++(exists(e.name) ? refused_updates : refused_creates);
        auto r = apply_file(e.path);
        EXPECT_FALSE(r.ok()) << "applied: " << r.out;
        EXPECT_EQ(denial(r.err), e.message(ns_)) << "kubectl said:\n" << r.err;
        std::cout << "[ kubectl  ] " << e.file << ": " << trimmed(r.err) << "\n";
    };

    // 1. The examples that are wrong on their own: refused, not created.
    for (const auto& e : examples) {
        if (e.valid() || e.after) continue;
        expect_refused(e);
        EXPECT_FALSE(exists(e.name)) << e.file << " was created";
    }

    // 2. The valid example: created with spec.leaseName defaulted by the mutating webhook, and elected.
    {
        SCOPED_TRACE(valid->file);
        auto r = apply_file(valid->path);
        ASSERT_TRUE(r.ok()) << r.describe();
        ++allowed;
        EXPECT_EQ(read_text(valid->path).find("\n  leaseName:"), std::string::npos) << "the valid example sets leaseName";
        EXPECT_EQ(field(valid->name, ".spec.leaseName"), valid->name);
        const std::string leader = wait_ready(valid->name);
        ASSERT_FALSE(leader.empty()) << "the valid group was not elected";
        EXPECT_EQ(lease(valid->name)["spec"].value("holderIdentity", ""), leader);
    }

    // 3. The examples that need the Deployment and the valid group: refused,
    // and the group keeps its target and Lease.
    for (const auto& e : examples) {
        if (e.valid() || !e.after) continue;
        expect_refused(e);
        if (e.name != valid->name) {
            EXPECT_FALSE(exists(e.name)) << e.file << " was created";
        }
    }
    EXPECT_EQ(field(valid->name, ".spec.targetRef.name"), "quickstart");
    EXPECT_EQ(field(valid->name, ".spec.leaseName"), valid->name);

    // 4. What is allowed: a second group on the Deployment with another
    // leader label key (defaulted too), and an UPDATE of a mutable field.
    {
        auto r = apply_text(R"(apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata: {name: quickstart-primary}
spec:
  targetRef: {name: quickstart}
  leaderLabel: {key: example.com/primary, value: "true"}
)");
        EXPECT_TRUE(r.ok()) << r.describe();
        ++allowed;
        EXPECT_EQ(field("quickstart-primary", ".spec.leaseName"), "quickstart-primary");
        auto updated = apply_text(fmt::format(R"(apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata: {{name: {}}}
spec:
  targetRef: {{name: quickstart}}
  leaseDuration: 20s
)",
                                              valid->name));
        EXPECT_TRUE(updated.ok()) << updated.describe();
        ++allowed;
        EXPECT_EQ(field(valid->name, ".spec.leaseDuration"), "20s");
        EXPECT_EQ(field(valid->name, ".spec.leaseName"), valid->name);
    }

    // 5. The metrics agree: every refusal counted once, by reason.
    const auto delta = [&](const std::string& now, const std::string& name, const std::map<std::string, std::string>& l) {
        return sample_sum(now, name, l) - sample_sum(before, name, l);
    };
    const std::string reviews = "elector_webhook_reviews_total";
    const std::string rejections = "elector_webhook_rejections_total";
    std::string after;
    // Every request passed the mutating webhook before the validating one;
    // elector's own finalizer updates are reviews too (allowed).
    const bool settled = eventually(5s, [&] {
        after = scrape();
        return delta(after, reviews, {{"webhook", "mutate"}, {"result", "allowed"}}) ==
               delta(after, reviews, {{"webhook", "validate"}});
    });
    EXPECT_TRUE(settled) << "mutate allowed " << delta(after, reviews, {{"webhook", "mutate"}, {"result", "allowed"}})
                         << ", validate " << delta(after, reviews, {{"webhook", "validate"}});
    // A refused CREATE is one review. A refused UPDATE may be two: the API
    // server judged the patch against its watch cache's copy first and,
    // when admission failed, retries once against etcd's.
    EXPECT_EQ(delta(after, reviews, {{"webhook", "validate"}, {"operation", "CREATE"}, {"result", "denied"}}),
              refused_creates);
    const double denied_updates =
        delta(after, reviews, {{"webhook", "validate"}, {"operation", "UPDATE"}, {"result", "denied"}});
    EXPECT_GE(denied_updates, refused_updates);
    EXPECT_LE(denied_updates, 2 * refused_updates);
    EXPECT_GE(delta(after, reviews, {{"webhook", "validate"}, {"result", "allowed"}}), allowed);
    EXPECT_EQ(delta(after, reviews, {{"webhook", "validate"}, {"result", "error"}}), 0);
    EXPECT_EQ(delta(after, reviews, {{"webhook", "mutate"}, {"result", "denied"}}), 0);
    EXPECT_EQ(delta(after, rejections, {{"webhook", "validate"}}),
              delta(after, reviews, {{"webhook", "validate"}, {"result", "denied"}}));
    for (const char* reason : {"invalid_spec", "immutable_field", "duplicate_target", "label_conflict"}) {
        EXPECT_GT(delta(after, rejections, {{"webhook", "validate"}, {"reason", reason}}), 0) << reason;
    }
    EXPECT_EQ(delta(after, "elector_webhook_review_duration_seconds_count", {{"webhook", "validate"}}),
              delta(after, reviews, {{"webhook", "validate"}}));
    std::cout << fmt::format("[ figures  ] {} refused creates, {} refused updates, {} allowed applies; validate "
                             "reviews took {:.2f} ms on average; test body {:.1f} s\n",
                             refused_creates, refused_updates, allowed,
                             1000 * delta(after, "elector_webhook_review_duration_seconds_sum", {{"webhook", "validate"}}) /
                                 std::max(1.0, delta(after, "elector_webhook_review_duration_seconds_count",
                                                     {{"webhook", "validate"}})),
                             seconds_since(started));
    if (HasFailure()) {
        std::cerr << "--- webhook metrics:\n";
        std::istringstream lines(after);
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with("elector_webhook_") && !line.contains("_bucket")) std::cerr << line << "\n";
        }
    }
}

TEST_F(webhook_test, a_rotated_certificate_is_served_without_restart_and_without_elector_changes_are_refused) {
    serve_webhook();
    if (HasFatalFailure()) return;
    const auto examples = read_examples(source_dir() + "/examples/webhook");
    const auto short_retry = std::find_if(examples.begin(), examples.end(),
                                          [](const example& e) { return e.file == "retry-period-too-short.yaml"; });
    ASSERT_NE(short_retry, examples.end());
    // A valid group for a Deployment of its own name, which does not exist.
    const auto group = [](const std::string& name) {
        return fmt::format("apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\nmetadata: {{name: {0}}}\n"
                           "spec:\n  targetRef: {{name: {0}}}\n",
                           name);
    };

    // 1. Before: a valid group for a Deployment that does not exist is
    // created with a warning.
    auto first = apply_text(group("before-rotation"));
    ASSERT_TRUE(first.ok()) << first.describe();
    EXPECT_NE(first.err.find("Warning: spec.targetRef.name: Deployment before-rotation not found"), std::string::npos)
        << first.err;
    std::cout << "[ kubectl  ] " << trimmed(first.err) << "\n";

    // 2. Rotation: cert B replaces cert A in the directory; new connections get it.
    const auto rotated_at = std::chrono::steady_clock::now();
    install("b");
    std::string serial;
    EXPECT_TRUE(eventually(5s, [&] { return (serial = served_serial()) == "serial=B2"; }, 100ms))
        << "still served: " << serial;
    std::cout << fmt::format("[ figures  ] the rotated certificate served {:.2f} s after the files changed\n",
                             seconds_since(rotated_at));
    EXPECT_FALSE(read_text(log_).contains("cannot serve the webhook"));

    // 3. After: the API server still gets elector's answers, both ways.
    auto refused = apply_file(short_retry->path);
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(denial(refused.err), short_retry->message(ns_)) << refused.err;
    auto second = apply_text(group("after-rotation"));
    EXPECT_TRUE(second.ok()) << second.describe();
    EXPECT_EQ(field("after-rotation", ".spec.leaseName"), "after-rotation");
    EXPECT_TRUE(elector_ && elector_->running()) << "elector exited";

    // 4. failurePolicy Fail: elector down, a valid group is refused by the API server.
    EXPECT_EQ(stop_elector(), 0);
    auto down = apply_text(group("while-down"));
    EXPECT_FALSE(down.ok()) << down.out;
    EXPECT_NE(down.err.find("failed calling webhook"), std::string::npos) << down.err;
    std::cout << "[ kubectl  ] elector down: " << trimmed(down.err) << "\n";
    EXPECT_FALSE(exists("while-down"));

    // 5. The recovery: without the webhook configurations the API server
    // accepts it again (leaseName then left to elector's runtime default).
    auto deleted = delete_configurations();
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    const auto deleted_at = std::chrono::steady_clock::now();
    run_result recovered;
    EXPECT_TRUE(eventually(15s, [&] { return (recovered = apply_text(group("while-down"))).ok(); }, 200ms))
        << recovered.describe();
    std::cout << fmt::format("[ figures  ] applies accepted {:.1f} s after the webhook configurations were deleted\n",
                             seconds_since(deleted_at));
    EXPECT_EQ(field("while-down", ".spec.leaseName"), "");
}

}  // namespace
}  // namespace elector::testing
