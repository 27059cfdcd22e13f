#include "config/options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "config/flag_set.hpp"

namespace elector::config {

namespace {

using namespace std::chrono_literals;
using check_result = std::expected<void, std::string>;

constexpr std::string_view synopsis =
    "elector runs leader election on behalf of the pods of a Kubernetes Deployment:\n"
    "it keeps one coordination.k8s.io Lease per ElectionGroup, labels the leader pod\n"
    "role=leader and stamps the fencing term elector.dev/term on it.";

constexpr double max_qps = 10000;
constexpr int max_burst = 100000;
constexpr std::chrono::milliseconds max_request_timeout = 5min;

// ---- durations ----

// A unit's length in nanoseconds, written as multiplier × 10^exponent so that
// fractions ("1.5h") can be scaled exactly in 64-bit arithmetic.
struct duration_unit {
    std::string_view name;
    std::uint64_t multiplier;
    int exponent;
};

constexpr std::array<duration_unit, 8> duration_units{{
    {"ns", 1, 0},
    {"us", 1, 3},
    {"\u00b5s", 1, 3},  // micro sign, as Go prints it
    {"\u03bcs", 1, 3},  // Greek small letter mu
    {"ms", 1, 6},
    {"s", 1, 9},
    {"m", 6, 10},
    {"h", 36, 11},
}};

// Go's time.Duration range: a value must fit in int64 nanoseconds.
constexpr std::uint64_t max_duration_ns = std::numeric_limits<std::int64_t>::max();
// Fraction digits past this many are worth less than a nanosecond even for hours; dropping them keeps the
// scaling within 64 bits.
constexpr int max_fraction_digits = 17;

const std::string duration_hint = R"(want a duration such as "15s", "1m30s" or "500ms")";

constexpr std::uint64_t pow10(int n) {
    std::uint64_t p = 1;
    for (int i = 0; i < n; ++i) p *= 10;
    return p;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Consumes leading decimal digits; nullopt if their value exceeds the duration range.
std::optional<std::uint64_t> take_integer(std::string_view& s, bool& any_digits) {
    std::uint64_t value = 0;
    any_digits = false;
    while (!s.empty() && is_digit(s.front())) {
        any_digits = true;
        const auto digit = static_cast<std::uint64_t>(s.front() - '0');
        if (value > (max_duration_ns - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
        s.remove_prefix(1);
    }
    return value;
}

struct fraction {
    std::uint64_t digits_value = 0;  // "0.025" -> 25
    int digit_count = 0;             // "0.025" -> 3
    bool any_digits = false;
};

fraction take_fraction(std::string_view& s) {
    fraction f;
    if (s.empty() || s.front() != '.') return f;
    s.remove_prefix(1);
    while (!s.empty() && is_digit(s.front())) {
        f.any_digits = true;
        if (f.digit_count < max_fraction_digits) {
            f.digits_value = f.digits_value * 10 + static_cast<std::uint64_t>(s.front() - '0');
            ++f.digit_count;
        }
        s.remove_prefix(1);
    }
    return f;
}

std::string_view take_unit(std::string_view& s) {
    std::size_t n = 0;
    while (n < s.size() && s[n] != '.' && !is_digit(s[n])) ++n;
    std::string_view unit = s.substr(0, n);
    s.remove_prefix(n);
    return unit;
}

const duration_unit* find_unit(std::string_view name) {
    auto it = std::ranges::find(duration_units, name, &duration_unit::name);
    return it == duration_units.end() ? nullptr : &*it;
}

// f.digits_value / 10^f.digit_count units, in whole nanoseconds (truncated).
std::uint64_t fraction_ns(const fraction& f, const duration_unit& unit) {
    if (f.digit_count <= unit.exponent) {
        return f.digits_value * unit.multiplier * pow10(unit.exponent - f.digit_count);
    }
    return f.digits_value * unit.multiplier / pow10(f.digit_count - unit.exponent);
}

// One "<number><unit>" component, in nanoseconds.
std::expected<std::uint64_t, std::string> take_component(std::string_view& s) {
    bool int_digits = false;
    const auto whole = take_integer(s, int_digits);
    if (!whole) return std::unexpected(std::string{"duration too large"});
    const fraction frac = take_fraction(s);
    if (!int_digits && !frac.any_digits) return std::unexpected(duration_hint);

    const std::string_view unit_name = take_unit(s);
    if (unit_name.empty()) return std::unexpected("missing unit; " + duration_hint);
    const duration_unit* unit = find_unit(unit_name);
    if (unit == nullptr) {
        return std::unexpected(fmt::format("unknown unit \"{}\"; want h, m, s, ms, us or ns", unit_name));
    }

    const std::uint64_t unit_ns = unit->multiplier * pow10(unit->exponent);
    if (*whole > max_duration_ns / unit_ns) return std::unexpected(std::string{"duration too large"});
    const std::uint64_t ns = *whole * unit_ns + fraction_ns(frac, *unit);
    if (ns > max_duration_ns) return std::unexpected(std::string{"duration too large"});
    return ns;
}

// Go's String() form of a non-negative duration of `ms` milliseconds plus
// `extra_us` (< 1000) microseconds.
std::string format_magnitude(std::uint64_t ms, std::uint64_t extra_us) {
    if (ms == 0 && extra_us == 0) return "0s";
    if (ms == 0) return fmt::format("{}\u00b5s", extra_us);
    auto with_fraction = [](std::uint64_t whole, std::uint64_t frac, int width) {
        if (frac == 0) return fmt::format("{}", whole);
        std::string digits = fmt::format("{:0{}}", frac, width);
        digits.erase(digits.find_last_not_of('0') + 1);
        return fmt::format("{}.{}", whole, digits);
    };
    if (ms < 1000) return with_fraction(ms, extra_us, 3) + "ms";

    const std::string seconds = with_fraction(ms / 1000 % 60, ms % 1000 * 1000 + extra_us, 6) + "s";
    const std::uint64_t total_minutes = ms / 60000;
    if (total_minutes == 0) return seconds;
    if (total_minutes < 60) return fmt::format("{}m{}", total_minutes, seconds);
    return fmt::format("{}h{}m{}", total_minutes / 60, total_minutes % 60, seconds);
}

// ---- bind addresses and names ----

bool is_alnum_lower(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_alnum_lower(c) || (c >= 'A' && c <= 'Z'); }

enum class letters { lowercase, any_case };

// One DNS label: letters, digits and '-', starting and ending with a letter or digit.
bool is_label(std::string_view s, letters allowed, std::size_t max_size) {
    auto alnum = [allowed](char c) { return allowed == letters::lowercase ? is_alnum_lower(c) : is_alnum(c); };
    if (s.empty() || s.size() > max_size || !alnum(s.front()) || !alnum(s.back())) return false;
    return std::ranges::all_of(s, [&](char c) { return alnum(c) || c == '-'; });
}

// Dot-separated labels. Kubernetes' DNS-1123 subdomain check limits only the
// whole name, not each label, so the label limit is the caller's.
bool all_labels(std::string_view s, letters allowed, std::size_t max_label_size) {
    while (true) {
        const auto dot = s.find('.');
        if (!is_label(s.substr(0, dot), allowed, max_label_size)) return false;
        if (dot == std::string_view::npos) return true;
        s.remove_prefix(dot + 1);
    }
}

bool is_ipv4(const std::string& s) {
    in_addr addr{};
    return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

// An IPv6 address as written inside brackets, with an optional "%zone".
bool is_ipv6(std::string_view s) {
    const auto percent = s.find('%');
    if (percent != std::string_view::npos && percent + 1 == s.size()) return false;
    const std::string address{s.substr(0, percent)};
    in6_addr addr{};
    return inet_pton(AF_INET6, address.c_str(), &addr) == 1;
}

check_result check_host(std::string_view host) {
    if (host.empty()) return {};
    if (std::ranges::all_of(host, [](char c) { return is_digit(c) || c == '.'; })) {
        if (is_ipv4(std::string{host})) return {};
        return std::unexpected(fmt::format("\"{}\" is not a valid IPv4 address", host));
    }
    if (host.size() <= 253 && all_labels(host, letters::any_case, 63)) return {};
    return std::unexpected(fmt::format("\"{}\" is not a valid host name or IP address", host));
}

std::expected<std::uint16_t, std::string> parse_bind_port(std::string_view text) {
    if (text.empty()) return std::unexpected(std::string{"missing port after ':'"});
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) {
        return std::unexpected(std::string{"port must be a number from 0 to 65535"});
    }
    return static_cast<std::uint16_t>(value);
}

// Splits "[v6]:port" into the address inside the brackets and the text after the colon.
std::expected<std::pair<std::string_view, std::string_view>, std::string> split_bracketed(std::string_view text) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::unexpected(std::string{"missing ']' after IPv6 address"});
    const std::string_view host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) return std::unexpected(std::string{"want \":port\" after ']'"});
    if (!is_ipv6(host)) return std::unexpected(fmt::format("\"{}\" is not a valid IPv6 address", host));
    return std::pair{host, rest.substr(1)};
}

std::expected<std::pair<std::string_view, std::string_view>, std::string> split_host_port(std::string_view text) {
    if (text.starts_with('[')) return split_bracketed(text);
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return std::unexpected(std::string{"want host:port, :port, or 0 to disable"});
    }
    const std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
        return std::unexpected(std::string{"an IPv6 address must be in brackets, as in [::1]:8080"});
    }
    if (auto ok = check_host(host); !ok) return std::unexpected(ok.error());
    return std::pair{host, text.substr(colon + 1)};
}

std::expected<std::string, std::string> parse_subdomain(std::string_view v) {
    if (v.size() > 253) return std::unexpected(fmt::format("want at most 253 characters, got {}", v.size()));
    if (!all_labels(v, letters::lowercase, 253)) {
        return std::unexpected(std::string{
            "want a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"});
    }
    return std::string{v};
}

std::expected<std::string, std::string> parse_namespace(std::string_view v) {
    if (v.empty()) return std::string{};
    if (v.size() > 63) return std::unexpected(fmt::format("want at most 63 characters, got {}", v.size()));
    if (!is_label(v, letters::lowercase, 63)) {
        return std::unexpected(std::string{
            "want a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"});
    }
    return std::string{v};
}

// ---- numbers ----

template <typename T>
std::optional<T> parse_number(std::string_view v) {
    T value{};
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
    return value;
}

std::expected<double, std::string> parse_qps(std::string_view v) {
    const auto qps = parse_number<double>(v);
    if (!qps || !std::isfinite(*qps) || *qps <= 0) return std::unexpected(std::string{"want a number greater than 0"});
    if (*qps > max_qps) return std::unexpected(fmt::format("want at most {}", max_qps));
    return *qps;
}

std::expected<int, std::string> parse_burst(std::string_view v) {
    const auto burst = parse_number<std::int64_t>(v);
    if (!burst || *burst < 1) return std::unexpected(std::string{"want a whole number of at least 1"});
    if (*burst > max_burst) return std::unexpected(fmt::format("want at most {}", max_burst));
    return static_cast<int>(*burst);
}

std::expected<int, std::string> parse_webhook_port(std::string_view v) {
    const auto port = parse_number<int>(v);
    if (!port || *port < 1 || *port > 65535) return std::unexpected(std::string{"want a port number from 1 to 65535"});
    return *port;
}

// ---- enumerations ----

constexpr std::array<std::pair<std::string_view, log_level>, 5> level_names{{
    {"trace", log_level::trace},
    {"debug", log_level::debug},
    {"info", log_level::info},
    {"warn", log_level::warn},
    {"error", log_level::error},
}};

constexpr std::array<std::pair<std::string_view, log_format>, 2> format_names{{
    {"text", log_format::text},
    {"json", log_format::json},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, E>, N>& names, E value) {
    return std::ranges::find(names, value, &std::pair<std::string_view, E>::second)->first;
}

template <typename E, std::size_t N>
std::expected<E, std::string> parse_name(const std::array<std::pair<std::string_view, E>, N>& names,
                                         std::string_view v) {
    auto it = std::ranges::find(names, v, &std::pair<std::string_view, E>::first);
    if (it != names.end()) return it->second;
    std::string choices;
    for (std::size_t i = 0; i < N; ++i) {
        choices += i == 0 ? "" : (i + 1 == N ? " or " : ", ");
        choices += names[i].first;
    }
    return std::unexpected("want " + choices);
}

// ---- flag registration ----

std::string quoted(std::string_view s) { return fmt::format("\"{}\"", s); }

// Registers a flag whose value `parse` turns into a T or an error message.
template <typename T, typename Parse>
void add_parsed(flag_set& flags, std::string name, std::string default_text, std::string help, T& target,
                Parse parse) {
    flags.add_value(std::move(name), std::move(default_text), std::move(help),
                    [&target, parse](std::string_view v) -> check_result {
                        auto parsed = parse(v);
                        if (!parsed) return std::unexpected(std::move(parsed).error());
                        target = *std::move(parsed);
                        return {};
                    });
}

// A parser for durations greater than 0 and, if given, at most `max`.
auto positive_duration(std::optional<std::chrono::milliseconds> max = std::nullopt) {
    return [max](std::string_view v) -> std::expected<std::chrono::milliseconds, std::string> {
        auto d = parse_duration(v);
        if (!d) return d;
        if (*d <= 0ms) return std::unexpected(std::string{"want a duration greater than 0"});
        if (max && *d > *max) return std::unexpected("want at most " + format_duration(*max));
        return d;
    };
}

void add_kubernetes_flags(flag_set& flags, options& o) {
    flags.add_string("kubeconfig", o.kubeconfig,
                     "Path to the kubeconfig file to use; if unset, elector looks at $KUBECONFIG, "
                     "~/.kube/config and the pod's service account.");
    flags.add_string("context", o.context, "Name of the kubeconfig context to use; if unset, its current-context.");
    add_parsed(flags, "kube-api-qps", fmt::format("{}", o.kube_api_qps),
               fmt::format("Requests per second elector may send to the Kubernetes API server on average "
                           "(client-side throttling), at most {}. The Lease writes and label patches of elections are not "
                           "counted: N groups renew N / retryPeriod times a second whatever the limit.",
                           max_qps),
               o.kube_api_qps, parse_qps);
    add_parsed(flags, "kube-api-burst", fmt::format("{}", o.kube_api_burst),
               fmt::format("Requests elector may send to the Kubernetes API server in a burst above "
                           "--kube-api-qps; at least --kube-api-qps and at most {}.",
                           max_burst),
               o.kube_api_burst, parse_burst);
    add_parsed(flags, "kube-api-timeout", format_duration(o.request_timeout),
               fmt::format("Timeout of each request to the Kubernetes API server, at most {}; keep it well below "
                           "--leader-election-renew-deadline so that one stuck request cannot cost a lease.",
                           format_duration(max_request_timeout)),
               o.request_timeout, positive_duration(max_request_timeout));
}

void add_leader_election_flags(flag_set& flags, options& o) {
    flags.add_bool("leader-elect", o.leader_elect,
                   "Elect a leader among elector's own replicas so that only one of them acts at a time; "
                   "needed when running more than one replica.");
    add_parsed(flags, "leader-election-id", quoted(o.leader_election_id),
               "Name of the coordination.k8s.io Lease elector's replicas compete for (a DNS-1123 subdomain).",
               o.leader_election_id, parse_subdomain);
    add_parsed(flags, "leader-election-namespace", "",
               "Namespace of that Lease; if unset, the namespace elector runs in.", o.leader_election_namespace,
               parse_namespace);
    add_parsed(flags, "leader-election-lease-duration", format_duration(o.leader_election_lease_duration),
               "How long the other replicas wait after the leader's last renewal before they take the Lease over.",
               o.leader_election_lease_duration, positive_duration());
    add_parsed(flags, "leader-election-renew-deadline", format_duration(o.leader_election_renew_deadline),
               "How long the leader keeps trying to renew the Lease before it gives up leadership; "
               "less than --leader-election-lease-duration.",
               o.leader_election_renew_deadline, positive_duration());
    add_parsed(flags, "leader-election-retry-period", format_duration(o.leader_election_retry_period),
               "How long replicas wait between attempts to acquire or renew the Lease; "
               "--leader-election-renew-deadline must exceed 1.2 times this.",
               o.leader_election_retry_period, positive_duration());
}

void add_controller_flags(flag_set& flags, options& o) {
    flags.add_value("namespace", "all but kube-system, kube-public and kube-node-lease",
                    "Namespace whose ElectionGroups elector runs; repeat the flag (or separate with commas) for "
                    "several. System namespaces are watched only when named here.",
                    [&o](std::string_view v) -> check_result {
                        while (true) {
                            const auto comma = v.find(',');
                            auto ns = parse_namespace(v.substr(0, comma));
                            if (!ns) return std::unexpected(std::move(ns).error());
                            if (ns->empty()) return std::unexpected(std::string{"want namespace names separated by commas"});
                            if (std::find(o.namespaces.begin(), o.namespaces.end(), *ns) == o.namespaces.end())
                                o.namespaces.push_back(*ns);
                            if (comma == std::string_view::npos) return {};
                            v.remove_prefix(comma + 1);
                        }
                    });
    add_parsed(flags, "max-concurrent-reconciles", fmt::format("{}", o.max_concurrent_reconciles),
               "ElectionGroups reconciled at the same time (worker threads), 1 to 64; one group is never "
               "reconciled by two workers at once.",
               o.max_concurrent_reconciles, [](std::string_view v) -> std::expected<int, std::string> {
                   int n = 0;
                   auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                   if (ec != std::errc{} || end != v.data() + v.size() || n < 1 || n > 64)
                       return std::unexpected(std::string{"want a whole number from 1 to 64"});
                   return n;
               });
}

void add_server_flags(flag_set& flags, options& o) {
    add_parsed(flags, "leader-api-bind-address", quoted(o.leader_api_bind_address.to_string()),
               "Address of the leader discovery API (GET /leader/NAMESPACE/GROUP): host:port, :port for all "
               "interfaces, or 0 to disable it.",
               o.leader_api_bind_address, parse_bind_address);
    add_parsed(flags, "metrics-bind-address", quoted(o.metrics_bind_address.to_string()),
               "Address the Prometheus metrics endpoint listens on: host:port, :port for all interfaces, "
               "or 0 to disable it.",
               o.metrics_bind_address, parse_bind_address);
    add_parsed(flags, "health-probe-bind-address", quoted(o.health_probe_bind_address.to_string()),
               "Address the /healthz and /readyz probe endpoints listen on: host:port, :port for all interfaces, "
               "or 0 to disable them.",
               o.health_probe_bind_address, parse_bind_address);
    add_parsed(flags, "webhook-host", o.webhook_host.empty() ? std::string() : quoted(o.webhook_host),
               "Address the admission webhook server listens on (an IP address or host name); empty for all "
               "interfaces.",
               o.webhook_host, [](std::string_view v) -> std::expected<std::string, std::string> {
                   if (v.find_first_of(" /:") != std::string_view::npos && !(v.starts_with('[') && v.ends_with(']'))) {
                       return std::unexpected(std::string{"want an IP address or a host name, without a port"});
                   }
                   return std::string{v};
               });
    add_parsed(flags, "webhook-port", fmt::format("{}", o.webhook_port),
               "Port the admission webhook server listens on.", o.webhook_port, parse_webhook_port);
    add_parsed(flags, "webhook-cert-dir", quoted(o.webhook_cert_dir),
               "Directory holding the webhook server's TLS certificate and key, tls.crt and tls.key (re-read "
               "when they change). The webhook is served when this directory exists.",
               o.webhook_cert_dir, [](std::string_view v) -> std::expected<std::string, std::string> {
                   if (v.empty()) return std::unexpected(std::string{"want a directory"});
                   return std::string{v};
               });
}

void add_logging_flags(flag_set& flags, options& o) {
    add_parsed(flags, "log-level", quoted(name_of(level_names, o.level)),
               "Least severe messages logged: trace, debug, info, warn or error.", o.level,
               [](std::string_view v) { return parse_name(level_names, v); });
    add_parsed(flags, "log-format", quoted(name_of(format_names, o.format)),
               "Format of log lines: text (for people) or json (one object per line, for log collectors).", o.format,
               [](std::string_view v) { return parse_name(format_names, v); });
}

flag_set make_flags(options& o) {
    flag_set flags("elector", std::string{synopsis});
    add_kubernetes_flags(flags, o);
    add_leader_election_flags(flags, o);
    add_controller_flags(flags, o);
    add_server_flags(flags, o);
    add_logging_flags(flags, o);
    flags.add_bool("help", o.show_help, "Show this help and exit.");
    flags.add_bool("version", o.show_version, "Print the version and exit.");
    return flags;
}

// ---- rules across flags ----

check_result check_burst(const options& o) {
    const auto min_burst = static_cast<int>(std::ceil(o.kube_api_qps));
    if (o.kube_api_burst >= min_burst) return {};
    return std::unexpected(
        fmt::format("--kube-api-burst ({}) must not be less than --kube-api-qps ({}) rounded up to {}",
                    o.kube_api_burst, o.kube_api_qps, min_burst));
}

// client-go's rule (leaderelection.NewLeaderElector): leaseDuration > renewDeadline > 1.2 × retryPeriod, so
// that the leader can retry a failed renewal at least once, after a jittered wait of up to 1.2 × retryPeriod,
// before its renew deadline passes.
check_result check_leader_election_timing(const options& o) {
    const auto lease = o.leader_election_lease_duration;
    const auto renew = o.leader_election_renew_deadline;
    const auto retry = o.leader_election_retry_period;
    // The Lease stores whole seconds (leaseDurationSeconds); less would be written as 0 and refused.
    if (lease < std::chrono::seconds(1)) {
        return std::unexpected(fmt::format("--leader-election-lease-duration ({}) must be at least 1s: the Lease "
                                           "stores whole seconds",
                                           format_duration(lease)));
    }
    if (renew >= lease) {
        return std::unexpected(fmt::format(
            "--leader-election-renew-deadline ({}) must be less than --leader-election-lease-duration ({})",
            format_duration(renew), format_duration(lease)));
    }
    // renew > 1.2 × retry, in exact integer arithmetic.
    if (renew.count() * 5 > retry.count() * 6) return {};
    const auto min_renew_us = static_cast<std::uint64_t>(retry.count()) * 6 * 1000 / 5;
    return std::unexpected(fmt::format(
        "--leader-election-renew-deadline ({}) must be more than 1.2 times --leader-election-retry-period ({}), "
        "that is more than {}",
        format_duration(renew), format_duration(retry), format_magnitude(min_renew_us / 1000, min_renew_us % 1000)));
}

}  // namespace

std::string bind_address::to_string() const {
    if (!enabled) return "0";
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::expected<options, std::string> parse_options(std::span<const char* const> args) {
    options o;
    const flag_set flags = make_flags(o);
    auto positional = flags.parse(args);
    if (!positional) return std::unexpected(std::move(positional).error());
    // Asking for help or the version must work whatever else is on the line.
    if (o.show_help || o.show_version) return o;
    if (!positional->empty()) {
        return std::unexpected(fmt::format("unexpected argument \"{}\" (see --help)", positional->front()));
    }
    for (auto check : {check_burst, check_leader_election_timing}) {
        if (auto ok = check(o); !ok) return std::unexpected(std::move(ok).error());
    }
    return o;
}

std::string options_usage() {
    options defaults;
    return make_flags(defaults).usage();
}

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
    if (text.empty()) return std::unexpected(duration_hint);
    if (text.front() == '-') return std::unexpected(std::string{"negative durations are not allowed"});
    if (text == "0") return std::chrono::milliseconds{0};
    std::uint64_t total_ns = 0;
    while (!text.empty()) {
        auto ns = take_component(text);
        if (!ns) return std::unexpected(std::move(ns).error());
        if (*ns > max_duration_ns - total_ns) return std::unexpected(std::string{"duration too large"});
        total_ns += *ns;
    }
    // Sub-millisecond parts round up, so that a duration that is not zero never becomes zero.
    constexpr std::uint64_t ns_per_ms = 1'000'000;
    return std::chrono::milliseconds{static_cast<std::int64_t>((total_ns + ns_per_ms - 1) / ns_per_ms)};
}

std::string format_duration(std::chrono::milliseconds d) {
    const std::int64_t ms = d.count();
    if (ms >= 0) return format_magnitude(static_cast<std::uint64_t>(ms), 0);
    // Negate in unsigned arithmetic: -INT64_MIN does not fit in int64.
    return "-" + format_magnitude(0 - static_cast<std::uint64_t>(ms), 0);
}

std::expected<bind_address, std::string> parse_bind_address(std::string_view text) {
    if (text == "0") return bind_address{"", 0, false};
    auto parts = split_host_port(text);
    if (!parts) return std::unexpected(std::move(parts).error());
    auto port = parse_bind_port(parts->second);
    if (!port) return std::unexpected(std::move(port).error());
    return bind_address{std::string{parts->first}, *port, true};
}

}  // namespace elector::config
