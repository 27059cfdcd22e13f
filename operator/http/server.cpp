#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "log/logging.hpp"

namespace elector::http {

namespace {

using route_table = std::map<std::string, handler, std::less<>>;

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
        case 413: return "payload too large";
        case 414: return "URI too long";
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
// wildcards; not inherited by child processes.
void configure_listener(int sock) {
    const int saved_errno = errno;  // bind()'s errno is what start() reports
    int yes = 1;
    int no = 0;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
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
        : name(std::move(server_name)), options(server_opts) {}

    const std::string name;
    const server_options options;
    route_table exact;
    route_table prefixes;  // keys end in '/'

    httplib::Server svr;
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
        const std::string* route;
        const handler* h;
    };

    [[nodiscard]] std::optional<match> find_route(std::string_view path) const {
        if (auto it = exact.find(path); it != exact.end()) return match{&it->first, &it->second};
        std::optional<match> best;
        for (const auto& [prefix, h] : prefixes) {
            if (path.starts_with(prefix) && (!best || prefix.size() > best->route->size())) {
                best = match{&prefix, &h};
            }
        }
        return best;
    }

    void configure() {
        svr.set_payload_max_length(options.max_body_bytes);
        svr.set_read_timeout(options.read_timeout);
        svr.set_write_timeout(options.write_timeout);
        svr.set_keep_alive_timeout(options.keep_alive_timeout.count());
        svr.set_keep_alive_max_count(std::max<std::size_t>(options.keep_alive_max_requests, 1));
        svr.set_socket_options(configure_listener);

        // Every request is answered here, before httplib reads a body or
        // matches its std::regex routes: its 0.11 regex matching recurses per
        // character of the path, and its chunked bodies ignore the payload limit.
        svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            serve(req, res);
            return httplib::Server::HandlerResponse::Handled;
        });
        // httplib's own errors (400 malformed, 414 URI too long, ...) as JSON.
        svr.set_error_handler(
            httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
                if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                const std::string_view text = reason(res.status);
                res.set_content(json_error(text.empty() ? fmt::format("HTTP {}", res.status) : std::string{text}),
                                "application/json");
                return httplib::Server::HandlerResponse::Handled;
            }));
        svr.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            write(res, failure(req, ep));
        });
        svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            if (!spdlog::should_log(spdlog::level::debug)) return;  // no quoting work on every scrape
            spdlog::debug("request served server={} method={} path={} remote={} status={}", log::q(name),
                          log::q(req.method), log::q(req.path), log::q(req.remote_addr), res.status);
        });
        svr.new_task_queue = [this]() -> httplib::TaskQueue* {
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

    void serve(const httplib::Request& req, httplib::Response& res) const {
        // A body is never read: the next bytes on this connection would not
        // be a request, so ask the client to close it.
        if (has_body(req)) res.set_header("Connection", "close");

        const auto found = find_route(req.path);
        if (!found) {
            write(res, error_response(404, fmt::format("not found: {}", req.path)));
            return;
        }
        if (req.method != "GET" && req.method != "HEAD") {
            auto out = error_response(405, fmt::format("method {} not allowed on {}", req.method, req.path));
            out.headers.emplace_back("Allow", "GET, HEAD");
            write(res, out);
            return;
        }

        request in{.method = req.method,
                   .path = req.path,
                   .target = req.target,
                   .route = *found->route,
                   .query = {req.params.begin(), req.params.end()},
                   .headers = {req.headers.begin(), req.headers.end()},
                   .body = {},
                   .remote_addr = req.remote_addr};
        response out;
        try {
            out = (*found->h)(in);
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
            if (!svr.listen_after_bind()) {
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
};

server::server(std::string name, server_options options)
    : impl_(std::make_unique<impl>(std::move(name), options)) {
    impl_->configure();
}

server::~server() { stop(); }

void server::get(std::string path_or_prefix, handler h) {
    if (path_or_prefix.empty() || path_or_prefix.front() != '/') {
        throw std::invalid_argument(fmt::format("route \"{}\" does not start with '/'", path_or_prefix));
    }
    if (!h) throw std::invalid_argument(fmt::format("route \"{}\" has no handler", path_or_prefix));
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->current != impl::state::idle) {
        throw std::logic_error(fmt::format("route \"{}\" added to the {} after start()", path_or_prefix, impl_->name));
    }
    auto& table = path_or_prefix.ends_with('/') ? impl_->prefixes : impl_->exact;
    if (table.contains(path_or_prefix)) {
        throw std::invalid_argument(fmt::format("route \"{}\" added twice", path_or_prefix));
    }
    table.emplace(std::move(path_or_prefix), std::move(h));
}

std::expected<std::uint16_t, std::string> server::start(const config::bind_address& address) {
    if (!address.enabled) return std::unexpected(std::string{"disabled"});
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->current == impl::state::running) return std::unexpected(std::string{"already started"});
    if (impl_->current == impl::state::stopped) return std::unexpected(std::string{"stopped"});

    std::expected<std::uint16_t, int> bound;
    if (address.host.empty()) {
        // All interfaces: the IPv6 wildcard, dual-stack, or IPv4 alone where
        // the kernel has no IPv6. (httplib would bind loopback for "".)
        bound = bind_host(impl_->svr, "::", address.port);
        if (!bound && (bound.error() == EAFNOSUPPORT || bound.error() == EADDRNOTAVAIL)) {
            bound = bind_host(impl_->svr, "0.0.0.0", address.port);
        }
    } else {
        bound = bind_host(impl_->svr, address.host, address.port);
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
        impl_->svr.stop();
        impl_->listener.join();
        impl_->current = impl::state::stopped;
        return std::unexpected(fmt::format("cannot serve the {} on {}", impl_->name, address.to_string()));
    }
    impl_->current = impl::state::running;
    impl_->bound_port = *bound;
    const auto where = config::bind_address{.host = address.host, .port = *bound, .enabled = true}.to_string();
    spdlog::info("serving the {} on {} server={} address={}", impl_->name, where, log::q(impl_->name), log::q(where));
    return *bound;
}

void server::stop() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->current != impl::state::running) {
        impl_->current = impl::state::stopped;
        return;
    }
    impl_->svr.stop();
    impl_->listener.join();
    impl_->current = impl::state::stopped;
    impl_->bound_port = 0;
    spdlog::info("stopped serving the {} server={}", impl_->name, log::q(impl_->name));
}

std::uint16_t server::port() const { return impl_->bound_port; }

}  // namespace elector::http
