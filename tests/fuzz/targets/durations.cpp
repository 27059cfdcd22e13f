// Fuzz target "durations": the small text parsers elector reads its flags,
// its API objects' times and its ElectionGroups' timings with.
// (elector parses no Kubernetes resource quantity anywhere; its spec's
// durations are the nearest thing and are fuzzed here through
// election_group::from_json and validate().)
//
// Input: byte 0 picks the parser, the rest is its text (or numbers):
//   0 config::parse_duration, format_duration
//   1 config::parse_bind_address
//   2 kube::parse_time, format_time, format_micro_time
//   3 format_duration of 8 bytes taken as milliseconds (round trip)
//   4 format_time / format_micro_time of 8 bytes taken as nanoseconds
//   5 an ElectionGroup whose spec.leaseDuration, renewDeadline and
//     retryPeriod are the three lines of the text, through from_json and
//     validate()
//
// Properties: no exception; parse(format(x)) == x for what parses (and for
// any representable value); a duration never parses negative; what
// validate() accepts keeps client-go's rule (leaseDuration whole seconds in
// 1s..1h, leaseDuration > renewDeadline > 1.2 x retryPeriod, retryPeriod >=
// 100ms); a duration field that parses is read as parse_duration reads it,
// one that does not is reported in spec_errors, naming its field.
#include "fuzz_target.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <expected>
#include <limits>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/options.hpp"
#include "election/group.hpp"
#include "kube/time.hpp"

namespace {

using namespace elector;
using elector::fuzz::check;
using elector::fuzz::fail;
using std::chrono::milliseconds;

std::string shown(std::string_view s) {
    return nlohmann::json(std::string(s)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

// Largest duration Go (and parse_duration) can hold: int64 nanoseconds.
constexpr std::int64_t max_duration_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000;

void duration_round_trip(milliseconds d, std::string_view origin) {
    const std::string text = config::format_duration(d);
    auto again = config::parse_duration(text);
    if (!again) fail("parse_duration(format_duration(d)) parses", fmt::format("{} -> {}: {}", origin, shown(text), again.error()));
    check(*again == d, "parse_duration(format_duration(d)) == d",
          fmt::format("{}: {} ms -> {} -> {} ms", origin, d.count(), shown(text), again->count()));
}

void fuzz_duration(std::string_view text) {
    auto d = config::parse_duration(text);
    if (!d) {
        check(!d.error().empty(), "parse_duration: an error says why", shown(text));
        return;
    }
    check(d->count() >= 0, "parse_duration: never negative", shown(text));
    check(d->count() <= max_duration_ms + 1, "parse_duration: within Go's range (rounded up to the millisecond)",
          shown(text));
    // The last 0.775807 ms of Go's range round up to 9223372036855 ms, whose
    // text ("2562047h47m16.855s") is beyond the range: known, and pinned by
    // tests/unit/config/options_test.cpp. Every other value round-trips.
    if (d->count() <= max_duration_ms) duration_round_trip(*d, shown(text));
}

void fuzz_bind_address(std::string_view text) {
    auto b = config::parse_bind_address(text);
    if (!b) return;
    const std::string written = b->to_string();
    auto again = config::parse_bind_address(written);
    if (!again) fail("parse_bind_address(to_string(b)) parses", fmt::format("{} -> {}: {}", shown(text), shown(written), again.error()));
    check(again->host == b->host && again->port == b->port && again->enabled == b->enabled,
          "parse_bind_address(to_string(b)) == b", fmt::format("{} -> {}", shown(text), shown(written)));
}

kube::time_point floor_to(kube::time_point t, std::chrono::nanoseconds unit) {
    const auto since = t.time_since_epoch();
    auto rest = since % unit;
    if (rest < kube::time_point::duration::zero()) rest += unit;
    return kube::time_point(since - rest);
}

void time_round_trip(kube::time_point t, std::string_view origin) {
    const std::string seconds = kube::format_time(t);
    auto back = kube::parse_time(seconds);
    check(back.has_value() && *back == floor_to(t, std::chrono::seconds(1)),
          "parse_time(format_time(t)) == t cut to the second", fmt::format("{} -> {}", origin, seconds));
    const std::string micro = kube::format_micro_time(t);
    auto back_micro = kube::parse_time(micro);
    check(back_micro.has_value() && *back_micro == floor_to(t, std::chrono::microseconds(1)),
          "parse_time(format_micro_time(t)) == t cut to the microsecond", fmt::format("{} -> {}", origin, micro));
}

void fuzz_time(std::string_view text) {
    auto t = kube::parse_time(text);
    if (!t) return;
    time_round_trip(*t, shown(text));
}

void fuzz_group_durations(std::string_view text) {
    std::string lines[3];
    for (auto& line : lines) {
        const auto nl = text.find('\n');
        line = std::string(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    const char* fields[3] = {"leaseDuration", "renewDeadline", "retryPeriod"};
    nlohmann::json spec = {{"targetRef", {{"name", "web"}}}};
    for (int i = 0; i < 3; ++i) {
        if (!lines[i].empty()) spec[fields[i]] = lines[i];
    }
    const nlohmann::json object = {
        {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "u"}, {"resourceVersion", "1"}}}, {"spec", spec}};
    // Strings that are not valid UTF-8 cannot come from the API server's JSON.
    if (object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) !=
        object.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore)) {
        return;
    }
    auto g = election::election_group::from_json(object);
    if (!g) fail("election_group::from_json reads a group with its identity", g.error());
    const milliseconds read[3] = {g->spec.lease_duration, g->spec.renew_deadline, g->spec.retry_period};
    const milliseconds defaults[3] = {milliseconds(15000), milliseconds(10000), milliseconds(2000)};
    for (int i = 0; i < 3; ++i) {
        const auto expected = lines[i].empty() ? std::expected<milliseconds, std::string>(defaults[i])
                                               : config::parse_duration(lines[i]);
        const bool reported = std::any_of(g->spec_errors.begin(), g->spec_errors.end(), [&](const std::string& e) {
            return e.starts_with(fmt::format("spec.{}:", fields[i]));
        });
        if (expected) {
            check(read[i] == *expected && !reported, "from_json reads a duration field as parse_duration does",
                  fmt::format("{} {}", fields[i], shown(lines[i])));
        } else {
            check(read[i] == defaults[i] && reported,
                  "from_json keeps the default of a duration that does not parse and reports it",
                  fmt::format("{} {}", fields[i], shown(lines[i])));
        }
    }
    const auto problems = election::validate(g->spec);
    const auto& s = g->spec;
    if (problems.empty()) {
        check(s.lease_duration >= std::chrono::seconds(1) && s.lease_duration <= std::chrono::hours(1) &&
                  s.lease_duration % std::chrono::seconds(1) == milliseconds(0),
              "validate: leaseDuration whole seconds in 1s..1h", shown(lines[0]));
        check(s.retry_period >= milliseconds(100), "validate: retryPeriod >= 100ms", shown(lines[2]));
        check(s.lease_duration > s.renew_deadline, "validate: leaseDuration > renewDeadline");
        check(s.renew_deadline.count() * 5 > s.retry_period.count() * 6, "validate: renewDeadline > 1.2 x retryPeriod");
    }
    for (const auto& p : problems) check(p.starts_with("spec."), "validate: each problem names its field", p);
}

}  // namespace

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size) {
    fuzz::byte_reader in(data, size);
    const unsigned mode = in.below(6);
    switch (mode) {
        case 0: fuzz_duration(in.rest()); break;
        case 1: fuzz_bind_address(in.rest()); break;
        case 2: fuzz_time(in.rest()); break;
        case 3: {
            const auto ms = static_cast<std::int64_t>(in.u64() % static_cast<std::uint64_t>(max_duration_ms + 1));
            duration_round_trip(milliseconds(ms), fmt::format("{} ms", ms));
            break;
        }
        case 4: {
            // parse_time's range: years 1678..2261, whole seconds within int64 nanoseconds.
            constexpr std::int64_t limit_s = 9'223'372'035;
            const auto raw = static_cast<std::int64_t>(in.u64());
            const std::int64_t secs = raw / 1'000'000'000 % limit_s;
            const std::int64_t nanos = (raw % 1'000'000'000 + 1'000'000'000) % 1'000'000'000;
            const kube::time_point t(std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos));
            time_round_trip(t, fmt::format("{} s + {} ns", secs, nanos));
            break;
        }
        default: fuzz_group_durations(in.rest()); break;
    }
    return 0;
}
