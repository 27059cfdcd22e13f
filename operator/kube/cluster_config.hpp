#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace elector::kube {

// Where and how to reach one API server: the result of loading a kubeconfig
// or the in-cluster service account. File references are read at load time
// (PEM text below), except the bearer token file, which rotates.
struct cluster_config {
    std::string server;                  // "https://host:port", no trailing slash
    std::string ca_pem;                  // empty: the system trust store
    bool insecure_skip_tls_verify = false;
    std::string tls_server_name;         // SNI/verification name if not the server's host
    std::string client_cert_pem;         // client certificate authentication
    std::string client_key_pem;
    std::string token;                   // static bearer token
    std::string token_file;              // bearer token re-read periodically (tokenFile, in-cluster)
    std::string default_namespace;       // context namespace or in-cluster namespace file; "" if none
    std::string source;                  // for messages: `kubeconfig /p (context c)` or `in-cluster`
};

// Inputs of the kubeconfig loading rules, as functions of the process
// environment so tests can pass their own.
struct kubeconfig_options {
    std::string explicit_path;               // --kubeconfig; "" if not given
    std::string context;                     // --context; "" = current-context
    std::optional<std::string> kubeconfig_env;  // $KUBECONFIG
    std::string home;                        // $HOME
};

// client-go's rules: the explicit path alone if given; else every file in
// $KUBECONFIG (colon-separated, missing files skipped, merged: for each named
// cluster/user/context and for current-context the first file wins); else
// ~/.kube/config. Relative file paths inside a kubeconfig are relative to
// that kubeconfig's directory. Errors name the file and the field, e.g.
// `kubeconfig /root/k: users[0] "admin": client-key-data: not valid base64`.
std::expected<cluster_config, std::string> load_kubeconfig(const kubeconfig_options& options);

// The same rules for one kubeconfig given as text: `file` names it in
// messages and is where relative paths inside it start; `context` as
// --context. The files it references (certificate-authority,
// client-certificate, client-key) are still read.
std::expected<cluster_config, std::string> kubeconfig_from_text(const std::string& file, const std::string& text,
                                                                 const std::string& context);

// The pod's service account: $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT
// (IPv6 hosts bracketed), token, ca.crt and namespace under `account_dir`.
struct in_cluster_options {
    std::optional<std::string> service_host;
    std::optional<std::string> service_port;
    std::string account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
std::expected<cluster_config, std::string> load_in_cluster(const in_cluster_options& options);

// controller-runtime's order: --kubeconfig, then $KUBECONFIG, then in-cluster
// (when $KUBERNETES_SERVICE_HOST is set), then ~/.kube/config. Reads the
// process environment.
std::expected<cluster_config, std::string> resolve_cluster_config(const std::string& kubeconfig_flag,
                                                                   const std::string& context);

// The bearer token to send: the static token, or the token file's content
// re-read when older than `refresh` (projected service account tokens rotate).
// Thread-safe. A failed re-read keeps the last good token and reports it.
class bearer_token_source {
public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
    explicit bearer_token_source(const cluster_config& config,
                                 std::chrono::seconds refresh = std::chrono::seconds(60),
                                 clock_fn clock = [] { return std::chrono::steady_clock::now(); });
    // "" when the config has no token; an error only if the file never read.
    std::expected<std::string, std::string> token();

private:
    std::mutex mutex_;
    std::string static_token_;
    std::string file_;
    std::chrono::seconds refresh_;
    clock_fn clock_;
    std::string cached_;
    std::optional<std::chrono::steady_clock::time_point> read_at_;
};

// Standard base64 (RFC 4648), padding optional, whitespace ignored.
std::expected<std::string, std::string> base64_decode(std::string_view in);

}  // namespace elector::kube
