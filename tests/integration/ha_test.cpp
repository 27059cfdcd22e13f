// Two elector replicas with --leader-elect on a real control plane: only the
// leading replica writes (every Event about the group names it), the standby
// keeps warm caches and takes over within about a second after SIGTERM and
// within its lease duration + retry period after SIGKILL, and neither
// takeover moves the workload's leadership (leaseTransitions, status.term and
// the labelled pod stay) while its leader stays eligible.
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// elector's own election: short, so that the SIGKILL case stays quick.
constexpr auto own_lease = 4s;
constexpr auto own_retry = 500ms;

double wall_seconds(const std::string& rfc3339_micro) {
    // "2026-11-21T04:39:00.382123Z"
    std::tm tm{};
    double fraction = 0;
    if (std::sscanf(rfc3339_micro.c_str(), "%d-%d-%dT%d:%d:%d%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &fraction) < 6) {
        return 0;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + fraction;
}

double wall_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ha_test : public election_fixture {
protected:
    ha_test() : election_fixture({.ns_prefix = "ha", .leader_api_bind_address = "0"}) {}

    void stop_processes() override {
        for (auto& [id, p] : replicas_) p->signal(SIGTERM);
        for (auto& [id, p] : replicas_) p->wait(10s);
    }
    void print_logs() const override {
        for (const auto& [id, log] : logs_) fmt::print(stderr, "--- {}:\n{}\n", id, run({"tail", "-n", "40", log}).out);
    }

    // A replica of elector with --leader-elect, whose identity (POD_NAME) is `id`.
    void start_replica(const std::string& id) {
        logs_[id] = fmt::format("{}/{}.log", env_->dir(), id);
        scan_log(logs_[id]);
        replicas_[id] = std::make_unique<child_process>(
            elector_argv({"--leader-elect", "--leader-election-namespace=" + ns_, "--leader-election-id=elector",
                          fmt::format("--leader-election-lease-duration={}s", own_lease.count()),
                          "--leader-election-renew-deadline=3s",
                          fmt::format("--leader-election-retry-period={}ms", own_retry.count()),
                          "--health-probe-bind-address=127.0.0.1:0"}),
            logs_[id], logs_[id], std::vector<std::string>{"POD_NAME=" + id});
    }
    // GET http://127.0.0.1:PORT/PATH of a replica's health probes (the port
    // from its log): "STATUS BODY", or "" if it does not answer yet.
    std::string probe(const std::string& id, const std::string& path) const {
        const int port = announced_port(logs_.at(id), "health probes");
        if (port == 0) return "";
        httplib::Client client("127.0.0.1", port);
        client.set_connection_timeout(2);
        auto r = client.Get(path.c_str());
        return r ? fmt::format("{} {}", r->status, r->body) : "";
    }
    // The replica that holds elector's own Lease ("" if none yet).
    std::string own_holder() const {
        auto r = env_->kubectl({"get", "lease", "elector", "-n", ns_, "-o", "jsonpath={.spec.holderIdentity}"});
        return r.ok() ? r.out : "";
    }
    // The workload's leadership: holder, transitions, status term and labelled pods.
    std::string leadership() const {
        const json l = lease("app");
        const json s = status_of(group("app"));
        const auto pods = labelled();
        return fmt::format("holder={} transitions={} term={} labelled={}", l["spec"].value("holderIdentity", ""),
                           l["spec"].value("leaseTransitions", -1), s.value("term", -1),
                           pods.size() == 1 ? *pods.begin() : fmt::format("{} pods", pods.size()));
    }
    // Waits until `replica` holds elector's Lease and has renewed the
    // workload Lease after `since` (wall seconds); returns when that renewal
    // happened, in wall seconds (0 on timeout).
    double wait_for_takeover(const std::string& replica, double since, std::chrono::milliseconds timeout) {
        double at = 0;
        eventually(timeout, [&] {
            if (own_holder() != replica) return false;
            auto r = env_->kubectl({"get", "lease", "app", "-n", ns_, "-o", "jsonpath={.spec.renewTime}"});
            if (!r.ok()) return false;
            const double renewed = wall_seconds(r.out);
            if (renewed <= since) return false;
            at = renewed;
            return true;
        }, 20ms);
        return at;
    }

    std::map<std::string, std::unique_ptr<child_process>> replicas_;
    std::map<std::string, std::string> logs_;
};

TEST_F(ha_test, standby_takes_over_without_moving_the_workloads_leader) {
    create_group("app");
    start_replica("replica-a");
    ASSERT_TRUE(eventually(20s, [&] { return own_holder() == "replica-a"; }));
    start_replica("replica-b");
    ASSERT_TRUE(eventually(30s, [&] {
        auto s = status_of(group("app"));
        return !s.value("leader", "").empty() && labelled() == std::set<std::string>{s.value("leader", "")};
    })) << leadership();
    // The standby builds its caches too (warm): it says so in its log.
    ASSERT_TRUE(eventually(20s, [&] { return read_text(logs_["replica-b"]).find("competing for lease") != std::string::npos; }));
    const std::string before = leadership();

    // Both replicas are alive and ready (readiness does not depend on
    // leading); the body says which one leads.
    for (const std::string id : {"replica-a", "replica-b"}) {
        std::string healthz, readyz;
        EXPECT_TRUE(eventually(10s, [&] {
            healthz = probe(id, "/healthz");
            readyz = probe(id, "/readyz");
            return healthz.starts_with("200") && readyz.starts_with("200");
        })) << id << ": /healthz " << healthz << ", /readyz " << readyz;
        EXPECT_NE(readyz.find(id == "replica-a" ? "leading" : "standby"), std::string::npos) << id << ": " << readyz;
    }

    // Only the leading replica writes: every Event about the group is its.
    std::this_thread::sleep_for(2s);
    {
        const json events = env_->get_json({"get", "events", "-n", ns_, "--field-selector", "involvedObject.name=app"});
        std::set<std::string> writers;
        for (const auto& e : events["items"]) {
            if (e.value("involvedObject", json::object()).value("kind", "") == "ElectionGroup") {
                writers.insert(e.value("reportingInstance", ""));
            }
        }
        EXPECT_EQ(writers, std::set<std::string>{"replica-a"});
        EXPECT_EQ(read_text(logs_["replica-b"]).find("event=promoted"), std::string::npos);
    }

    // SIGTERM: the leader releases elector's Lease; the standby acts at once.
    double sent = wall_now();
    replicas_["replica-a"]->signal(SIGTERM);
    double acted = wait_for_takeover("replica-b", sent, 10s);
    ASSERT_GT(acted, 0) << "replica-b never took over after SIGTERM";
    fmt::print("SIGTERM of the leading replica: the standby renewed the workload Lease after {:.3f} s\n", acted - sent);
    EXPECT_LT(acted - sent, allowance(2.0)) << "the standby should act within about a second";
    replicas_["replica-a"]->wait(10s);
    EXPECT_EQ(leadership(), before) << "the workload's leadership moved";
    EXPECT_TRUE(eventually(5s, [&] { return probe("replica-b", "/readyz").find("leading") != std::string::npos; }))
        << probe("replica-b", "/readyz");

    // SIGKILL: the standby waits for elector's own Lease to expire.
    replicas_.erase("replica-a");
    start_replica("replica-c");
    ASSERT_TRUE(eventually(20s, [&] { return read_text(logs_["replica-c"]).find("competing for lease") != std::string::npos; }));
    std::this_thread::sleep_for(1s);
    sent = wall_now();
    replicas_["replica-b"]->signal(SIGKILL);
    acted = wait_for_takeover("replica-c", sent, 20s);
    ASSERT_GT(acted, 0) << "replica-c never took over after SIGKILL";
    const double bound = std::chrono::duration<double>(own_lease + own_retry).count();
    fmt::print("SIGKILL of the leading replica: the standby renewed the workload Lease after {:.3f} s "
               "(bound: leaseDuration + retryPeriod = {:.1f} s)\n",
               acted - sent, bound);
    EXPECT_LT(acted - sent, bound + 1.5);
    replicas_["replica-b"]->wait(5s);
    replicas_.erase("replica-b");
    EXPECT_EQ(leadership(), before) << "the workload's leadership moved";
    EXPECT_TRUE(watch_->violations().empty());
}

}  // namespace
}  // namespace elector::testing
