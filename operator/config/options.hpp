#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace elector::config {

enum class log_format { text, json };
enum class log_level { trace, debug, info, warn, error };

// "host:port", ":port" (all interfaces) or "0" (disabled), as
// controller-runtime's bind-address flags take them.
struct bind_address {
    std::string host;        // "" = all interfaces
    std::uint16_t port = 0;  // 0 with enabled=true: pick a free port
    bool enabled = true;
    [[nodiscard]] std::string to_string() const;
};

// Everything elector is configured with, validated. Built once at startup.
struct options {
    // Kubernetes API
    std::string kubeconfig;                        // --kubeconfig
    std::string context;                           // --context
    double kube_api_qps = 50;                      // --kube-api-qps
    int kube_api_burst = 100;                      // --kube-api-burst
    std::chrono::milliseconds request_timeout{5000};  // --kube-api-timeout

    // elector's own leader election among its replicas
    bool leader_elect = false;                     // --leader-elect
    std::string leader_election_id = "elector-leader";  // --leader-election-id
    std::string leader_election_namespace;         // --leader-election-namespace ("" = own namespace)
    std::chrono::milliseconds leader_election_lease_duration{15000};  // --leader-election-lease-duration
    std::chrono::milliseconds leader_election_renew_deadline{10000};  // --leader-election-renew-deadline
    std::chrono::milliseconds leader_election_retry_period{2000};     // --leader-election-retry-period

    // the ElectionGroup controller
    std::vector<std::string> namespaces;           // --namespace (repeatable); empty = all but system namespaces
    int max_concurrent_reconciles = 4;             // --max-concurrent-reconciles

    // servers
    bind_address leader_api_bind_address{"", 8082, true};    // --leader-api-bind-address
    bind_address metrics_bind_address{"", 8080, true};       // --metrics-bind-address
    bind_address health_probe_bind_address{"", 8081, true};  // --health-probe-bind-address
    std::string webhook_host;                                 // --webhook-host ("" = all interfaces)
    int webhook_port = 9443;                                  // --webhook-port
    std::string webhook_cert_dir = "/tmp/k8s-webhook-server/serving-certs";  // --webhook-cert-dir

    // logging
    log_level level = log_level::info;             // --log-level
    log_format format = log_format::text;          // --log-format

    bool show_help = false;                        // --help
    bool show_version = false;                     // --version
};

// Parses argv[1..] into options and validates them; the error is one line
// naming the flag and what is wrong with its value.
std::expected<options, std::string> parse_options(std::span<const char* const> args);
// The --help text: every flag, its meaning and its default.
std::string options_usage();

// Go-style durations: "15s", "1m30s", "500ms", "1h", "0"; no negative values.
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);  // "15s", "1m30s", "500ms"
std::expected<bind_address, std::string> parse_bind_address(std::string_view text);

}  // namespace elector::config
