#include "kube/leader_election.hpp"

#include "manual_time_source.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace elector::kube {
namespace {

using namespace std::chrono_literals;
using duration = std::chrono::steady_clock::duration;
using mono_time = time_source::time_point;

const std::string me = "elector-0";

kube::time_point wall(std::string_view s) { return *parse_time(s); }

// Time moves only when a test says so. In auto mode every wait jumps straight
// to its deadline, so a whole election runs on the test's thread in no real
// time; in manual mode advance() moves it and another thread runs the elector.
class fake_clock final : public testing::manual_time_source {
public:
    explicit fake_clock(bool auto_advance) : manual_time_source(start), auto_advance_(auto_advance) {}

    kube::time_point wall_now() const override {
        return wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed());
    }

    void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) override {
        if (auto_advance_) {
            jump_to(deadline);
            return;
        }
        ++waiters_;
        cv.wait(lock);
        --waiters_;
    }

    duration elapsed() const { return now() - start; }
    int waiters() const { return waiters_.load(); }

    static constexpr time_point start = time_point(duration(std::chrono::hours(1)));
    const kube::time_point wall_start = wall("2026-03-01T00:00:00Z");

private:
    const bool auto_advance_;
    std::atomic<int> waiters_{0};
};

struct write_attempt {
    std::string op;  // "create" or "update"
    duration at;     // fake_clock::elapsed() when the call was made
    lease sent;
    bool ok;
};

// The Lease in memory, with the API server's preconditions. `before` runs at
// the start of every call (op "get", "create", "update"), `fault` may fail a
// call, `delay` makes every call take that long on the fake clock.
class fake_lock final : public lease_lock {
public:
    explicit fake_lock(fake_clock& clock) : clock_(clock) {}

    std::function<void(const std::string& op)> before;
    std::function<std::optional<api_error>(const std::string& op)> fault;
    std::atomic<duration::rep> delay{0};

    result<lease> get() override {
        if (auto e = enter("get")) return std::unexpected(*e);
        std::lock_guard lock(mutex_);
        get_times_.push_back(clock_.elapsed());
        if (!stored_) return std::unexpected(make_error(error_kind::not_found, "leases \"elector-leader\" not found"));
        return *stored_;
    }

    result<lease> create(const lease& l) override {
        const auto at = clock_.elapsed();
        if (auto e = enter("create")) return record("create", at, l, *e);
        std::lock_guard lock(mutex_);
        if (stored_) return record_locked("create", at, l, make_error(error_kind::already_exists, "exists"));
        store_locked(l);
        return record_locked("create", at, l, std::nullopt);
    }

    result<lease> update(const lease& l) override {
        const auto at = clock_.elapsed();
        if (auto e = enter("update")) return record("update", at, l, *e);
        std::lock_guard lock(mutex_);
        if (!stored_) return record_locked("update", at, l, make_error(error_kind::not_found, "gone"));
        if (l.meta.resource_version != stored_->meta.resource_version) {
            return record_locked("update", at, l, make_error(error_kind::conflict, "the object has been modified"));
        }
        store_locked(l);
        return record_locked("update", at, l, std::nullopt);
    }

    std::string describe() const override { return "elector-system/elector-leader"; }

    // Another process writes the Lease.
    void put(const lease& l) {
        std::lock_guard lock(mutex_);
        store_locked(l);
    }

    std::optional<lease> stored() const {
        std::lock_guard lock(mutex_);
        return stored_;
    }
    std::vector<write_attempt> writes() const {
        std::lock_guard lock(mutex_);
        return writes_;
    }
    std::vector<duration> get_times() const {
        std::lock_guard lock(mutex_);
        return get_times_;
    }

private:
    std::optional<api_error> enter(const std::string& op) {
        if (before) before(op);
        if (const auto d = delay.load(); d != 0) clock_.advance(duration(d));
        return fault ? fault(op) : std::nullopt;
    }

    result<lease> record(const std::string& op, duration at, const lease& l, std::optional<api_error> error) {
        std::lock_guard lock(mutex_);
        return record_locked(op, at, l, std::move(error));
    }

    result<lease> record_locked(const std::string& op, duration at, const lease& l, std::optional<api_error> error) {
        writes_.push_back({op, at, l, !error});
        if (error) return std::unexpected(std::move(*error));
        return *stored_;
    }

    void store_locked(const lease& l) {
        stored_ = l;
        stored_->meta.name = "elector-leader";
        stored_->meta.namespace_ = "elector-system";
        stored_->meta.resource_version = std::to_string(++resource_version_);
    }

    fake_clock& clock_;
    mutable std::mutex mutex_;
    std::optional<lease> stored_;
    std::int64_t resource_version_ = 100;
    std::vector<write_attempt> writes_;
    std::vector<duration> get_times_;
};

lease lease_record(const std::string& holder, std::int32_t transitions, kube::time_point acquired,
                   kube::time_point renewed) {
    lease l;
    l.holder_identity = holder;
    l.lease_duration_seconds = 15;
    l.acquire_time = acquired;
    l.renew_time = renewed;
    l.lease_transitions = transitions;
    return l;
}

// What happened, in order, on whichever thread.
class journal {
public:
    void add(std::string event) {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    std::vector<std::string> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    std::vector<std::string> new_leaders() const {
        std::vector<std::string> out;
        for (const auto& e : events())
            if (e.starts_with("new leader ")) out.push_back(e.substr(11));
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> events_;
};

// One election: the fake lock and clock, callbacks that record into the
// journal, and leading work that runs until its token is stopped.
struct election {
    explicit election(bool auto_advance = true) : clock(auto_advance), lock(clock) {}

    leader_election_config config{.identity = me};
    fake_clock clock;
    fake_lock lock;
    journal log;
    std::stop_source stop;
    std::optional<duration> stopped_at;
    // Plain, not atomic: written by the leading thread and read by
    // on_stopped_leading, which is only sound if the elector joined that thread.
    bool work_finished = false;
    bool work_finished_before_stopped_leading = false;

    leader_callbacks callbacks() {
        return {
            .on_started_leading =
                [this](std::stop_token leading) {
                    log.add("started leading");
                    std::mutex m;
                    std::condition_variable_any cv;
                    std::unique_lock l(m);
                    cv.wait(l, leading, [] { return false; });
                    log.add("work stopped");
                    work_finished = true;
                },
            .on_stopped_leading =
                [this] {
                    work_finished_before_stopped_leading = work_finished;
                    stopped_at = clock.elapsed();
                    log.add("stopped leading");
                },
            .on_new_leader = [this](const std::string& identity) { log.add("new leader " + identity); },
        };
    }

    // Runs the elector on this thread (auto mode); `step` runs before every
    // lock call and may stop the run. A run that goes on for a simulated day fails.
    void run(leader_elector& elector, std::function<void(const std::string& op)> step = {}) {
        lock.before = [this, step = std::move(step)](const std::string& op) {
            if (op == "update" || op == "create") log.add(op);
            if (step) step(op);
            if (clock.elapsed() > 24h && !stop.stop_requested()) {
                ADD_FAILURE() << "the election did not end";
                stop.request_stop();
            }
        };
        elector.run(stop.get_token());
    }
};

// The wall time the elector writes at `at`: the clock's, cut to MicroTime.
kube::time_point wall_at(const fake_clock& clock, duration at) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        clock.wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(at));
}

std::vector<write_attempt> writes_with(const std::vector<write_attempt>& all, const std::string& holder) {
    std::vector<write_attempt> out;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                 [&](const write_attempt& w) { return w.sent.holder_identity == holder; });
    return out;
}

TEST(leader_election_config, validates_as_client_go_does) {
    leader_election_config c{.identity = me};
    EXPECT_TRUE(c.validate().has_value());

    auto invalid = [](leader_election_config bad) { return !bad.validate().has_value(); };
    EXPECT_TRUE(invalid({}));
    EXPECT_TRUE(invalid({.identity = me, .lease_duration = 0ms}));
    EXPECT_TRUE(invalid({.identity = me, .renew_deadline = 0ms}));
    EXPECT_TRUE(invalid({.identity = me, .retry_period = 0ms}));
    EXPECT_TRUE(invalid({.identity = me, .retry_period = -1ms}));
    EXPECT_TRUE(invalid({.identity = me, .lease_duration = 10000ms, .renew_deadline = 10000ms}));
    EXPECT_FALSE(invalid({.identity = me, .lease_duration = 10001ms, .renew_deadline = 10000ms}));
    // The boundary: renew_deadline must exceed 1.2 × retry_period.
    EXPECT_TRUE(invalid({.identity = me, .renew_deadline = 2400ms, .retry_period = 2000ms}));
    EXPECT_FALSE(invalid({.identity = me, .renew_deadline = 2401ms, .retry_period = 2000ms}));
    EXPECT_TRUE(invalid({.identity = me, .lease_duration = 2s, .renew_deadline = 1200ms, .retry_period = 1s}));
    EXPECT_FALSE(invalid({.identity = me, .lease_duration = 2s, .renew_deadline = 1201ms, .retry_period = 1s}));

    EXPECT_NE(leader_election_config{}.validate().error().find("identity"), std::string::npos);
    EXPECT_NE(leader_election_config({.identity = me, .renew_deadline = 2400ms}).validate().error().find("1.2"),
              std::string::npos);
}

TEST(leader_elector, an_invalid_config_is_refused_at_construction) {
    election e;
    EXPECT_THROW(leader_elector({.identity = ""}, e.lock, e.clock, {}), std::invalid_argument);
    EXPECT_THROW(leader_elector({.identity = me, .lease_duration = 5s}, e.lock, e.clock, {}), std::invalid_argument);
}

TEST(leader_elector, the_first_acquire_creates_the_lease_with_zero_transitions) {
    election e;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    EXPECT_FALSE(elector.is_leader());
    EXPECT_EQ(elector.leader(), "");
    int gets = 0;
    bool leader_while_renewing = false;
    e.run(elector, [&](const std::string& op) {
        if (op == "get" && ++gets == 2) {
            leader_while_renewing = elector.is_leader() && elector.leader() == me;
            e.stop.request_stop();
        }
    });

    const auto writes = e.lock.writes();
    ASSERT_FALSE(writes.empty());
    EXPECT_EQ(writes[0].op, "create");
    EXPECT_TRUE(writes[0].ok);
    EXPECT_EQ(writes[0].at, 0s);
    const lease& created = writes[0].sent;
    EXPECT_EQ(created.holder_identity, me);
    EXPECT_EQ(created.lease_duration_seconds, 15);
    EXPECT_EQ(created.acquire_time, e.clock.wall_start);
    EXPECT_EQ(created.renew_time, e.clock.wall_start);
    EXPECT_EQ(created.lease_transitions, 0);
    EXPECT_TRUE(leader_while_renewing);
    EXPECT_FALSE(elector.is_leader());
    EXPECT_EQ(e.log.new_leaders(), std::vector<std::string>{me});
}

TEST(leader_elector, renewals_every_retry_period_keep_acquire_time_and_transitions) {
    election e;
    e.lock.put(lease_record("elector-9", 4, wall("2026-02-01T00:00:00Z"), wall("2026-02-01T00:00:01Z")));
    e.config.release_on_cancel = false;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    int updates = 0;
    e.run(elector, [&](const std::string& op) {
        if (op == "update" && ++updates == 6) e.stop.request_stop();
    });

    const auto writes = e.lock.writes();
    ASSERT_EQ(writes.size(), 6u);
    const lease& taken = writes[0].sent;
    EXPECT_EQ(taken.holder_identity, me);
    EXPECT_EQ(taken.lease_transitions, 5);
    // As client-go: the first renewal right after acquiring, then one retry period apart, without jitter.
    EXPECT_EQ(writes[1].at, writes[0].at);
    for (std::size_t i = 1; i < writes.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_TRUE(writes[i].ok);
        if (i > 1) {
            EXPECT_EQ(writes[i].at - writes[i - 1].at, 2s);
        }
        EXPECT_EQ(writes[i].sent.holder_identity, me);
        EXPECT_EQ(writes[i].sent.lease_duration_seconds, 15);
        EXPECT_EQ(writes[i].sent.acquire_time, taken.acquire_time);
        EXPECT_EQ(writes[i].sent.lease_transitions, 5);
        EXPECT_EQ(writes[i].sent.renew_time, wall_at(e.clock, writes[i].at));
    }
}

TEST(leader_elector, a_lease_of_a_previous_life_of_the_same_identity_is_renewed_at_once) {
    election e;
    e.lock.put(lease_record(me, 7, wall("2026-02-01T00:00:00Z"), wall("2026-02-01T00:05:00Z")));
    e.config.release_on_cancel = false;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op == "update") e.stop.request_stop();
    });
    const auto writes = e.lock.writes();
    ASSERT_EQ(writes.size(), 1u);
    EXPECT_EQ(writes[0].at, 0s);
    EXPECT_EQ(writes[0].sent.lease_transitions, 7);
    EXPECT_EQ(writes[0].sent.acquire_time, wall("2026-02-01T00:00:00Z"));
}

TEST(leader_elector, an_expired_record_is_taken_over_with_one_more_transition) {
    election e;
    e.lock.put(lease_record("elector-1", 3, wall("2026-02-01T00:00:00Z"), wall("2026-02-28T23:59:58Z")));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op == "update") e.stop.request_stop();
    });

    const auto mine = writes_with(e.lock.writes(), me);
    ASSERT_EQ(mine.size(), 1u);
    const auto& w = mine[0];
    EXPECT_TRUE(w.ok);
    EXPECT_GE(w.at, 15s);
    EXPECT_LT(w.at, 15s + 2s * 2.2);  // the first jittered retry at or after expiry
    EXPECT_EQ(w.sent.lease_transitions, 4);
    const auto now_wall = wall_at(e.clock, w.at);
    EXPECT_EQ(w.sent.acquire_time, now_wall);
    EXPECT_EQ(w.sent.renew_time, now_wall);
    EXPECT_EQ(w.sent.lease_duration_seconds, 15);
    EXPECT_EQ(w.sent.meta.resource_version, "101");  // the precondition: the record it saw
    EXPECT_EQ(e.log.new_leaders(), (std::vector<std::string>{"elector-1", me}));
}

TEST(leader_elector, a_standby_tries_exactly_when_the_record_it_observed_expires) {
    // Seen unchanged since t=0, the record expires here at 15 s: the attempt
    // comes then, not at the next jittered retry (client-go's would).
    election e;
    e.lock.put(lease_record("elector-1", 5, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op == "update") e.stop.request_stop();
    });
    const auto mine = writes_with(e.lock.writes(), me);
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].at, 15s + 1ms);
    EXPECT_EQ(mine[0].sent.lease_transitions, 6);
    for (const auto t : e.lock.get_times()) EXPECT_LE(t, 15s + 1ms);
}

TEST(leader_elector, a_record_that_keeps_being_renewed_is_never_taken_and_retries_are_jittered) {
    election e;
    e.lock.put(lease_record("elector-1", 0, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op != "get") return;
        if (e.clock.elapsed() >= 10min) e.stop.request_stop();
        // The holder renews between any two of our reads.
        auto l = *e.lock.stored();
        l.renew_time = e.clock.wall_now();
        e.lock.put(l);
    });

    EXPECT_TRUE(e.lock.writes().empty());
    EXPECT_EQ(elector.leader(), "elector-1");
    EXPECT_EQ(e.log.new_leaders(), std::vector<std::string>{"elector-1"});
    EXPECT_EQ(e.log.events(), std::vector<std::string>{"new leader elector-1"});

    const auto gets = e.lock.get_times();
    ASSERT_GT(gets.size(), 100u);
    std::vector<duration> gaps;
    for (std::size_t i = 1; i < gets.size(); ++i) gaps.push_back(gets[i] - gets[i - 1]);
    for (const auto gap : gaps) {
        EXPECT_GE(gap, 2s);
        EXPECT_LT(gap, 2s * 2.2);
    }
    EXPECT_GT(*std::max_element(gaps.begin(), gaps.end()) - *std::min_element(gaps.begin(), gaps.end()), 500ms);
}

TEST(leader_elector, expiry_is_judged_by_local_observation_never_by_the_records_timestamps) {
    // Renewed a year ago or a year ahead by the holder's clock: either way the
    // record is taken only once it has not changed for lease_duration here.
    for (const auto renewed : {wall("2025-03-01T00:00:00Z"), wall("2027-03-01T00:00:00Z")}) {
        SCOPED_TRACE(format_time(renewed));
        election e;
        e.lock.put(lease_record("elector-1", 2, renewed, renewed));
        leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
        e.run(elector, [&](const std::string& op) {
            if (op == "update") e.stop.request_stop();
        });

        const auto gets = e.lock.get_times();
        const auto first_due = std::find_if(gets.begin(), gets.end(), [](duration t) { return t >= 15s; });
        ASSERT_NE(first_due, gets.end());
        EXPECT_GT(first_due - gets.begin(), 1);  // several reads found it held
        const auto mine = writes_with(e.lock.writes(), me);
        ASSERT_EQ(mine.size(), 1u);
        EXPECT_EQ(mine[0].at, *first_due);
        EXPECT_EQ(mine[0].sent.lease_transitions, 3);
    }
}

TEST(leader_elector, a_conflicting_write_is_not_an_acquisition_and_the_new_holder_gets_a_full_lease) {
    election e;
    e.lock.put(lease_record("elector-1", 3, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    bool rival_wrote = false;
    std::optional<duration> rival_at;
    bool leader_after_conflict = true;
    int gets_after_conflict = 0;
    e.run(elector, [&](const std::string& op) {
        if (op == "update" && !rival_wrote) {
            // Another candidate takes the expired lease just before us.
            rival_wrote = true;
            rival_at = e.clock.elapsed();
            e.lock.put(lease_record("elector-2", 4, e.clock.wall_now(), e.clock.wall_now()));
        } else if (op == "get" && rival_wrote && ++gets_after_conflict == 1) {
            leader_after_conflict = elector.is_leader();
        } else if (op == "update") {
            e.stop.request_stop();
        }
    });

    const auto writes = e.lock.writes();
    ASSERT_EQ(writes.size(), 3u);  // conflict, takeover, release
    EXPECT_FALSE(writes[0].ok);
    EXPECT_EQ(writes[0].sent.lease_transitions, 4);
    EXPECT_FALSE(leader_after_conflict);
    ASSERT_TRUE(rival_at);
    // elector-2's record was first seen at the retry after the conflict: a full lease from then.
    const auto gets = e.lock.get_times();
    const auto seen = *std::find_if(gets.begin(), gets.end(), [&](duration t) { return t > *rival_at; });
    EXPECT_TRUE(writes[1].ok);
    EXPECT_GE(writes[1].at, seen + 15s);
    EXPECT_LT(writes[1].at, seen + 15s + 2s * 2.2);
    EXPECT_EQ(writes[1].sent.lease_transitions, 5);
    EXPECT_EQ(e.log.new_leaders(), (std::vector<std::string>{"elector-1", "elector-2", me}));
}

TEST(leader_elector, read_errors_are_retried) {
    election e;
    int failures = 0;
    e.lock.fault = [&](const std::string& op) -> std::optional<api_error> {
        if (op == "get" && failures < 3) {
            ++failures;
            return make_error(error_kind::server_error, "etcdserver: request timed out");
        }
        return std::nullopt;
    };
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op == "create") e.stop.request_stop();
    });
    const auto writes = e.lock.writes();
    ASSERT_FALSE(writes.empty());
    EXPECT_EQ(writes[0].op, "create");
    EXPECT_GE(writes[0].at, 6s);
    EXPECT_LT(writes[0].at, 3 * 2s * 2.2);
}

TEST(leader_elector, renew_failures_past_the_renew_deadline_step_down_without_writing) {
    election e;
    duration failing_from{};
    e.lock.fault = [&](const std::string& op) -> std::optional<api_error> {
        if (op == "update" && e.clock.elapsed() >= 20s) {
            if (failing_from == duration{}) failing_from = e.clock.elapsed();
            return make_error(error_kind::server_error, "the server is currently unable to handle the request");
        }
        return std::nullopt;
    };
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector);

    EXPECT_FALSE(e.stop.stop_requested());  // it ended by itself
    EXPECT_FALSE(elector.is_leader());
    ASSERT_TRUE(e.stopped_at);
    EXPECT_EQ(failing_from, 20s);
    EXPECT_EQ(*e.stopped_at, failing_from + 10s);
    EXPECT_TRUE(e.work_finished_before_stopped_leading);

    const auto writes = e.lock.writes();
    std::vector<duration> failed;
    for (const auto& w : writes) {
        EXPECT_LT(w.at, *e.stopped_at);
        EXPECT_EQ(w.sent.holder_identity, me);  // never a release after a loss
        if (!w.ok) failed.push_back(w.at);
    }
    // Immediately, then on the retry period's ticks until the deadline.
    EXPECT_EQ(failed, (std::vector<duration>{20s, 22s, 24s, 26s, 28s}));
    EXPECT_EQ(e.lock.stored()->holder_identity, me);

    const auto events = e.log.events();
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[events.size() - 2], "work stopped");
    EXPECT_EQ(events.back(), "stopped leading");
}

TEST(leader_elector, a_renewal_that_answers_after_the_deadline_is_a_loss_and_writes_nothing) {
    election e;
    int gets = 0;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        // From the third renewal on, reads take 11 s: past the 10 s renew deadline.
        if (op == "get" && ++gets == 4) e.lock.delay = duration(11s).count();
    });
    ASSERT_TRUE(e.stopped_at);
    EXPECT_EQ(*e.stopped_at, 4s + 11s);
    const auto writes = e.lock.writes();
    ASSERT_EQ(writes.size(), 3u);  // create and renewal at 0 s, renewal at 2 s
    EXPECT_EQ(writes.back().at, 2s);
    EXPECT_TRUE(e.work_finished_before_stopped_leading);
}

TEST(leader_elector, a_new_holder_seen_while_renewing_ends_leading_at_once) {
    election e;
    int gets = 0;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.run(elector, [&](const std::string& op) {
        if (op == "get" && ++gets == 4) {
            e.lock.put(lease_record("elector-2", 1, e.clock.wall_now(), e.clock.wall_now()));
        }
    });
    ASSERT_TRUE(e.stopped_at);
    EXPECT_EQ(*e.stopped_at, 4s);
    EXPECT_EQ(e.lock.writes().size(), 3u);
    EXPECT_EQ(e.lock.stored()->holder_identity, "elector-2");
    EXPECT_EQ(e.log.new_leaders(), (std::vector<std::string>{me, "elector-2"}));
}

TEST(leader_elector, stop_ends_the_work_then_releases_once_as_client_go_then_reports) {
    election e;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    std::optional<lease> before_release;
    int updates = 0;
    e.run(elector, [&](const std::string& op) {
        if (op == "update" && ++updates == 3) e.stop.request_stop();
        if (op == "update" && updates == 4) before_release = e.lock.stored();
    });

    ASSERT_TRUE(before_release);
    const auto writes = e.lock.writes();
    const auto releases = writes_with(writes, "");
    ASSERT_EQ(releases.size(), 1u);
    ASSERT_EQ(writes.back().sent.holder_identity, "");
    const auto& r = releases[0];
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.at, 4s);  // right after the renewal during which the stop came
    const auto now_wall = e.clock.wall_start + 4s;
    EXPECT_EQ(r.sent.lease_duration_seconds, 1);
    EXPECT_EQ(r.sent.acquire_time, now_wall);
    EXPECT_EQ(r.sent.renew_time, now_wall);
    EXPECT_EQ(r.sent.lease_transitions, before_release->lease_transitions);
    EXPECT_EQ(r.sent.meta.resource_version, before_release->meta.resource_version);
    EXPECT_EQ(e.lock.stored()->holder_identity, "");
    EXPECT_EQ(elector.leader(), "");

    EXPECT_TRUE(e.work_finished_before_stopped_leading);
    const auto events = e.log.events();
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[events.size() - 3], "work stopped");
    EXPECT_EQ(events[events.size() - 2], "update");
    EXPECT_EQ(events.back(), "stopped leading");
}

TEST(leader_elector, without_release_on_cancel_a_stop_writes_nothing) {
    election e;
    e.config.release_on_cancel = false;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    int updates = 0;
    e.run(elector, [&](const std::string& op) {
        if (op == "update" && ++updates == 2) e.stop.request_stop();
    });
    EXPECT_EQ(writes_with(e.lock.writes(), "").size(), 0u);
    EXPECT_EQ(e.lock.writes().size(), 3u);
    EXPECT_EQ(e.lock.stored()->holder_identity, me);
    EXPECT_EQ(e.log.events().back(), "stopped leading");
    EXPECT_TRUE(e.work_finished_before_stopped_leading);
}

TEST(leader_elector, a_stop_while_standing_by_ends_run_without_writes_or_leading_callbacks) {
    election e;
    e.lock.put(lease_record("elector-1", 0, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    int gets = 0;
    e.run(elector, [&](const std::string& op) {
        if (op == "get" && ++gets == 3) e.stop.request_stop();
    });
    EXPECT_EQ(gets, 3);
    EXPECT_TRUE(e.lock.writes().empty());
    EXPECT_EQ(e.log.events(), std::vector<std::string>{"new leader elector-1"});
    EXPECT_FALSE(e.stopped_at);
}

TEST(leader_elector, a_stop_requested_before_run_reads_nothing) {
    election e;
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    e.stop.request_stop();
    e.run(elector);
    EXPECT_TRUE(e.lock.get_times().empty());
    EXPECT_TRUE(e.log.events().empty());
}

TEST(leader_elector, a_nudge_makes_a_waiting_standby_take_a_released_lease_at_once) {
    election e(false);
    e.lock.put(lease_record("elector-1", 5, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    // Its own token, so that a failed assertion's early return still stops and joins the run.
    std::jthread runner([&](std::stop_token stop) { elector.run(std::move(stop)); });

    while (e.clock.waiters() != 1) std::this_thread::yield();
    EXPECT_EQ(e.lock.get_times().size(), 1u);
    EXPECT_FALSE(elector.is_leader());
    EXPECT_EQ(elector.leader(), "elector-1");

    // elector-1 releases as client-go does; a watcher of the Lease nudges.
    lease released = lease_record("", 5, e.clock.wall_now(), e.clock.wall_now());
    released.lease_duration_seconds = 1;
    e.lock.put(released);
    elector.nudge();
    while (!elector.is_leader()) std::this_thread::yield();

    const auto writes = e.lock.writes();
    ASSERT_GE(writes.size(), 1u);
    EXPECT_EQ(writes[0].at, 0s);  // no time passed
    EXPECT_EQ(writes[0].sent.holder_identity, me);
    EXPECT_EQ(writes[0].sent.lease_transitions, 6);

    // Stopped from another thread while it waits to renew.
    while (e.clock.waiters() != 1) std::this_thread::yield();
    runner.request_stop();
    runner.join();
    EXPECT_FALSE(elector.is_leader());
    EXPECT_EQ(writes_with(e.lock.writes(), "").size(), 1u);
    EXPECT_EQ(e.log.events().back(), "stopped leading");
    EXPECT_TRUE(e.work_finished_before_stopped_leading);
}

TEST(leader_elector, a_standby_retries_only_as_its_clock_advances) {
    election e(false);
    e.lock.put(lease_record("elector-1", 0, e.clock.wall_start, e.clock.wall_start));
    leader_elector elector(e.config, e.lock, e.clock, e.callbacks());
    // Its own token, so that a failed assertion's early return still stops and joins the run.
    std::jthread runner([&](std::stop_token stop) { elector.run(std::move(stop)); });

    // Without a nudge nothing happens until time passes; then it retries.
    while (e.clock.waiters() != 1) std::this_thread::yield();
    EXPECT_EQ(e.lock.get_times().size(), 1u);
    for (int i = 0; i < 10; ++i) {
        while (e.clock.waiters() != 1) std::this_thread::yield();
        e.clock.advance(2s);
    }
    while (!elector.is_leader()) {
        while (e.clock.waiters() != 1 && !elector.is_leader()) std::this_thread::yield();
        if (!elector.is_leader()) e.clock.advance(1s);
    }
    const auto mine = writes_with(e.lock.writes(), me);
    ASSERT_GE(mine.size(), 1u);  // the takeover, perhaps its first renewal already
    EXPECT_GE(mine[0].at, 15s);
    runner.request_stop();
    runner.join();
    EXPECT_EQ(e.log.new_leaders(), (std::vector<std::string>{"elector-1", me}));
}

}  // namespace
}  // namespace elector::kube
