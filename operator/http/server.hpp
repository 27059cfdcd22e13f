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
    std::string method;  // "GET" or "HEAD"
    std::string path;    // percent-decoded, without the query: "/leader/default/web"
    std::string target;  // as sent, with the query: "/leader/default/web?watch=1"
    std::string route;   // the registered path or prefix that matched
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent
    std::string body;
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

struct server_options {
    std::size_t max_body_bytes = std::size_t{1} << 20;
    std::chrono::seconds read_timeout{5};
    std::chrono::seconds write_timeout{5};
    // An idle keep-alive connection holds a worker thread this long, and
    // stop() waits for it: keep it short.
    std::chrono::seconds keep_alive_timeout{2};
    std::size_t keep_alive_max_requests = 5;
    std::size_t threads = 4;
};

// A small HTTP/1.1 server for elector's own endpoints (leader API, metrics,
// probes): GET and HEAD routes on exact paths or prefixes, JSON errors, its
// own listener thread and a small pool of worker threads.
//
//   unknown path                      404 {"error":"not found: /x"}
//   other method on a known path      405, Allow: GET, HEAD
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

    // Binds exactly the given host ("" = all interfaces, IPv6 and IPv4) and
    // port (0 = a free one), then serves on its own thread. Returns the bound
    // port, or an error: "disabled", "already started", "stopped" (after
    // stop(): once only), "cannot bind 127.0.0.1:8082: Address already in use".
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
