#include "kube/transport.hpp"

#include <curl/curl.h>

#include <mutex>

#include <fmt/format.h>

#include "kube/line_splitter.hpp"

namespace elector::kube {

namespace {

constexpr std::size_t max_pooled_handles = 16;
constexpr std::size_t max_error_body = 64 * 1024;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct url_parts {
    std::string scheme, host, port;
};

std::expected<url_parts, std::string> split_server(const std::string& server) {
    auto scheme_end = server.find("://");
    if (scheme_end == std::string::npos) return std::unexpected("server " + server + ": want https://host:port");
    url_parts u;
    u.scheme = server.substr(0, scheme_end);
    if (u.scheme != "https" && u.scheme != "http") return std::unexpected("server " + server + ": want https or http");
    std::string rest = server.substr(scheme_end + 3);
    if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    if (rest.empty()) return std::unexpected("server " + server + ": no host");
    auto colon = rest.rfind(':');
    bool bracketed = rest.front() == '[';
    if (colon != std::string::npos && (!bracketed || colon > rest.find(']'))) {
        u.host = rest.substr(0, colon);
        u.port = rest.substr(colon + 1);
    } else {
        u.host = rest;
        u.port = u.scheme == "https" ? "443" : "80";
    }
    return u;
}

bool is_tls_failure(CURLcode c) {
    switch (c) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_INITFAILED: return true;
        default: return false;
    }
}

// A server, or a proxy in front of it, may echo the request (headers
// included) in an error body: the bearer token must never reach an error,
// since errors are logged.
api_error without_secret(api_error e, const std::string& secret) {
    if (secret.empty()) return e;
    constexpr std::string_view mask = "[redacted]";
    auto redact = [&](std::string& s) {
        for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at + mask.size())) {
            s.replace(at, secret.size(), mask);
        }
    };
    redact(e.reason);
    redact(e.message);
    for (auto& c : e.causes) {
        redact(c.reason);
        redact(c.message);
        redact(c.field);
    }
    return e;
}

}  // namespace

// One libcurl easy handle: it keeps its connection open between requests.
// The lists are owned here because libcurl reads them during the transfer.
struct transport::handle {
    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    curl_slist* connect_to = nullptr;
    char error[CURL_ERROR_SIZE] = {};
    std::string token;  // sent with the current request; never in an error

    handle() {
        if (curl == nullptr) throw std::bad_alloc();
    }
    ~handle() {
        free_lists();
        curl_easy_cleanup(curl);
    }
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;

    void free_lists() {
        curl_slist_free_all(headers);
        curl_slist_free_all(connect_to);
        headers = connect_to = nullptr;
    }
};

transport::transport(const cluster_config& config, const transport_options& options)
    : config_(config), options_(options), token_(config), limiter_(options.qps, options.burst) {}

transport::~transport() = default;

std::expected<std::shared_ptr<transport>, std::string> transport::create(const cluster_config& config,
                                                                         const transport_options& options) {
    global_init();
    auto parts = split_server(config.server);
    if (!parts) return std::unexpected(parts.error());
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
        return std::unexpected(std::string("a client certificate needs both the certificate and its key"));
    }
    if (options.qps <= 0 || options.burst < 1) return std::unexpected(std::string("qps must be > 0 and burst >= 1"));
    std::shared_ptr<transport> t(new transport(config, options));
    t->server_ = config.server;
    if (!config.tls_server_name.empty()) {
        // Send to tls-server-name (SNI and certificate check) but connect to the server's address.
        t->server_ = fmt::format("{}://{}:{}", parts->scheme, config.tls_server_name, parts->port);
        t->connect_to_ = fmt::format("{}:{}:{}:{}", config.tls_server_name, parts->port, parts->host, parts->port);
    }
    return t;
}

std::unique_ptr<transport::handle> transport::take_handle() {
    {
        std::lock_guard lock(pool_mutex_);
        if (!pool_.empty()) {
            auto h = std::move(pool_.back());
            pool_.pop_back();
            return h;
        }
    }
    return std::make_unique<handle>();
}

void transport::return_handle(std::unique_ptr<handle> h) {
    std::lock_guard lock(pool_mutex_);
    if (pool_.size() < max_pooled_handles) pool_.push_back(std::move(h));
}

std::expected<void, api_error> transport::prepare(handle& h, const http_request& request, bool streaming) {
    CURL* c = h.curl;
    curl_easy_reset(c);  // options only: the connection and TLS session stay
    h.error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h.error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    const std::string url = server_ + request.path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip and whatever else libcurl decodes
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!streaming) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.value_or(options_.timeout).count()));
    }
    h.free_lists();
    if (!connect_to_.empty()) {
        h.connect_to = curl_slist_append(nullptr, connect_to_.c_str());
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, h.connect_to);
    }

    // TLS: the CA and client certificate from memory (libcurl copies blobs).
    if (config_.insecure_skip_tls_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config_.ca_pem.empty()) {
        curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!config_.client_cert_pem.empty()) {
        curl_blob cert{const_cast<char*>(config_.client_cert_pem.data()), config_.client_cert_pem.size(), CURL_BLOB_COPY};
        curl_blob key{const_cast<char*>(config_.client_key_pem.data()), config_.client_key_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }

    std::vector<std::string> headers{"Accept: application/json"};
    auto token = token_.token();
    if (!token) return std::unexpected(make_error(error_kind::unauthorized, token.error()));
    h.token = *token;
    if (!token->empty()) headers.push_back("Authorization: Bearer " + *token);

    if (request.method == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
        headers.push_back("Content-Type: " + (request.content_type.empty() ? "application/json" : request.content_type));
        headers.emplace_back("Expect:");  // no 100-continue round trip
    }
    for (const auto& l : headers) h.headers = curl_slist_append(h.headers, l.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h.headers);
    return {};
}

api_error transport::curl_failure(int code, const handle& h, const http_request& request) const {
    const auto c = static_cast<CURLcode>(code);
    std::string detail = h.error[0] != '\0' ? h.error : curl_easy_strerror(c);
    std::string message = fmt::format("{} {}{}: {}", request.method, server_, request.path, detail);
    error_kind kind = error_kind::connection;
    if (c == CURLE_OPERATION_TIMEDOUT) {
        kind = error_kind::timeout;
    } else if (is_tls_failure(c)) {
        kind = error_kind::tls;
        message += " (check the cluster's certificate-authority)";
    } else if (c == CURLE_BAD_CONTENT_ENCODING || c == CURLE_WEIRD_SERVER_REPLY) {
        kind = error_kind::decode;
    }
    return without_secret(make_error(kind, std::move(message)), h.token);
}

result<http_response> transport::send(const http_request& request) {
    if (!request.defer_if_throttled) {
        limiter_.acquire(request.prio);
    } else if (const auto wait = limiter_.try_reserve(); wait > rate_limiter::clock::duration::zero()) {
        return std::unexpected(make_error(
            error_kind::too_many_requests,
            fmt::format("not sent: the client-side rate limit (--kube-api-qps) has no token for another {} ms",
                        std::chrono::ceil<std::chrono::milliseconds>(wait).count())));
    }
    auto h = take_handle();
    if (auto ok = prepare(*h, request, false); !ok) return std::unexpected(ok.error());

    std::string body;
    std::string retry_after;
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* out) -> size_t {
        static_cast<std::string*>(out)->append(p, n);
        return n;
    });
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, +[](char* p, size_t, size_t n, void* out) -> size_t {
        std::string_view line(p, n);
        constexpr std::string_view name = "retry-after:";
        if (line.size() > name.size() &&
            std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) { return a == std::tolower(b); })) {
            *static_cast<std::string*>(out) = line.substr(name.size());
        }
        return n;
    });
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &retry_after);

    CURLcode rc = curl_easy_perform(h->curl);
    long connects = 0;
    curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
    connections_opened_ += static_cast<std::uint64_t>(connects);
    if (rc != CURLE_OK) {
        auto err = curl_failure(rc, *h, request);
        return std::unexpected(std::move(err));  // the handle is dropped: its connection is suspect
    }
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    const std::string sent_token = std::move(h->token);
    h->token.clear();
    return_handle(std::move(h));
    if (status < 200 || status > 299) {
        return std::unexpected(
            without_secret(error_from_response(static_cast<int>(status), body, retry_after), sent_token));
    }
    return http_response{static_cast<int>(status), std::move(body)};
}

namespace {

struct stream_state {
    CURL* curl = nullptr;
    const std::function<bool(std::string_view)>* on_line = nullptr;
    const stream_options* options = nullptr;
    line_splitter lines;
    long status = 0;
    std::string error_body;
    bool stopped_by_caller = false;
    bool idle = false;
    std::chrono::steady_clock::time_point last_byte = std::chrono::steady_clock::now();
};

size_t stream_write(char* p, size_t, size_t n, void* userdata) {
    auto& s = *static_cast<stream_state*>(userdata);
    s.last_byte = std::chrono::steady_clock::now();
    if (s.status == 0) curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &s.status);
    if (s.status < 200 || s.status > 299) {
        if (s.error_body.size() < max_error_body) s.error_body.append(p, std::min(n, max_error_body - s.error_body.size()));
        return n;
    }
    bool go_on = s.lines.feed(std::string_view(p, n), [&](std::string_view line) {
        if ((*s.on_line)(line)) return true;
        s.stopped_by_caller = true;
        return false;
    });
    return go_on ? n : 0;  // 0 aborts the transfer
}

int stream_progress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto& s = *static_cast<stream_state*>(userdata);
    if (s.options->stop.stop_requested()) {
        s.stopped_by_caller = true;
        return 1;
    }
    if (s.options->idle_timeout && std::chrono::steady_clock::now() - s.last_byte > *s.options->idle_timeout) {
        s.idle = true;
        return 1;
    }
    return 0;
}

}  // namespace

result<void> transport::stream(const http_request& request, const std::function<bool(std::string_view)>& on_line,
                               const stream_options& options) {
    limiter_.acquire(request.prio);
    auto h = take_handle();
    if (auto ok = prepare(*h, request, true); !ok) return std::unexpected(ok.error());
    stream_state state;
    state.curl = h->curl;
    state.on_line = &on_line;
    state.options = &options;
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, &state);

    CURLcode rc = curl_easy_perform(h->curl);
    long connects = 0;
    curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
    connections_opened_ += static_cast<std::uint64_t>(connects);
    if (state.stopped_by_caller) return {};  // the aborted connection is not reused
    if (state.idle) {
        return std::unexpected(make_error(
            error_kind::timeout, fmt::format("{} {}{}: no data for {} ms", request.method, server_, request.path,
                                             options.idle_timeout->count())));
    }
    if (state.lines.overflowed()) {
        return std::unexpected(make_error(error_kind::decode, fmt::format("{} {}{}: a line longer than the limit",
                                                                          request.method, server_, request.path)));
    }
    if (rc != CURLE_OK) return std::unexpected(curl_failure(rc, *h, request));
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        return std::unexpected(
            without_secret(error_from_response(static_cast<int>(status), state.error_body), h->token));
    }
    if (!state.lines.pending().empty()) {
        return std::unexpected(make_error(
            error_kind::connection, fmt::format("{} {}{}: the stream ended in the middle of a line ({} bytes)",
                                                request.method, server_, request.path, state.lines.pending().size())));
    }
    return_handle(std::move(h));
    return {};
}

}  // namespace elector::kube
