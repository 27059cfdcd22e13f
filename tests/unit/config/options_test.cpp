#include "config/options.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace elector::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

std::expected<options, std::string> parse(std::initializer_list<const char*> args) {
    const std::vector<const char*> argv(args);
    return parse_options(argv);
}

std::string parse_error(std::initializer_list<const char*> args) {
    auto r = parse(args);
    return r ? std::string{"<no error>"} : r.error();
}

// ---- defaults ----

TEST(options, defaults_without_flags) {
    auto r = parse({});
    ASSERT_TRUE(r.has_value()) << r.error();
    const options& o = *r;
    EXPECT_EQ(o.kubeconfig, "");
    EXPECT_EQ(o.context, "");
    EXPECT_EQ(o.kube_api_qps, 50);
    EXPECT_EQ(o.kube_api_burst, 100);
    EXPECT_EQ(o.request_timeout, 5s);
    EXPECT_FALSE(o.leader_elect);
    EXPECT_EQ(o.leader_election_id, "elector-leader");
    EXPECT_EQ(o.leader_election_namespace, "");
    EXPECT_EQ(o.leader_election_lease_duration, 15s);
    EXPECT_EQ(o.leader_election_renew_deadline, 10s);
    EXPECT_EQ(o.leader_election_retry_period, 2s);
    EXPECT_EQ(o.metrics_bind_address.to_string(), ":8080");
    EXPECT_EQ(o.health_probe_bind_address.to_string(), ":8081");
    EXPECT_EQ(o.webhook_port, 9443);
    EXPECT_EQ(o.webhook_cert_dir, "/tmp/k8s-webhook-server/serving-certs");
    EXPECT_EQ(o.level, log_level::info);
    EXPECT_EQ(o.format, log_format::text);
    EXPECT_FALSE(o.show_help);
    EXPECT_FALSE(o.show_version);
}

// ---- valid values, one flag at a time ----

struct valid_case {
    std::vector<const char*> args;
    std::function<void(const options&)> check;
};

TEST(options, accepts_valid_values) {
    const std::vector<valid_case> cases{
        {{"--kubeconfig=/root/.kube/other"}, [](const options& o) { EXPECT_EQ(o.kubeconfig, "/root/.kube/other"); }},
        {{"--context", "kind-dev"}, [](const options& o) { EXPECT_EQ(o.context, "kind-dev"); }},
        {{"--kube-api-qps=0.5"}, [](const options& o) { EXPECT_EQ(o.kube_api_qps, 0.5); }},
        {{"--kube-api-qps=10000", "--kube-api-burst=10000"},
         [](const options& o) { EXPECT_EQ(o.kube_api_qps, 10000); }},
        {{"--kube-api-burst=100000"}, [](const options& o) { EXPECT_EQ(o.kube_api_burst, 100000); }},
        {{"--kube-api-qps=1", "--kube-api-burst=1"}, [](const options& o) { EXPECT_EQ(o.kube_api_burst, 1); }},
        {{"--kube-api-timeout=1ms"}, [](const options& o) { EXPECT_EQ(o.request_timeout, 1ms); }},
        {{"--kube-api-timeout=5m"}, [](const options& o) { EXPECT_EQ(o.request_timeout, 5min); }},
        {{"--kube-api-timeout", "2.5s"}, [](const options& o) { EXPECT_EQ(o.request_timeout, 2500ms); }},
        {{"--leader-elect"}, [](const options& o) { EXPECT_TRUE(o.leader_elect); }},
        {{"--namespace=team-a", "--namespace", "team-b,kube-system", "--namespace=team-a"},
         [](const options& o) {
             EXPECT_EQ(o.namespaces, (std::vector<std::string>{"team-a", "team-b", "kube-system"}));
         }},
        {{"--max-concurrent-reconciles=1"}, [](const options& o) { EXPECT_EQ(o.max_concurrent_reconciles, 1); }},
        {{"--max-concurrent-reconciles", "64"}, [](const options& o) { EXPECT_EQ(o.max_concurrent_reconciles, 64); }},
        {{"--leader-api-bind-address=127.0.0.1:0"},
         [](const options& o) { EXPECT_EQ(o.leader_api_bind_address.to_string(), "127.0.0.1:0"); }},
        {{"--leader-api-bind-address=0"}, [](const options& o) { EXPECT_FALSE(o.leader_api_bind_address.enabled); }},
        {{"--leader-elect=false"}, [](const options& o) { EXPECT_FALSE(o.leader_elect); }},
        {{"--leader-election-id=elector.example.com"},
         [](const options& o) { EXPECT_EQ(o.leader_election_id, "elector.example.com"); }},
        {{"--leader-election-id=a"}, [](const options& o) { EXPECT_EQ(o.leader_election_id, "a"); }},
        {{"--leader-election-namespace=kube-system"},
         [](const options& o) { EXPECT_EQ(o.leader_election_namespace, "kube-system"); }},
        {{"--leader-election-namespace="}, [](const options& o) { EXPECT_EQ(o.leader_election_namespace, ""); }},
        {{"--leader-election-lease-duration=1m"},
         [](const options& o) { EXPECT_EQ(o.leader_election_lease_duration, 1min); }},
        {{"--leader-election-renew-deadline=14.999s"},
         [](const options& o) { EXPECT_EQ(o.leader_election_renew_deadline, 14999ms); }},
        {{"--leader-election-retry-period=500ms"},
         [](const options& o) { EXPECT_EQ(o.leader_election_retry_period, 500ms); }},
        {{"--metrics-bind-address=0"}, [](const options& o) { EXPECT_FALSE(o.metrics_bind_address.enabled); }},
        {{"--metrics-bind-address=127.0.0.1:9090"},
         [](const options& o) { EXPECT_EQ(o.metrics_bind_address.to_string(), "127.0.0.1:9090"); }},
        {{"--health-probe-bind-address=[::1]:8081"},
         [](const options& o) { EXPECT_EQ(o.health_probe_bind_address.host, "::1"); }},
        {{"--webhook-port=1"}, [](const options& o) { EXPECT_EQ(o.webhook_port, 1); }},
        {{"--webhook-port=65535"}, [](const options& o) { EXPECT_EQ(o.webhook_port, 65535); }},
        {{"--webhook-cert-dir=/certs"}, [](const options& o) { EXPECT_EQ(o.webhook_cert_dir, "/certs"); }},
        {{"--webhook-host=127.0.0.1"}, [](const options& o) { EXPECT_EQ(o.webhook_host, "127.0.0.1"); }},
        {{"--webhook-host=[::1]"}, [](const options& o) { EXPECT_EQ(o.webhook_host, "[::1]"); }},
        {{"--log-level=trace"}, [](const options& o) { EXPECT_EQ(o.level, log_level::trace); }},
        {{"--log-level=debug"}, [](const options& o) { EXPECT_EQ(o.level, log_level::debug); }},
        {{"--log-level=info"}, [](const options& o) { EXPECT_EQ(o.level, log_level::info); }},
        {{"--log-level=warn"}, [](const options& o) { EXPECT_EQ(o.level, log_level::warn); }},
        {{"--log-level=error"}, [](const options& o) { EXPECT_EQ(o.level, log_level::error); }},
        {{"--log-format=json"}, [](const options& o) { EXPECT_EQ(o.format, log_format::json); }},
        {{"--log-format=text"}, [](const options& o) { EXPECT_EQ(o.format, log_format::text); }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.args.front());
        auto r = parse_options(c.args);
        ASSERT_TRUE(r.has_value()) << r.error();
        c.check(*r);
    }
}

TEST(options, burst_of_one_is_a_valid_value_but_must_cover_the_default_qps) {
    EXPECT_EQ(parse_error({"--kube-api-burst=1"}),
              "--kube-api-burst (1) must not be less than --kube-api-qps (50) rounded up to 50");
}

// ---- invalid values: the exact message, naming the flag ----

struct invalid_case {
    std::vector<const char*> args;
    std::string error;
};

TEST(options, rejects_invalid_values_naming_the_flag) {
    const std::string subdomain_rule =
        "want a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
    const std::string label_rule =
        "want a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";
    const std::string long_id(254, 'a');
    const std::string long_id_arg = "--leader-election-id=" + long_id;
    const std::string max_id_arg = "--leader-election-id=" + std::string(253, 'a');
    const std::string long_ns_arg = "--leader-election-namespace=" + std::string(64, 'a');
    const std::vector<invalid_case> cases{
        {{"--kube-api-qps=fast"}, R"(invalid value "fast" for --kube-api-qps: want a number greater than 0)"},
        {{"--max-concurrent-reconciles=0"},
         R"(invalid value "0" for --max-concurrent-reconciles: want a whole number from 1 to 64)"},
        {{"--max-concurrent-reconciles=65"},
         R"(invalid value "65" for --max-concurrent-reconciles: want a whole number from 1 to 64)"},
        {{"--max-concurrent-reconciles=two"},
         R"(invalid value "two" for --max-concurrent-reconciles: want a whole number from 1 to 64)"},
        {{"--namespace=Team_A"}, R"(invalid value "Team_A" for --namespace: )" + label_rule},
        {{"--namespace=a,,b"}, R"(invalid value "a,,b" for --namespace: want namespace names separated by commas)"},
        {{"--namespace="}, R"(invalid value "" for --namespace: want namespace names separated by commas)"},
        {{"--kube-api-qps=0"}, R"(invalid value "0" for --kube-api-qps: want a number greater than 0)"},
        {{"--kube-api-qps=-5"}, R"(invalid value "-5" for --kube-api-qps: want a number greater than 0)"},
        {{"--kube-api-qps=nan"}, R"(invalid value "nan" for --kube-api-qps: want a number greater than 0)"},
        {{"--kube-api-qps=inf"}, R"(invalid value "inf" for --kube-api-qps: want a number greater than 0)"},
        {{"--kube-api-qps=5 "}, R"(invalid value "5 " for --kube-api-qps: want a number greater than 0)"},
        {{"--kube-api-qps=10000.5"}, R"(invalid value "10000.5" for --kube-api-qps: want at most 10000)"},
        {{"--kube-api-burst=0"}, R"(invalid value "0" for --kube-api-burst: want a whole number of at least 1)"},
        {{"--kube-api-burst=1.5"}, R"(invalid value "1.5" for --kube-api-burst: want a whole number of at least 1)"},
        {{"--kube-api-burst=lots"}, R"(invalid value "lots" for --kube-api-burst: want a whole number of at least 1)"},
        {{"--kube-api-burst=100001"}, R"(invalid value "100001" for --kube-api-burst: want at most 100000)"},
        {{"--kube-api-burst=99999999999"}, R"(invalid value "99999999999" for --kube-api-burst: want at most 100000)"},
        {{"--kube-api-timeout=0"}, R"(invalid value "0" for --kube-api-timeout: want a duration greater than 0)"},
        {{"--kube-api-timeout=5m0.001s"}, R"(invalid value "5m0.001s" for --kube-api-timeout: want at most 5m0s)"},
        {{"--kube-api-timeout=5"},
         R"(invalid value "5" for --kube-api-timeout: missing unit; want a duration such as "15s", "1m30s" )"
         R"(or "500ms")"},
        {{"--leader-elect=maybe"}, R"(invalid value "maybe" for --leader-elect: want true or false)"},
        {{"--leader-election-id="}, R"(invalid value "" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=Elector"}, R"(invalid value "Elector" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=-elector"}, R"(invalid value "-elector" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=elector-"}, R"(invalid value "elector-" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=a..b"}, R"(invalid value "a..b" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=.a"}, R"(invalid value ".a" for --leader-election-id: )" + subdomain_rule},
        {{"--leader-election-id=a_b"}, R"(invalid value "a_b" for --leader-election-id: )" + subdomain_rule},
        {{long_id_arg.c_str()},
         "invalid value \"" + long_id + "\" for --leader-election-id: want at most 253 characters, got 254"},
        {{"--leader-election-namespace=Kube-System"},
         R"(invalid value "Kube-System" for --leader-election-namespace: )" + label_rule},
        {{"--leader-election-namespace=a.b"}, R"(invalid value "a.b" for --leader-election-namespace: )" + label_rule},
        {{"--leader-election-namespace=a-"}, R"(invalid value "a-" for --leader-election-namespace: )" + label_rule},
        {{long_ns_arg.c_str()}, "invalid value \"" + std::string(64, 'a') +
                                    "\" for --leader-election-namespace: want at most 63 characters, got 64"},
        {{"--leader-election-lease-duration=0s"},
         R"(invalid value "0s" for --leader-election-lease-duration: want a duration greater than 0)"},
        {{"--leader-election-lease-duration=15"},
         R"(invalid value "15" for --leader-election-lease-duration: missing unit; want a duration such as "15s", )"
         R"("1m30s" or "500ms")"},
        {{"--leader-election-renew-deadline=-1s"},
         R"(invalid value "-1s" for --leader-election-renew-deadline: negative durations are not allowed)"},
        {{"--leader-election-retry-period=2x"},
         R"(invalid value "2x" for --leader-election-retry-period: unknown unit "x"; want h, m, s, ms, us or ns)"},
        {{"--leader-election-retry-period=0"},
         R"(invalid value "0" for --leader-election-retry-period: want a duration greater than 0)"},
        {{"--metrics-bind-address=8080"},
         R"(invalid value "8080" for --metrics-bind-address: want host:port, :port, or 0 to disable)"},
        {{"--metrics-bind-address="},
         R"(invalid value "" for --metrics-bind-address: want host:port, :port, or 0 to disable)"},
        {{"--health-probe-bind-address=1.2.3.4:70000"},
         R"(invalid value "1.2.3.4:70000" for --health-probe-bind-address: port must be a number from 0 to 65535)"},
        {{"--webhook-port=0"}, R"(invalid value "0" for --webhook-port: want a port number from 1 to 65535)"},
        {{"--webhook-port=65536"}, R"(invalid value "65536" for --webhook-port: want a port number from 1 to 65535)"},
        {{"--webhook-port=https"}, R"(invalid value "https" for --webhook-port: want a port number from 1 to 65535)"},
        {{"--webhook-cert-dir="}, R"(invalid value "" for --webhook-cert-dir: want a directory)"},
        {{"--webhook-host=127.0.0.1:9443"},
         R"(invalid value "127.0.0.1:9443" for --webhook-host: want an IP address or a host name, without a port)"},
        {{"--log-level=verbose"},
         R"(invalid value "verbose" for --log-level: want trace, debug, info, warn or error)"},
        {{"--log-level=INFO"}, R"(invalid value "INFO" for --log-level: want trace, debug, info, warn or error)"},
        {{"--log-format=xml"}, R"(invalid value "xml" for --log-format: want text or json)"},
        {{"--kubeconfig"}, "flag --kubeconfig needs a value"},
        {{"--kube-api-qpz=5"}, "unknown flag --kube-api-qpz (see --help)"},
        {{"run"}, R"(unexpected argument "run" (see --help))"},
        {{"--leader-elect", "--", "--webhook-port=1"}, R"(unexpected argument "--webhook-port=1" (see --help))"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.args.front());
        auto r = parse_options(c.args);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error(), c.error);
    }
    // Kubernetes limits a subdomain's length, not its labels'.
    EXPECT_TRUE(parse_options(std::vector<const char*>{max_id_arg.c_str()}).has_value());
    const std::string max_ns_arg = "--leader-election-namespace=" + std::string(63, 'a');
    EXPECT_TRUE(parse_options(std::vector<const char*>{max_ns_arg.c_str()}).has_value());
}

// ---- rules across flags ----

TEST(options, burst_must_cover_qps_rounded_up) {
    EXPECT_EQ(parse_error({"--kube-api-qps=150.5", "--kube-api-burst=150"}),
              "--kube-api-burst (150) must not be less than --kube-api-qps (150.5) rounded up to 151");
    EXPECT_TRUE(parse({"--kube-api-qps=150.5", "--kube-api-burst=151"}).has_value());
    EXPECT_EQ(parse_error({"--kube-api-qps=200"}),
              "--kube-api-burst (100) must not be less than --kube-api-qps (200) rounded up to 200");
    EXPECT_TRUE(parse({"--kube-api-qps=100"}).has_value());
}

TEST(options, renew_deadline_must_be_less_than_lease_duration) {
    EXPECT_EQ(parse_error({"--leader-election-renew-deadline=20s"}),
              "--leader-election-renew-deadline (20s) must be less than --leader-election-lease-duration (15s)");
    EXPECT_EQ(parse_error({"--leader-election-lease-duration=10s"}),
              "--leader-election-renew-deadline (10s) must be less than --leader-election-lease-duration (10s)");
    EXPECT_TRUE(parse({"--leader-election-lease-duration=10001ms"}).has_value());
}

// The Lease stores leaseDurationSeconds: a shorter duration would be written as 0.
TEST(options, lease_duration_is_at_least_one_second) {
    EXPECT_EQ(parse_error({"--leader-election-lease-duration=999ms", "--leader-election-renew-deadline=500ms",
                           "--leader-election-retry-period=100ms"}),
              "--leader-election-lease-duration (999ms) must be at least 1s: the Lease stores whole seconds");
    EXPECT_TRUE(parse({"--leader-election-lease-duration=1s", "--leader-election-renew-deadline=500ms",
                       "--leader-election-retry-period=100ms"})
                    .has_value());
}

// client-go requires renewDeadline > 1.2 × retryPeriod strictly.
TEST(options, renew_deadline_must_exceed_one_point_two_retry_periods) {
    EXPECT_EQ(parse_error({"--leader-election-retry-period=2s", "--leader-election-renew-deadline=2.4s"}),
              "--leader-election-renew-deadline (2.4s) must be more than 1.2 times --leader-election-retry-period "
              "(2s), that is more than 2.4s");
    EXPECT_TRUE(parse({"--leader-election-retry-period=2s", "--leader-election-renew-deadline=2401ms"}).has_value());
    EXPECT_TRUE(parse({"--leader-election-retry-period=2s", "--leader-election-renew-deadline=2.41s"}).has_value());
    EXPECT_EQ(parse_error({"--leader-election-retry-period=10s"}),
              "--leader-election-renew-deadline (10s) must be more than 1.2 times --leader-election-retry-period "
              "(10s), that is more than 12s");
    // 1.2 × a whole number of milliseconds may be a fraction of one.
    EXPECT_EQ(parse_error({"--leader-election-lease-duration=1s", "--leader-election-renew-deadline=2ms",
                           "--leader-election-retry-period=2ms"}),
              "--leader-election-renew-deadline (2ms) must be more than 1.2 times --leader-election-retry-period "
              "(2ms), that is more than 2.4ms");
    EXPECT_EQ(parse_error({"--leader-election-lease-duration=1s", "--leader-election-renew-deadline=1ms",
                           "--leader-election-retry-period=1ms"}),
              "--leader-election-renew-deadline (1ms) must be more than 1.2 times --leader-election-retry-period "
              "(1ms), that is more than 1.2ms");
    EXPECT_TRUE(parse({"--leader-election-lease-duration=1s", "--leader-election-renew-deadline=3ms",
                       "--leader-election-retry-period=2ms"})
                    .has_value());
}

TEST(options, help_and_version_win_over_positionals_and_cross_flag_rules) {
    auto help = parse({"--help", "--leader-election-renew-deadline=20s", "extra"});
    ASSERT_TRUE(help.has_value()) << help.error();
    EXPECT_TRUE(help->show_help);
    auto version = parse({"extra", "--version"});
    ASSERT_TRUE(version.has_value()) << version.error();
    EXPECT_TRUE(version->show_version);
    // A value that is wrong on its own is found while parsing, before --help is seen.
    EXPECT_EQ(parse_error({"--help", "--webhook-port=0"}),
              R"(invalid value "0" for --webhook-port: want a port number from 1 to 65535)");
}

// ---- usage ----

TEST(options, usage_lists_every_flag_with_its_default) {
    const std::string usage = options_usage();
    EXPECT_TRUE(usage.starts_with("Usage: elector [flags]\n\nelector runs leader election")) << usage;
    struct documented {
        std::string name;
        bool is_bool;
        std::string default_text;  // "" when usage shows none
    };
    const std::vector<documented> flags{
        {"kubeconfig", false, ""},
        {"context", false, ""},
        {"kube-api-qps", false, "50"},
        {"kube-api-burst", false, "100"},
        {"kube-api-timeout", false, "5s"},
        {"leader-elect", true, ""},
        {"leader-election-id", false, "\"elector-leader\""},
        {"leader-election-namespace", false, ""},
        {"leader-election-lease-duration", false, "15s"},
        {"leader-election-renew-deadline", false, "10s"},
        {"leader-election-retry-period", false, "2s"},
        {"namespace", false, "all but kube-system, kube-public and kube-node-lease"},
        {"max-concurrent-reconciles", false, "4"},
        {"leader-api-bind-address", false, "\":8082\""},
        {"metrics-bind-address", false, "\":8080\""},
        {"health-probe-bind-address", false, "\":8081\""},
        {"webhook-host", false, ""},
        {"webhook-port", false, "9443"},
        {"webhook-cert-dir", false, "\"/tmp/k8s-webhook-server/serving-certs\""},
        {"log-level", false, "\"info\""},
        {"log-format", false, "\"text\""},
        {"help", true, ""},
        {"version", true, ""},
    };
    std::size_t flag_lines = 0;
    for (std::size_t at = usage.find("\n  --"); at != std::string::npos; at = usage.find("\n  --", at + 1)) {
        ++flag_lines;
    }
    EXPECT_EQ(flag_lines, flags.size()) << usage;
    for (const auto& f : flags) {
        SCOPED_TRACE(f.name);
        const std::string heading = "\n  --" + f.name + (f.is_bool ? "\n" : " value\n");
        const auto at = usage.find(heading);
        ASSERT_NE(at, std::string::npos) << usage;
        const auto help_start = at + heading.size();
        const std::string help = usage.substr(help_start, usage.find('\n', help_start) - help_start);
        EXPECT_TRUE(help.starts_with("        ") && help.size() > 30) << help;
        if (f.default_text.empty()) {
            EXPECT_EQ(help.find("(default "), std::string::npos) << help;
        } else {
            EXPECT_TRUE(help.ends_with(" (default " + f.default_text + ")")) << help;
        }
    }
}

// ---- durations ----

TEST(duration, parses_go_style_durations) {
    const std::vector<std::pair<const char*, milliseconds>> cases{
        {"15s", 15s},
        {"1m30s", 90s},
        {"1.5s", 1500ms},
        {"500ms", 500ms},
        {"2h45m", 2h + 45min},
        {"0", 0ms},
        {"0s", 0ms},
        {"0h0m0s", 0ms},
        {"1h", 1h},
        {"1h0m0s", 1h},
        {".5s", 500ms},
        {"1.s", 1s},
        {"1.25m", 75s},
        {"0.001s", 1ms},
        {"1s500ms", 1500ms},
        {"10m10m", 20min},
        {"007s", 7s},
        {"1000us", 1ms},
        {"1000\u00b5s", 1ms},
        {"1000\u03bcs", 1ms},
        {"1000000ns", 1ms},
        // Below a millisecond, durations round up: a non-zero duration never becomes zero.
        {"1ns", 1ms},
        {"1us", 1ms},
        {"1001us", 2ms},
        {"1.5ms", 2ms},
        {"1.0000001s", 1001ms},
        {"1.000000000000000000001h", 1h},
        // Go's range: int64 nanoseconds.
        {"2562047h47m16.854775807s", 9223372036855ms},
    };
    for (const auto& [text, want] : cases) {
        SCOPED_TRACE(text);
        auto d = parse_duration(text);
        ASSERT_TRUE(d.has_value()) << d.error();
        EXPECT_EQ(*d, want);
    }
}

TEST(duration, rejects_malformed_durations) {
    const std::string hint = R"(want a duration such as "15s", "1m30s" or "500ms")";
    const std::vector<std::pair<const char*, std::string>> cases{
        {"", hint},
        {"15", "missing unit; " + hint},
        {"00", "missing unit; " + hint},
        {"1s5", "missing unit; " + hint},
        {"1.5.3s", "missing unit; " + hint},
        {"-1s", "negative durations are not allowed"},
        {"-0", "negative durations are not allowed"},
        {"+1s", hint},
        {"1x", R"(unknown unit "x"; want h, m, s, ms, us or ns)"},
        {"1S", R"(unknown unit "S"; want h, m, s, ms, us or ns)"},
        {"1 s", R"(unknown unit " s"; want h, m, s, ms, us or ns)"},
        {"1d", R"(unknown unit "d"; want h, m, s, ms, us or ns)"},
        {"1e3s", R"(unknown unit "e"; want h, m, s, ms, us or ns)"},
        {"s", hint},
        {".s", hint},
        {"1h.", hint},
        {"99999999999h", "duration too large"},
        {"2562048h", "duration too large"},
        {"2562047h47m16.854775808s", "duration too large"},
        {"9223372036854775808ns", "duration too large"},
        {"99999999999999999999999s", "duration too large"},
    };
    for (const auto& [text, want] : cases) {
        SCOPED_TRACE(text);
        auto d = parse_duration(text);
        ASSERT_FALSE(d.has_value()) << d->count();
        EXPECT_EQ(d.error(), want);
    }
}

TEST(duration, formats_like_go) {
    const std::vector<std::pair<milliseconds, std::string>> cases{
        {0ms, "0s"},
        {1ms, "1ms"},
        {500ms, "500ms"},
        {999ms, "999ms"},
        {1s, "1s"},
        {1500ms, "1.5s"},
        {1001ms, "1.001s"},
        {1010ms, "1.01s"},
        {15s, "15s"},
        {59999ms, "59.999s"},
        {1min, "1m0s"},
        {90s, "1m30s"},
        {61500ms, "1m1.5s"},
        {5min, "5m0s"},
        {1h, "1h0m0s"},
        {2h + 45min, "2h45m0s"},
        {25h + 1ms, "25h0m0.001s"},
        {-1500ms, "-1.5s"},
        {9223372036855ms, "2562047h47m16.855s"},
    };
    for (const auto& [d, want] : cases) {
        EXPECT_EQ(format_duration(d), want) << d.count();
    }
}

TEST(duration, format_round_trips_through_parse) {
    std::vector<milliseconds> values{0ms, 1ms, 999ms, 1s, 1001ms, 59999ms, 1min, 3599999ms, 1h, 24h, 9223372036854ms};
    for (std::int64_t ms = 0; ms < 10'000'000; ms += 9973) values.emplace_back(ms);
    for (const auto d : values) {
        const std::string text = format_duration(d);
        auto back = parse_duration(text);
        ASSERT_TRUE(back.has_value()) << text << ": " << back.error();
        EXPECT_EQ(*back, d) << text;
    }
}

// ---- bind addresses ----

TEST(bind_address, parses_the_forms_controller_runtime_takes) {
    struct valid {
        const char* text;
        std::string host;
        std::uint16_t port;
        bool enabled;
        std::string printed;
    };
    const std::vector<valid> cases{
        {":8080", "", 8080, true, ":8080"},
        {":0", "", 0, true, ":0"},
        {"127.0.0.1:0", "127.0.0.1", 0, true, "127.0.0.1:0"},
        {"0.0.0.0:65535", "0.0.0.0", 65535, true, "0.0.0.0:65535"},
        {"[::1]:9090", "::1", 9090, true, "[::1]:9090"},
        {"[::]:8443", "::", 8443, true, "[::]:8443"},
        {"[fe80::1%eth0]:80", "fe80::1%eth0", 80, true, "[fe80::1%eth0]:80"},
        {"0", "", 0, false, "0"},
        {"localhost:8081", "localhost", 8081, true, "localhost:8081"},
        {"Metrics-1.example.com:443", "Metrics-1.example.com", 443, true, "Metrics-1.example.com:443"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto a = parse_bind_address(c.text);
        ASSERT_TRUE(a.has_value()) << a.error();
        EXPECT_EQ(a->host, c.host);
        EXPECT_EQ(a->port, c.port);
        EXPECT_EQ(a->enabled, c.enabled);
        EXPECT_EQ(a->to_string(), c.printed);
    }
}

TEST(bind_address, rejects_malformed_addresses) {
    std::vector<std::pair<const char*, std::string>> cases{
        {"8080", "want host:port, :port, or 0 to disable"},
        {"", "want host:port, :port, or 0 to disable"},
        {"localhost", "want host:port, :port, or 0 to disable"},
        {"1.2.3.4:70000", "port must be a number from 0 to 65535"},
        {":65536", "port must be a number from 0 to 65535"},
        {":-1", "port must be a number from 0 to 65535"},
        {":80a", "port must be a number from 0 to 65535"},
        {":http", "port must be a number from 0 to 65535"},
        {"[::1", "missing ']' after IPv6 address"},
        {"[::1]8080", R"(want ":port" after ']')"},
        {"[::1]", R"(want ":port" after ']')"},
        {"[::1]:", "missing port after ':'"},
        {"host:", "missing port after ':'"},
        {"::1:8080", "an IPv6 address must be in brackets, as in [::1]:8080"},
        {"[]:80", R"("" is not a valid IPv6 address)"},
        {"[1.2.3.4]:80", R"("1.2.3.4" is not a valid IPv6 address)"},
        {"[fe80::1%]:80", R"("fe80::1%" is not a valid IPv6 address)"},
        {"1.2.3:80", R"("1.2.3" is not a valid IPv4 address)"},
        {"256.1.1.1:80", R"("256.1.1.1" is not a valid IPv4 address)"},
        {"-bad:80", R"("-bad" is not a valid host name or IP address)"},
        {"a..b:80", R"("a..b" is not a valid host name or IP address)"},
        {"under_score:80", R"("under_score" is not a valid host name or IP address)"},
    };
    const std::string long_label(64, 'a');
    const std::string long_label_address = long_label + ".example.com:80";
    cases.emplace_back(long_label_address.c_str(),
                       "\"" + long_label + ".example.com\" is not a valid host name or IP address");
    for (const auto& [text, want] : cases) {
        SCOPED_TRACE(text);
        auto a = parse_bind_address(text);
        ASSERT_FALSE(a.has_value()) << a->to_string();
        EXPECT_EQ(a.error(), want);
    }
}

}  // namespace
}  // namespace elector::config
