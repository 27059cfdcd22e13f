#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/options.hpp"

namespace elector::http {

struct request {
    std::string method;  // "GET", "HEAD" or "POST"
    std::string path;    // percent-decoded, without the query: "/leader/default/web"
    std::string target;  // as sent, with the query: "/leader/default/web?watch=1"
    std::string route;   // the registered path or prefix that matched
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent
    std::string body;  // a POST's body (at most server_options::max_body_bytes), else empty
    std::string remote_addr;

    // First value of a header, the name compared case-insensitively.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    // First value of a query parameter.
    [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
};

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Called on one of the server's worker threads, possibly several at once.
// An exception becomes a 500 with a JSON error body (and a log line).
using handler = std::function<response(const request&)>;

// PEM files of the server's certificate (chain) and key, re-read when either
// file changes: a new TLS handshake after the change uses the new pair (checked at most once a second).
struct tls_files {
    std::string cert_file;
    std::string key_file;
};

struct server_options {
    // The largest POST body accepted (after Content-Encoding is undone); a
    // longer one is answered 413 without calling the handler. Up to 256 KiB
    // more is read and dropped, so that a client still sending gets the 413;
    // past that (or a Content-Length past that) the connection is closed.
    std::size_t max_body_bytes = std::size_t{1} << 20;
    std::chrono::seconds read_timeout{5};
    std::chrono::seconds write_timeout{5};
    // An idle keep-alive connection holds a worker thread this long, and
    // stop() waits for it: keep it short.
    std::chrono::seconds keep_alive_timeout{2};
    std::size_t keep_alive_max_requests = 5;
    std::size_t threads = 4;
    std::optional<tls_files> tls;  // HTTPS (TLS 1.2 or newer) when set
};

// A small HTTP/1.1 server for elector's own endpoints (leader API, metrics,
// probes, admission webhook): GET/HEAD and POST routes on exact paths or
// prefixes, JSON errors, optional TLS, its own listener thread and a small
// pool of worker threads.
//
//   unknown path                      404 {"error":"not found: /x"}
//   other method on a known path      405, Allow: the route's methods ("GET, HEAD", "POST")
//   POST body over max_body_bytes     413 (the handler is not called)
//   POST with bad framing             400 (bad Content-Length, both it and Transfer-Encoding),
//                                     501 (a Transfer-Encoding but chunked), 415 (multipart/form-data)
//   handler throws                    500 {"error":"<what()>"}
//   error status with an empty body   the body becomes {"error":"<reason>"}
class server {
public:
    explicit server(std::string name, server_options options = {});  // name as in log lines: "leader API"
    ~server();  // stop()
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Adds a GET (and HEAD) route before start(): an exact path ("/healthz")
    // or, ending in '/', a prefix ("/leader/") matching every longer path; the
    // handler sees the full path. An exact path wins over a prefix, a longer
    // prefix over a shorter one. Throws std::invalid_argument for a path not
    // starting with '/' or already added, std::logic_error after start().
    void get(std::string path_or_prefix, handler h);

    // Adds a POST route (exact path or prefix, as get()). The body is read up to
    // server_options::max_body_bytes; a longer body is answered 413 without calling the handler.
    // A path may have both a GET and a POST route.
    void post(std::string path_or_prefix, handler h);

    // Binds exactly the given host ("" = all interfaces, IPv6 and IPv4) and
    // port (0 = a free one), then serves on its own thread. Returns the bound
    // port, or an error: "disabled", "already started", "stopped" (after
    // stop(): once only), "cannot bind 127.0.0.1:8082: Address already in use".
    // With TLS the certificate and key are loaded first: "cannot load the TLS
    // certificate /dir/tls.crt: No such file or directory", "cannot load the TLS
    // key /dir/tls.key: the key does not match the certificate /dir/tls.crt"
    // (the server stays unstarted: start() may be called again).
    std::expected<std::uint16_t, std::string> start(const config::bind_address& address);

    // Closes the listening socket, lets requests in progress finish, joins
    // the threads. Idempotent; the server cannot be started again.
    void stop();

    // The bound port while serving, 0 before start() and after stop().
    [[nodiscard]] std::uint16_t port() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// {"error":"<message>"}, escaped as JSON (invalid UTF-8 replaced).
std::string json_error(std::string_view message);

}  // namespace elector::http
