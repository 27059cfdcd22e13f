// elector's own leader election (--leader-elect) on a real kube-apiserver:
// three elector processes, and elector against client-go's leader election
// (tests/peer) on the same Lease. A checker reads every process's
// started/stopped-leading lines (CLOCK_MONOTONIC) and fails on any overlap.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "leadership.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;

// Short timings keep the test quick; the rules do not depend on them.
constexpr double lease_duration = 4.0;
constexpr double retry_period = 1.0;
const std::vector<std::string> timing_flags_elector{"--leader-election-lease-duration=4s",
                                                    "--leader-election-renew-deadline=3s",
                                                    "--leader-election-retry-period=1s"};
const std::vector<std::string> timing_flags_peer{"--lease-duration=4s", "--renew-deadline=3s", "--retry-period=1s"};

class leader_election_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto built = run({source_dir() + "/tests/peer/build"}, {.timeout = 10min});
        ASSERT_TRUE(built.ok()) << built.describe();
        auto end = built.out.find_last_not_of('\n');
        peer_binary_ = built.out.substr(built.out.rfind('\n', end) + 1, std::string::npos);
        peer_binary_.erase(peer_binary_.find_last_not_of('\n') + 1);
        env_ = std::make_unique<control_plane>(control_plane_options{.nodes = 1});
    }
    static void TearDownTestSuite() { env_.reset(); }

    void TearDown() override {
        // Every process gets SIGTERM (their destructors SIGKILL what is left).
        for (auto& [id, p] : processes_) p->signal(SIGTERM);
        for (auto& [id, p] : processes_) p->wait(10s);
        for (const auto& [id, log] : logs_) {
            auto reports = sanitizer_reports(log);
            EXPECT_TRUE(reports.empty()) << id << ": " << fmt::format("{}", fmt::join(reports, "\n"));
        }
        if (HasFailure()) {
            for (const auto& [id, log] : logs_) {
                auto tail = run({"tail", "-n", "30", log});
                fmt::print(stderr, "--- {}:\n{}\n", id, tail.out);
            }
        }
    }

    void start_elector(const std::string& id, const std::string& lease) {
        std::vector<std::string> argv{elector_binary(), "--kubeconfig", env_->kubeconfig(), "--leader-elect",
                                      "--leader-election-id=" + lease, "--leader-election-namespace=default",
                                      "--metrics-bind-address=0", "--health-probe-bind-address=0",
                                      "--leader-api-bind-address=0"};
        argv.insert(argv.end(), timing_flags_elector.begin(), timing_flags_elector.end());
        launch(id, argv, {"POD_NAME=" + id});
    }

    void start_peer(const std::string& id, const std::string& lease) {
        std::vector<std::string> argv{peer_binary_, "--kubeconfig", env_->kubeconfig(), "--id", id,
                                      "--lease-name", lease, "--lease-namespace", "default"};
        argv.insert(argv.end(), timing_flags_peer.begin(), timing_flags_peer.end());
        launch(id, argv, {});
    }

    void launch(const std::string& id, const std::vector<std::string>& argv, const std::vector<std::string>& env) {
        const std::string log = fmt::format("{}/{}.log", env_->dir(), id);
        logs_[id] = log;
        processes_[id] = std::make_unique<child_process>(argv, log, log, env);
    }

    std::vector<leadership_event> events() const {
        std::vector<leadership_event> all;
        for (const auto& [id, log] : logs_) {
            auto e = read_leadership_events(log);
            all.insert(all.end(), e.begin(), e.end());
        }
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.mono < b.mono; });
        return all;
    }

    // Processes that logged started-leading and neither stopped nor were killed.
    std::set<std::string> leaders() const {
        std::set<std::string> out;
        for (const auto& e : events()) {
            if (e.started) {
                out.insert(e.id);
            } else {
                out.erase(e.id);
            }
        }
        for (const auto& [id, at] : killed_) out.erase(id);
        return out;
    }

    // Waits for a started-leading by someone not in `excluded`; returns who and when.
    std::optional<leadership_event> wait_new_leader(const std::set<std::string>& excluded, std::chrono::seconds timeout) {
        std::optional<leadership_event> found;
        eventually(timeout, [&] {
            for (const auto& e : events()) {
                if (e.started && !excluded.contains(e.id)) found = e;
            }
            return found.has_value();
        }, 50ms);
        return found;
    }

    double kill(const std::string& id) {
        const double at = monotonic_now();
        processes_.at(id)->signal(SIGKILL);
        processes_.at(id)->wait(5s);
        killed_[id] = at;
        return at;
    }

    double terminate(const std::string& id) {
        const double at = monotonic_now();
        processes_.at(id)->signal(SIGTERM);
        return at;
    }

    int exit_code(const std::string& id, std::chrono::seconds timeout) {
        auto status = processes_.at(id)->wait(timeout);
        if (!status) return -1;
        return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
    }

    void expect_no_overlap() const {
        auto found = overlaps(leading_intervals(events(), killed_));
        EXPECT_TRUE(found.empty()) << "two leaders at once: " << fmt::format("{}", fmt::join(found, "; "));
    }

    nlohmann::json lease(const std::string& name) const { return env_->get_json({"get", "lease", name, "-n", "default"}); }

    static inline std::unique_ptr<control_plane> env_;
    static inline std::string peer_binary_;
    std::map<std::string, std::unique_ptr<child_process>> processes_;
    std::map<std::string, std::string> logs_;
    std::map<std::string, double> killed_;
};

TEST_F(leader_election_test, three_electors_one_leader_then_takeover_after_sigkill_and_sigterm) {
    for (const char* id : {"elector-a", "elector-b", "elector-c"}) start_elector(id, "three");
    auto first = wait_new_leader({}, 15s);
    ASSERT_TRUE(first.has_value()) << "nobody became leader";
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(leaders(), std::set<std::string>{first->id});
    EXPECT_EQ(lease("three")["spec"]["holderIdentity"], first->id);
    EXPECT_EQ(lease("three")["spec"]["leaseTransitions"], 0);

    // SIGKILL: nobody releases; the others wait for the lease to expire.
    const double killed_at = kill(first->id);
    auto second = wait_new_leader({first->id}, 15s);
    ASSERT_TRUE(second.has_value()) << "no takeover after SIGKILL";
    const double after_kill = second->mono - killed_at;
    RecordProperty("takeover_after_sigkill_seconds", fmt::format("{:.3f}", after_kill));
    EXPECT_LE(after_kill, lease_duration + retry_period);
    // Not before the lease could have expired: it was renewed at most a retry
    // period (plus a request) before the kill.
    EXPECT_GE(after_kill, lease_duration - retry_period - 0.5);

    // SIGTERM: the leader stops its work, releases the Lease, and a standby
    // watching the Lease takes over at once.
    const double term_at = terminate(second->id);
    auto third = wait_new_leader({first->id, second->id}, 10s);
    ASSERT_TRUE(third.has_value()) << "no takeover after SIGTERM";
    const double after_term = third->mono - term_at;
    RecordProperty("takeover_after_sigterm_seconds", fmt::format("{:.3f}", after_term));
    EXPECT_LE(after_term, 1.5);
    EXPECT_EQ(exit_code(second->id, 10s), 0) << "SIGTERM must end elector cleanly";

    EXPECT_TRUE(eventually(5s, [&] { return lease("three")["spec"]["holderIdentity"] == third->id; }));
    EXPECT_EQ(lease("three")["spec"]["leaseTransitions"], 2);
    expect_no_overlap();

    // The last one releases on SIGTERM: the Lease is left free, as client-go leaves it.
    terminate(third->id);
    EXPECT_EQ(exit_code(third->id, 10s), 0);
    EXPECT_TRUE(eventually(5s, [&] { return lease("three")["spec"]["holderIdentity"] != third->id; }));
}

TEST_F(leader_election_test, elector_and_client_go_take_over_from_each_other) {
    // client-go leads first; elector waits.
    start_peer("peer-1", "interop");
    auto p1 = wait_new_leader({}, 15s);
    ASSERT_TRUE(p1.has_value() && p1->id == "peer-1");
    start_elector("elector-1", "interop");
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(leaders(), std::set<std::string>{"peer-1"});

    // client-go releases on SIGTERM; elector takes the Lease at once. But
    // client-go 1.20's release can fail: a renewal cancelled by the signal may
    // already have been applied, and the release then carries a stale
    // resourceVersion ("Failed to release lock"). The Lease stays held, and
    // elector must take over when it expires.
    double t = terminate("peer-1");
    auto e1 = wait_new_leader({"peer-1"}, 10s);
    ASSERT_TRUE(e1.has_value() && e1->id == "elector-1") << "elector did not take over from client-go";
    ASSERT_EQ(exit_code("peer-1", 5s), 0);
    const bool released = read_text(logs_.at("peer-1")).find("Failed to release lock") == std::string::npos;
    RecordProperty("client_go_release_failed", released ? "no" : "yes");
    RecordProperty("elector_after_client_go_sigterm_seconds", fmt::format("{:.3f}", e1->mono - t));
    EXPECT_LE(e1->mono - t, released ? 1.5 : lease_duration + retry_period);

    // elector releases on SIGTERM; client-go takes the Lease.
    start_peer("peer-2", "interop");
    std::this_thread::sleep_for(2s);
    t = terminate("elector-1");
    auto p2 = wait_new_leader({"peer-1", "elector-1"}, 10s);
    ASSERT_TRUE(p2.has_value() && p2->id == "peer-2") << "client-go did not take over from elector";
    RecordProperty("client_go_after_elector_sigterm_seconds", fmt::format("{:.3f}", p2->mono - t));
    EXPECT_LE(p2->mono - t, lease_duration);  // client-go polls: released -> next retry
    EXPECT_EQ(exit_code("elector-1", 10s), 0);

    // client-go killed; elector takes over after expiry.
    start_elector("elector-2", "interop");
    std::this_thread::sleep_for(2s);
    t = kill("peer-2");
    auto e2 = wait_new_leader({"peer-1", "elector-1", "peer-2"}, 15s);
    ASSERT_TRUE(e2.has_value() && e2->id == "elector-2");
    RecordProperty("elector_after_client_go_sigkill_seconds", fmt::format("{:.3f}", e2->mono - t));
    EXPECT_LE(e2->mono - t, lease_duration + retry_period);

    // elector killed; client-go takes over after expiry. client-go polls every
    // retry period × (1 + up to 1.2): it sees the last renewal up to 2.2 retry
    // periods late and tries up to 2.2 retry periods after the expiry.
    start_peer("peer-3", "interop");
    std::this_thread::sleep_for(2s);
    t = kill("elector-2");
    auto p3 = wait_new_leader({"peer-1", "elector-1", "peer-2", "elector-2"}, 20s);
    ASSERT_TRUE(p3.has_value() && p3->id == "peer-3");
    RecordProperty("client_go_after_elector_sigkill_seconds", fmt::format("{:.3f}", p3->mono - t));
    EXPECT_LE(p3->mono - t, lease_duration + 2 * 2.2 * retry_period + 0.5);

    expect_no_overlap();
    EXPECT_EQ(lease("interop")["spec"]["holderIdentity"], "peer-3");
    EXPECT_EQ(lease("interop")["spec"]["leaseTransitions"], 4);
}

}  // namespace
}  // namespace elector::testing
