#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "log/logging.hpp"
#include "util/read_file.hpp"

namespace elector::http {

namespace {

using steady = std::chrono::steady_clock;

// The handlers of one path or prefix, by method.
struct route {
    handler get;   // GET and HEAD
    handler post;

    [[nodiscard]] std::string allow() const {
        if (get && post) return "GET, HEAD, POST";
        return get ? "GET, HEAD" : "POST";
    }
};

using route_table = std::map<std::string, route, std::less<>>;

bool iequals(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        return lower(x) == lower(y);
    });
}

std::string_view reason(int status) {
    switch (status) {
        case 400: return "bad request";
        case 403: return "forbidden";
        case 404: return "not found";
        case 405: return "method not allowed";
        case 408: return "request timeout";
        case 411: return "length required";
        case 413: return "payload too large";
        case 414: return "URI too long";
        case 415: return "unsupported media type";
        case 416: return "range not satisfiable";
        case 431: return "request header fields too large";
        case 500: return "internal server error";
        case 501: return "not implemented";
        case 503: return "service unavailable";
        default: return "";
    }
}

response error_response(int status, std::string_view message) {
    return response{.status = status, .content_type = "application/json", .body = json_error(message)};
}

// Listening sockets: no SO_REUSEPORT (httplib's default, which would let a
// second process share the port silently), but SO_REUSEADDR so that a restart
// can bind while old connections sit in TIME_WAIT; dual-stack for IPv6
// wildcards; not inherited by child processes. TCP_NODELAY, which accepted
// connections inherit: httplib writes a response's headers and body
// separately, and with Nagle's algorithm the body of every response after
// the first on a keep-alive connection waited for the client's delayed ACK
// (about 40 ms).
void configure_listener(int sock) {
    const int saved_errno = errno;  // bind()'s errno is what start() reports
    int yes = 1;
    int no = 0;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);  // fails harmlessly on IPv4 sockets
    if (const int flags = ::fcntl(sock, F_GETFD); flags >= 0) ::fcntl(sock, F_SETFD, flags | FD_CLOEXEC);
    errno = saved_errno;
}

// Why binding failed: the host does not resolve, or bind()'s errno.
std::string bind_failure(const std::string& host, std::uint16_t port, int bind_errno) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* result = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &result);
        rc != 0) {
        return rc == EAI_SYSTEM ? std::system_category().message(errno) : ::gai_strerror(rc);
    }
    ::freeaddrinfo(result);
    if (bind_errno != 0) return std::system_category().message(bind_errno);
    return "unknown error";
}

// Binds one host; the port, or bind()'s errno (0 if it failed elsewhere).
std::expected<std::uint16_t, int> bind_host(httplib::Server& svr, const std::string& host, std::uint16_t port) {
    errno = 0;
    int bound = -1;
    if (port == 0) {
        bound = svr.bind_to_any_port(host);
    } else if (svr.bind_to_port(host, port)) {
        bound = port;
    }
    if (bound > 0 && bound <= 65535) return static_cast<std::uint16_t>(bound);
    return std::unexpected(errno);
}

bool has_body(const httplib::Request& req) {
    if (req.has_header("Transfer-Encoding")) return true;
    const std::string length = req.get_header_value("Content-Length");
    return !length.empty() && length != "0";
}

// A Content-Length value: decimal digits only, at most 18 of them.
std::optional<std::uint64_t> parse_content_length(std::string_view text) {
    if (text.empty() || text.size() > 18) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

// ---- TLS ------------------------------------------------------------------

struct x509_free {
    void operator()(X509* cert) const { X509_free(cert); }
};
struct x509_chain_free {
    void operator()(STACK_OF(X509) * chain) const { sk_X509_pop_free(chain, X509_free); }
};
struct pkey_free {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct bio_free {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

// A certificate (with the rest of its chain) and its private key, never
// modified once loaded: handshakes on several threads share it.
struct key_pair {
    std::unique_ptr<X509, x509_free> cert;
    std::unique_ptr<STACK_OF(X509), x509_chain_free> chain;  // may be empty
    std::unique_ptr<EVP_PKEY, pkey_free> key;
    std::string subject;
    std::string serial;
    std::string not_after;
};

// What identifies a version of a file: stat() (following symlinks, as
// Kubernetes Secret volumes swap a ..data symlink), or its errno.
struct file_stamp {
    int error = 0;
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::int64_t mtime_nsec = 0;
    friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

struct pair_stamp {
    file_stamp cert;
    file_stamp key;
    friend bool operator==(const pair_stamp&, const pair_stamp&) = default;
};

file_stamp stamp_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return file_stamp{.error = errno};
    return file_stamp{.error = 0,
                      .device = static_cast<std::uint64_t>(st.st_dev),
                      .inode = static_cast<std::uint64_t>(st.st_ino),
                      .size = static_cast<std::int64_t>(st.st_size),
                      .mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec),
                      .mtime_nsec = static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
}

// OpenSSL's errors on this thread, oldest first ("asn1 encoding routines:
// too long; PEM routines: ASN1 lib"), or `fallback`; the queue is emptied.
std::string openssl_reason(std::string_view fallback) {
    std::vector<std::string> reasons;
    const char* data = nullptr;
    int flags = 0;
    while (const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
        const char* lib = ERR_lib_error_string(code);
        const char* why = ERR_reason_error_string(code);
        std::string text = why == nullptr ? fmt::format("error {:#x}", code) : std::string{why};
        if (lib != nullptr) text = fmt::format("{}: {}", lib, text);
        if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') text += fmt::format(" ({})", data);
        if (std::ranges::find(reasons, text) == reasons.end()) reasons.push_back(std::move(text));
    }
    if (reasons.empty()) return std::string{fallback};
    return fmt::format("{}", fmt::join(reasons, "; "));
}

// A certificate or key file, or why it cannot be read.
std::expected<std::string, std::string> read_small_file(const std::string& path) {
    auto content = util::read_whole_file(path, std::size_t{1} << 20);
    if (!content) {
        return std::unexpected(content.error() == EFBIG ? std::string{"larger than 1 MiB"}
                                                        : std::system_category().message(content.error()));
    }
    return std::move(*content);
}

// Never prompt for a passphrase: an encrypted key simply fails to load.
int no_passphrase(char*, int, int, void*) { return -1; }

bio_ptr memory_bio(const std::string& content) {
    return bio_ptr(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
}

std::string subject_of(X509* cert) {
    bio_ptr out(BIO_new(BIO_s_mem()));
    if (!out || X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) return "";
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    return size > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(size)) : std::string{};
}

std::string serial_of(X509* cert) {
    BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (number == nullptr) return "";
    char* hex = BN_bn2hex(number);
    std::string serial = hex == nullptr ? "" : hex;
    OPENSSL_free(hex);
    BN_free(number);
    return serial;
}

std::string not_after_of(X509* cert) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return "";
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Reads and checks a certificate chain and its key.
std::expected<std::shared_ptr<const key_pair>, std::string> load_pair(const tls_files& files) {
    ERR_clear_error();
    auto pair = std::make_shared<key_pair>();
    const auto cert_failure = [&](std::string_view why) {
        return std::unexpected(fmt::format("cannot load the TLS certificate {}: {}", files.cert_file, why));
    };
    const auto key_failure = [&](std::string_view why) {
        return std::unexpected(fmt::format("cannot load the TLS key {}: {}", files.key_file, why));
    };

    const auto cert_pem = read_small_file(files.cert_file);
    if (!cert_pem) return cert_failure(cert_pem.error());
    {
        const bio_ptr in = memory_bio(*cert_pem);
        if (!in) return cert_failure(openssl_reason("out of memory"));
        pair->cert.reset(PEM_read_bio_X509_AUX(in.get(), nullptr, no_passphrase, nullptr));
        if (!pair->cert) return cert_failure(openssl_reason("no certificate"));
        pair->chain.reset(sk_X509_new_null());
        if (!pair->chain) return cert_failure(openssl_reason("out of memory"));
        // The rest of the file: intermediate certificates, up to the end
        // (which OpenSSL reports as "no start line").
        while (X509* next = PEM_read_bio_X509(in.get(), nullptr, no_passphrase, nullptr)) {
            if (sk_X509_push(pair->chain.get(), next) == 0) {
                X509_free(next);
                return cert_failure(openssl_reason("out of memory"));
            }
        }
        const unsigned long end = ERR_peek_last_error();
        if (ERR_GET_LIB(end) != ERR_LIB_PEM || ERR_GET_REASON(end) != PEM_R_NO_START_LINE) {
            return cert_failure(openssl_reason("invalid certificate chain"));
        }
        ERR_clear_error();
    }

    const auto key_pem = read_small_file(files.key_file);
    if (!key_pem) return key_failure(key_pem.error());
    {
        const bio_ptr in = memory_bio(*key_pem);
        if (!in) return key_failure(openssl_reason("out of memory"));
        pair->key.reset(PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr));
        if (!pair->key && key_pem->find("ENCRYPTED") != std::string::npos) {
            ERR_clear_error();
            return key_failure("the key is encrypted (a passphrase is not supported)");
        }
        if (!pair->key) return key_failure(openssl_reason("no private key"));
    }
    if (X509_check_private_key(pair->cert.get(), pair->key.get()) != 1) {
        ERR_clear_error();
        return key_failure(fmt::format("the key does not match the certificate {}", files.cert_file));
    }
    ERR_clear_error();
    pair->subject = subject_of(pair->cert.get());
    pair->serial = serial_of(pair->cert.get());
    pair->not_after = not_after_of(pair->cert.get());
    return std::shared_ptr<const key_pair>(std::move(pair));
}

// The server's current certificate and key, from files that may be replaced
// at any time (cert-manager renewing a Secret). Handshakes ask for the pair;
// at most once a second the files are stat()ed, and a new version is loaded.
// A version that fails to load (half-written during a rotation, a key that
// does not match yet) is reported once and the previous pair stays in use.
class certificate_cache {
public:
    certificate_cache(tls_files files, std::string server_name)
        : files_(std::move(files)), server_name_(std::move(server_name)) {}

    // Loads the pair now (start()): an error if it cannot.
    std::expected<void, std::string> load() {
        const pair_stamp stamp{stamp_of(files_.cert_file), stamp_of(files_.key_file)};
        auto pair = load_pair(files_);
        if (!pair) return std::unexpected(std::move(pair.error()));
        std::lock_guard lock(mutex_);
        current_ = std::move(*pair);
        loaded_ = stamp;
        failed_.reset();
        next_check_ = steady::now() + check_interval;
        spdlog::info("loaded the TLS certificate server={} cert={} subject={} serial={} not_after={}",
                     log::q(server_name_), log::q(files_.cert_file), log::q(current_->subject),
                     log::q(current_->serial), log::q(current_->not_after));
        return {};
    }

    // The pair for a handshake (never null after load()), reloaded first when due.
    std::shared_ptr<const key_pair> current() {
        std::unique_lock lock(mutex_);
        const auto now = steady::now();
        if (reloading_ || now < next_check_ || !current_) return current_;
        next_check_ = now + check_interval;
        reloading_ = true;
        const auto loaded = loaded_;
        const auto failed = failed_;
        lock.unlock();

        // Outside the lock: other handshakes go on with the current pair.
        const pair_stamp stamp{stamp_of(files_.cert_file), stamp_of(files_.key_file)};
        std::optional<std::expected<std::shared_ptr<const key_pair>, std::string>> outcome;
        if (stamp != loaded && stamp != failed) {
            try {
                outcome = load_pair(files_);
            } catch (const std::exception& e) {  // std::bad_alloc
                outcome = std::unexpected(std::string{e.what()});
            }
        }

        lock.lock();
        reloading_ = false;
        if (outcome && *outcome) {
            current_ = std::move(**outcome);
            loaded_ = stamp;
            failed_.reset();
            spdlog::info("reloaded the TLS certificate server={} cert={} subject={} serial={} not_after={}",
                         log::q(server_name_), log::q(files_.cert_file), log::q(current_->subject),
                         log::q(current_->serial), log::q(current_->not_after));
        } else if (outcome) {
            failed_ = stamp;
            spdlog::warn("cannot reload the TLS certificate, still serving the previous one server={} serial={} "
                         "error={}",
                         log::q(server_name_), log::q(current_->serial), log::q(outcome->error()));
        }
        return current_;
    }

private:
    static constexpr std::chrono::seconds check_interval{1};

    const tls_files files_;
    const std::string server_name_;
    std::mutex mutex_;
    std::shared_ptr<const key_pair> current_;
    std::optional<pair_stamp> loaded_;  // the files current_ came from
    std::optional<pair_stamp> failed_;  // the version that failed last (reported once)
    steady::time_point next_check_{};
    bool reloading_ = false;
};

// OpenSSL's certificate callback: installs the cache's current pair on a
// connection during its handshake (on a worker thread). 0 aborts the handshake.
int install_certificate(SSL* ssl, void* arg) {
    std::shared_ptr<const key_pair> pair;
    try {
        pair = static_cast<certificate_cache*>(arg)->current();
    } catch (...) {
        return 0;
    }
    if (!pair) return 0;
    if (SSL_use_certificate(ssl, pair->cert.get()) != 1) return 0;
    if (SSL_set1_chain(ssl, pair->chain.get()) != 1) return 0;
    if (SSL_use_PrivateKey(ssl, pair->key.get()) != 1) return 0;
    return 1;
}

// ---- POST -----------------------------------------------------------------

// A POST accepted by the pre-routing handler, on its way to the body reader:
// httplib reads the body only for requests its own (std::regex) routes
// match, so the pre-routing handler renames the request to `post_path`, the
// one route registered with httplib, and the reader restores its path.
// httplib handles a request on one thread from pre-routing to handler.
constexpr const char* post_path = "/";

struct pending_post {
    const httplib::Request* req = nullptr;
    std::string path;
    const std::string* route = nullptr;
    const handler* h = nullptr;
};

thread_local pending_post pending;

}  // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return std::nullopt;
}

std::optional<std::string_view> request::query_param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return value;
    }
    return std::nullopt;
}

std::string json_error(std::string_view message) {
    const nlohmann::json body = {{"error", message}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct server::impl {
    enum class state { idle, running, stopped };

    impl(std::string server_name, server_options server_opts)
        : name(std::move(server_name)),
          options(std::move(server_opts)),
          certificates(options.tls ? std::make_unique<certificate_cache>(*options.tls, name) : nullptr),
          svr(make_server(certificates.get())) {}

    const std::string name;
    const server_options options;
    route_table exact;
    route_table prefixes;  // keys end in '/'

    // Before svr: handshakes use it until svr's threads are joined.
    const std::unique_ptr<certificate_cache> certificates;
    const std::unique_ptr<httplib::Server> svr;
    std::thread listener;

    std::mutex lifecycle;  // start() and stop()
    state current = state::idle;
    std::atomic<std::uint16_t> bound_port{0};

    // The listener thread reports that it accepts connections, or that it ended.
    std::mutex listener_mutex;
    std::condition_variable listener_cv;
    bool listener_ready = false;
    bool listener_done = false;

    struct match {
        const std::string* key;
        const route* r;
    };

    static std::unique_ptr<httplib::Server> make_server(certificate_cache* cache) {
        if (cache == nullptr) return std::make_unique<httplib::Server>();
        return std::make_unique<httplib::SSLServer>([cache](SSL_CTX& ctx) {
            SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
            if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
            // No certificate on the context: each handshake gets the current one.
            SSL_CTX_set_cert_cb(&ctx, install_certificate, cache);
            return true;
        });
    }

    [[nodiscard]] std::optional<match> find_route(std::string_view path) const {
        if (auto it = exact.find(path); it != exact.end()) return match{&it->first, &it->second};
        std::optional<match> best;
        for (const auto& [prefix, r] : prefixes) {
            if (path.starts_with(prefix) && (!best || prefix.size() > best->key->size())) {
                best = match{&prefix, &r};
            }
        }
        return best;
    }

    void configure() {
        svr->set_payload_max_length(discard_limit());
        svr->set_read_timeout(options.read_timeout);
        svr->set_write_timeout(options.write_timeout);
        svr->set_keep_alive_timeout(options.keep_alive_timeout.count());
        svr->set_keep_alive_max_count(std::max<std::size_t>(options.keep_alive_max_requests, 1));
        svr->set_socket_options(configure_listener);

        // Every request is answered here, before httplib reads a body or
        // matches its std::regex routes: its 0.11 regex matching recurses per
        // character of the path, and its chunked bodies ignore the payload
        // limit. The one exception, a POST whose body is to be read, goes on
        // to the reader below under the path post_path.
        svr->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            return serve(req, res) ? httplib::Server::HandlerResponse::Handled
                                   : httplib::Server::HandlerResponse::Unhandled;
        });
        svr->Post(post_path, httplib::Server::HandlerWithContentReader(
                                 [this](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) { serve_post(req, res, reader); }));
        // httplib's own errors (400 malformed, 414 URI too long, ...) as JSON.
        svr->set_error_handler(
            httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
                if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                const std::string_view text = reason(res.status);
                res.set_content(json_error(text.empty() ? fmt::format("HTTP {}", res.status) : std::string{text}),
                                "application/json");
                return httplib::Server::HandlerResponse::Handled;
            }));
        svr->set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            write(res, failure(req, ep));
        });
        svr->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            if (!spdlog::should_log(spdlog::level::debug)) return;  // no quoting work on every scrape
            spdlog::debug("request served server={} method={} path={} remote={} status={}", log::q(name),
                          log::q(req.method), log::q(req.path), log::q(req.remote_addr), res.status);
        });
        svr->new_task_queue = [this]() -> httplib::TaskQueue* {
            // httplib calls this on the listener thread once it is running
            // (is_running() is true): from now on stop() takes effect.
            auto* pool = new httplib::ThreadPool(std::max<std::size_t>(options.threads, 1));
            {
                std::lock_guard lock(listener_mutex);
                listener_ready = true;
            }
            listener_cv.notify_all();
            return pool;
        };
    }

    response failure(const httplib::Request& req, const std::exception_ptr& ep) const {
        std::string message = "unknown exception";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            message = e.what();
        } catch (...) {
        }
        spdlog::error("request handler failed server={} method={} path={} error={}", log::q(name), log::q(req.method),
                      log::q(req.path), log::q(message));
        return error_response(500, message);
    }

    // Answers a request, or returns false for a POST whose body is to be
    // read (renamed to post_path, its route in `pending`).
    bool serve(const httplib::Request& req, httplib::Response& res) const {
        // A body not read means the next bytes on this connection would not
        // be a request, so ask the client to close it.
        const auto reject = [&](response out) {
            if (has_body(req)) res.set_header("Connection", "close");
            write(res, out);
            return true;
        };

        const auto found = find_route(req.path);
        if (!found) return reject(error_response(404, fmt::format("not found: {}", req.path)));
        const bool is_get = req.method == "GET" || req.method == "HEAD";
        const bool is_post = req.method == "POST";
        const handler* h = is_get ? &found->r->get : is_post ? &found->r->post : nullptr;
        if (h == nullptr || !*h) {
            auto out = error_response(405, fmt::format("method {} not allowed on {}", req.method, req.path));
            out.headers.emplace_back("Allow", found->r->allow());
            return reject(std::move(out));
        }
        if (!is_post || !has_body(req)) {
            // A GET's body is never read; a POST without Content-Length or
            // Transfer-Encoding has none (RFC 9112 6.3).
            if (has_body(req)) res.set_header("Connection", "close");
            call(req, res, *found->key, *h, {});
            return true;
        }

        if (req.has_header("Transfer-Encoding")) {
            if (req.has_header("Content-Length")) {
                return reject(error_response(400, "both Content-Length and Transfer-Encoding"));
            }
            const std::string coding = req.get_header_value("Transfer-Encoding");
            if (req.get_header_value_count("Transfer-Encoding") != 1 || !iequals(coding, "chunked")) {
                return reject(error_response(501, fmt::format("unsupported Transfer-Encoding: {}", coding)));
            }
        } else {
            const std::string text = req.get_header_value("Content-Length");
            const auto length = parse_content_length(text);
            if (!length || req.get_header_value_count("Content-Length") != 1) {
                return reject(error_response(400, fmt::format("invalid Content-Length: {}", text)));
            }
            if (*length > discard_limit()) return reject(too_large());
        }
        if (req.is_multipart_form_data()) {
            return reject(error_response(415, "multipart/form-data bodies are not accepted"));
        }

        pending = pending_post{.req = &req, .path = req.path, .route = found->key, .h = h};
        // The same Request httplib routes next (its pre-routing handler only
        // sees it as const).
        const_cast<httplib::Request&>(req).path = post_path;
        return false;
    }

    // The one httplib route: a POST accepted by serve(), its body to read.
    void serve_post(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) const {
        if (pending.req != &req) {
            write(res, error_response(500, "POST without a route"));
            return;
        }
        const pending_post post = std::exchange(pending, pending_post{});
        auto& routed = const_cast<httplib::Request&>(req);
        routed.matches = httplib::Match{};
        routed.path = post.path;

        // Past the limit, the rest of a body is read and dropped, up to
        // discard_limit() in all: then the client, still sending, can read
        // the 413 and the connection stays usable.
        std::string body;
        std::size_t total = 0;
        bool too_long = false;
        const bool read = reader([&](const char* data, std::size_t size) {
            if (size > discard_limit() - total) {
                too_long = true;
                return false;
            }
            total += size;
            if (total > options.max_body_bytes) {
                too_long = true;
            } else {
                body.append(data, size);
            }
            return true;
        });
        if (!read) res.set_header("Connection", "close");
        if (too_long) {
            write(res, too_large());
            return;
        }
        if (!read) {
            write(res, error_response(400, "cannot read the request body"));
            return;
        }
        call(req, res, *post.route, *post.h, std::move(body));
    }

    // How much of a body is read at most: the limit and 256 KiB more.
    [[nodiscard]] std::size_t discard_limit() const {
        constexpr std::size_t extra = std::size_t{256} << 10;
        return options.max_body_bytes > SIZE_MAX - extra ? SIZE_MAX : options.max_body_bytes + extra;
    }

    [[nodiscard]] response too_large() const {
        return error_response(413, fmt::format("request body larger than {} bytes", options.max_body_bytes));
    }

    void call(const httplib::Request& req, httplib::Response& res, const std::string& route_key, const handler& h,
              std::string body) const {
        request in{.method = req.method,
                   .path = req.path,
                   .target = req.target,
                   .route = route_key,
                   .query = {req.params.begin(), req.params.end()},
                   .headers = {req.headers.begin(), req.headers.end()},
                   .body = std::move(body),
                   .remote_addr = req.remote_addr};
        response out;
        try {
            out = h(in);
        } catch (...) {
            out = failure(req, std::current_exception());
        }
        if (out.status < 200 || out.status > 599) {
            spdlog::error("request handler returned an invalid status server={} method={} path={} status={}",
                          log::q(name), log::q(req.method), log::q(req.path), out.status);
            out = error_response(500, fmt::format("invalid status {}", out.status));
        }
        write(res, out);
    }

    static void write(httplib::Response& res, const response& out) {
        res.status = out.status;
        for (const auto& [key, value] : out.headers) {
            if (iequals(key, "Content-Type") || iequals(key, "Content-Length")) continue;
            res.set_header(key, value);
        }
        if (out.status == 204 || out.status == 304) return;
        if (out.status >= 400 && out.body.empty()) {
            const std::string_view text = reason(out.status);
            res.set_content(json_error(text.empty() ? fmt::format("HTTP {}", out.status) : std::string{text}),
                            "application/json");
            return;
        }
        res.set_content(out.body, out.content_type);
    }

    void run_listener() {
        try {
            if (!svr->listen_after_bind()) {
                const int error = errno;
                spdlog::error("server stopped accepting connections server={} error={}", log::q(name),
                              log::q(std::system_category().message(error)));
            }
        } catch (const std::exception& e) {
            spdlog::error("server failed server={} error={}", log::q(name), log::q(e.what()));
        }
        {
            std::lock_guard lock(listener_mutex);
            listener_done = true;
        }
        listener_cv.notify_all();
    }

    void add(std::string path_or_prefix, handler h, bool post) {
        if (path_or_prefix.empty() || path_or_prefix.front() != '/') {
            throw std::invalid_argument(fmt::format("route \"{}\" does not start with '/'", path_or_prefix));
        }
        if (!h) throw std::invalid_argument(fmt::format("route \"{}\" has no handler", path_or_prefix));
        std::lock_guard lock(lifecycle);
        if (current != state::idle) {
            throw std::logic_error(fmt::format("route \"{}\" added to the {} after start()", path_or_prefix, name));
        }
        auto& table = path_or_prefix.ends_with('/') ? prefixes : exact;
        auto& slot = post ? table[path_or_prefix].post : table[path_or_prefix].get;
        if (slot) throw std::invalid_argument(fmt::format("route \"{}\" added twice", path_or_prefix));
        slot = std::move(h);
    }
};

server::server(std::string name, server_options options)
    : impl_(std::make_unique<impl>(std::move(name), std::move(options))) {
    impl_->configure();
}

server::~server() { stop(); }

void server::get(std::string path_or_prefix, handler h) { impl_->add(std::move(path_or_prefix), std::move(h), false); }

void server::post(std::string path_or_prefix, handler h) { impl_->add(std::move(path_or_prefix), std::move(h), true); }

std::expected<std::uint16_t, std::string> server::start(const config::bind_address& address) {
    if (!address.enabled) return std::unexpected(std::string{"disabled"});
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->current == impl::state::running) return std::unexpected(std::string{"already started"});
    if (impl_->current == impl::state::stopped) return std::unexpected(std::string{"stopped"});

    if (impl_->certificates) {
        if (!impl_->svr->is_valid()) {
            return std::unexpected(fmt::format("cannot set up TLS for the {}: {}", impl_->name,
                                               openssl_reason("SSL_CTX setup failed")));
        }
        if (auto loaded = impl_->certificates->load(); !loaded) return std::unexpected(std::move(loaded.error()));
    }

    std::expected<std::uint16_t, int> bound;
    if (address.host.empty()) {
        // All interfaces: the IPv6 wildcard, dual-stack, or IPv4 alone where
        // the kernel has no IPv6. (httplib would bind loopback for "".)
        bound = bind_host(*impl_->svr, "::", address.port);
        if (!bound && (bound.error() == EAFNOSUPPORT || bound.error() == EADDRNOTAVAIL)) {
            bound = bind_host(*impl_->svr, "0.0.0.0", address.port);
        }
    } else {
        bound = bind_host(*impl_->svr, address.host, address.port);
    }
    if (!bound) {
        return std::unexpected(fmt::format("cannot bind {}: {}", address.to_string(),
                                           bind_failure(address.host, address.port, bound.error())));
    }

    impl_->listener = std::thread([this] { impl_->run_listener(); });
    bool ready = false;
    {
        std::unique_lock wait_lock(impl_->listener_mutex);
        impl_->listener_cv.wait(wait_lock, [this] { return impl_->listener_ready || impl_->listener_done; });
        ready = impl_->listener_ready;
    }
    if (!ready) {
        impl_->svr->stop();
        impl_->listener.join();
        impl_->current = impl::state::stopped;
        return std::unexpected(fmt::format("cannot serve the {} on {}", impl_->name, address.to_string()));
    }
    impl_->current = impl::state::running;
    impl_->bound_port = *bound;
    const auto where = config::bind_address{.host = address.host, .port = *bound, .enabled = true}.to_string();
    if (impl_->certificates) {
        spdlog::info("serving the {} on {} server={} address={} tls=true", impl_->name, where, log::q(impl_->name),
                     log::q(where));
    } else {
        spdlog::info("serving the {} on {} server={} address={}", impl_->name, where, log::q(impl_->name),
                     log::q(where));
    }
    return *bound;
}

void server::stop() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->current != impl::state::running) {
        impl_->current = impl::state::stopped;
        return;
    }
    impl_->svr->stop();
    impl_->listener.join();
    impl_->current = impl::state::stopped;
    impl_->bound_port = 0;
    spdlog::info("stopped serving the {} server={}", impl_->name, log::q(impl_->name));
}

std::uint16_t server::port() const { return impl_->bound_port; }

}  // namespace elector::http
