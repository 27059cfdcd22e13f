#include "http/server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace elector::http {
namespace {

using namespace std::chrono_literals;

const config::bind_address loopback_any_port{.host = "127.0.0.1", .port = 0, .enabled = true};

httplib::Client client(std::uint16_t port) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2s);
    c.set_read_timeout(2s);
    c.set_write_timeout(2s);
    return c;
}

enum class probe { accepted, refused, no_answer };

// Connects to ip:port (IPv4 or IPv6 literal), waiting at most 100 ms: a SYN
// that races with a listening socket being closed can be lost, and the kernel
// would retry only a second later.
probe connect_to(const char* ip, std::uint16_t port) {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (::inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof(sockaddr_in6);
    } else {
        throw std::invalid_argument(ip);
    }
    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    probe result = probe::no_answer;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0) {
        result = probe::accepted;
    } else if (errno == ECONNREFUSED) {
        result = probe::refused;
    } else if (errno == EINPROGRESS) {
        pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
        if (::poll(&p, 1, 100) == 1) {
            int error = 0;
            socklen_t size = sizeof error;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
            if (error == 0) result = probe::accepted;
            if (error == ECONNREFUSED) result = probe::refused;
        }
    }
    ::close(fd);
    return result;
}

bool ipv6_loopback_available() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

response text(std::string body) { return {.status = 200, .content_type = "text/plain", .body = std::move(body)}; }

TEST(http_server, ServesGetWithStatusBodyContentTypeAndHeaders) {
    server s("test API");
    s.get("/hello", [](const request& r) {
        EXPECT_EQ(r.method, "GET");
        EXPECT_EQ(r.path, "/hello");
        EXPECT_EQ(r.route, "/hello");
        return response{.status = 200,
                        .content_type = "application/json",
                        .body = R"({"hello":"world"})",
                        .headers = {{"Cache-Control", "no-store"}}};
    });
    s.get("/busy", [](const request&) {
        return response{.status = 503, .content_type = "text/plain", .body = "busy", .headers = {{"Retry-After", "3"}}};
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();
    EXPECT_NE(*port, 0);
    EXPECT_EQ(s.port(), *port);

    auto c = client(*port);
    auto r = c.Get("/hello");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"hello":"world"})");
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");

    r = c.Get("/busy");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "busy");
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain");
    EXPECT_EQ(r->get_header_value("Retry-After"), "3");
}

TEST(http_server, HandlerSeesQueryAndHeaders) {
    server s("test API");
    s.get("/echo", [](const request& r) {
        nlohmann::json out;
        out["target"] = r.target;
        out["watch"] = std::string{r.query_param("watch").value_or("<none>")};
        out["name"] = std::string{r.query_param("name").value_or("<none>")};
        out["missing"] = r.query_param("missing").has_value();
        out["header"] = std::string{r.header("x-elector-test").value_or("<none>")};
        out["remote"] = r.remote_addr;
        return response{.body = out.dump()};
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Get("/echo?watch=1&name=a%20b", {{"X-Elector-Test", "yes"}});
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200);
    const auto body = nlohmann::json::parse(r->body);
    EXPECT_EQ(body["target"], "/echo?watch=1&name=a%20b");
    EXPECT_EQ(body["watch"], "1");
    EXPECT_EQ(body["name"], "a b");
    EXPECT_EQ(body["missing"], false);
    EXPECT_EQ(body["header"], "yes");
    EXPECT_EQ(body["remote"], "127.0.0.1");
}

TEST(http_server, PrefixRouteSeesTheFullPathAndTheMostSpecificRouteWins) {
    server s("test API");
    s.get("/leader/", [](const request& r) { return text("prefix " + r.route + " " + r.path); });
    s.get("/leader/special/", [](const request& r) { return text("longer " + r.route + " " + r.path); });
    s.get("/leader/exact", [](const request& r) { return text("exact " + r.route + " " + r.path); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto body_of = [&](const std::string& path) {
        auto r = c.Get(path);
        if (!r) return "error " + httplib::to_string(r.error());
        return std::to_string(r->status) + " " + r->body;
    };
    EXPECT_EQ(body_of("/leader/default/web"), "200 prefix /leader/ /leader/default/web");
    EXPECT_EQ(body_of("/leader/"), "200 prefix /leader/ /leader/");
    EXPECT_EQ(body_of("/leader/special/x"), "200 longer /leader/special/ /leader/special/x");
    EXPECT_EQ(body_of("/leader/exact"), "200 exact /leader/exact /leader/exact");
    EXPECT_EQ(body_of("/leader/exact/more"), "200 prefix /leader/ /leader/exact/more");
    EXPECT_EQ(body_of("/leader"), R"(404 {"error":"not found: /leader"})");
}

TEST(http_server, UnknownPathIsA404WithAJsonError) {
    server s("test API");
    s.get("/known", [](const request&) { return text("known"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Get("/x");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, R"({"error":"not found: /x"})");
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");

    // A long path is answered too (no regex matching on paths).
    const std::string long_path = "/" + std::string(8000, 'a');
    r = c.Get(long_path);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "not found: " + long_path);
}

TEST(http_server, OtherMethodsOnAKnownPathAre405WithAllow) {
    server s("test API");
    bool called = false;
    s.get("/leader/", [&](const request&) {
        called = true;
        return text("no");
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Post("/leader/default/web", R"({"a":1})", "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "method POST not allowed on /leader/default/web");

    r = c.Delete("/leader/default/web");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");

    // Unknown paths stay 404 whatever the method.
    r = c.Post("/nowhere", "x", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, R"({"error":"not found: /nowhere"})");
    EXPECT_FALSE(called);
}

TEST(http_server, BodiesAreNeverReadEvenOverTheLimit) {
    server s("test API", server_options{.max_body_bytes = 1024});
    s.get("/x", [](const request&) { return text("x"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    c.set_keep_alive(true);
    auto r = c.Post("/x", std::string(64 * 1024, 'b'), "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Connection"), "close");
    // The client reconnects as asked and the next request is served.
    r = c.Get("/x");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "x");
}

TEST(http_server, HeadIsGetWithoutTheBody) {
    server s("test API");
    s.get("/status", [](const request& r) {
        EXPECT_TRUE(r.method == "GET" || r.method == "HEAD") << r.method;
        return response{.body = R"({"ok":true})"};
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Head("/status");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "");
    EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(std::string{R"({"ok":true})"}.size()));
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");

    r = c.Head("/nowhere");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, "");
}

TEST(http_server, AThrowingHandlerIsA500AndTheServerKeepsServing) {
    server s("test API");
    s.get("/boom", [](const request&) -> response { throw std::runtime_error("the \"leader\" is gone"); });
    s.get("/odd", [](const request&) -> response { throw 42; });
    s.get("/ok", [](const request&) { return text("ok"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    for (int i = 0; i < 3; ++i) {
        auto r = c.Get("/boom");
        ASSERT_TRUE(r) << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 500);
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(r->body, R"({"error":"the \"leader\" is gone"})");
    }
    auto r = c.Get("/odd");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, R"({"error":"unknown exception"})");

    r = c.Get("/ok");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
}

TEST(http_server, ErrorStatusWithoutBodyGetsAJsonErrorAndBadStatusIsA500) {
    server s("test API");
    s.get("/empty-404", [](const request&) { return response{.status = 404}; });
    s.get("/bad-status", [](const request&) { return response{.status = 42, .body = "?"}; });
    s.get("/no-content", [](const request&) { return response{.status = 204}; });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Get("/empty-404");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, R"({"error":"not found"})");

    r = c.Get("/bad-status");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, R"({"error":"invalid status 42"})");

    r = c.Get("/no-content");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(r->body, "");
}

TEST(http_server, TwoServersOnPortZeroGetDifferentPorts) {
    server a("API a");
    server b("API b");
    a.get("/", [](const request&) { return text("a"); });
    b.get("/", [](const request&) { return text("b"); });
    auto port_a = a.start(loopback_any_port);
    auto port_b = b.start(loopback_any_port);
    ASSERT_TRUE(port_a) << port_a.error();
    ASSERT_TRUE(port_b) << port_b.error();
    EXPECT_NE(*port_a, *port_b);

    auto ra = client(*port_a).Get("/");
    auto rb = client(*port_b).Get("/");
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ(ra->body, "a");
    EXPECT_EQ(rb->body, "b");
}

TEST(http_server, BindingAPortInUseIsAClearError) {
    server first("first API");
    auto port = first.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    server second("second API");
    const config::bind_address taken{.host = "127.0.0.1", .port = *port, .enabled = true};
    auto result = second.start(taken);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "cannot bind 127.0.0.1:" + std::to_string(*port) + ": Address already in use");
    EXPECT_EQ(second.port(), 0);
    second.stop();

    // httplib's own default (SO_REUSEPORT) would have let the second bind succeed.
    server third("third API");
    EXPECT_FALSE(third.start(taken));
}

TEST(http_server, AnAddressNotOnThisHostIsAClearError) {
    server s("test API");
    // TEST-NET-1 (RFC 5737): a literal, so no DNS, and on no interface here.
    auto result = s.start({.host = "192.0.2.1", .port = 0, .enabled = true});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "cannot bind 192.0.2.1:0: Cannot assign requested address");
}

TEST(http_server, DisabledAddressAndSecondStartAreErrors) {
    server s("test API");
    auto disabled = s.start({.host = "", .port = 0, .enabled = false});
    ASSERT_FALSE(disabled);
    EXPECT_EQ(disabled.error(), "disabled");

    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();
    auto again = s.start(loopback_any_port);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), "already started");
}

TEST(http_server, RoutesAreCheckedAndFixedAtStart) {
    server s("test API");
    EXPECT_THROW(s.get("", [](const request&) { return response{}; }), std::invalid_argument);
    EXPECT_THROW(s.get("healthz", [](const request&) { return response{}; }), std::invalid_argument);
    EXPECT_THROW(s.get("/healthz", handler{}), std::invalid_argument);
    s.get("/healthz", [](const request&) { return response{}; });
    EXPECT_THROW(s.get("/healthz", [](const request&) { return response{}; }), std::invalid_argument);
    ASSERT_TRUE(s.start(loopback_any_port));
    EXPECT_THROW(s.get("/readyz", [](const request&) { return response{}; }), std::logic_error);
}

TEST(http_server, StopIsIdempotentAndClosesThePort) {
    server s("test API");
    s.get("/", [](const request&) { return text("up"); });
    s.stop();  // before start: nothing to do, and the server stays unusable
    EXPECT_FALSE(s.start(loopback_any_port));

    server t("test API");
    t.get("/", [](const request&) { return text("up"); });
    auto port = t.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();
    ASSERT_TRUE(client(*port).Get("/"));

    t.stop();
    EXPECT_EQ(t.port(), 0);
    t.stop();
    EXPECT_EQ(connect_to("127.0.0.1", *port), probe::refused);
    auto r = client(*port).Get("/");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), httplib::Error::Connection);
}

TEST(http_server, StopLetsARequestInProgressFinish) {
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    server s("test API");
    s.get("/slow", [&](const request&) {
        entered.set_value();
        released.wait();
        return text("finished");
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto reply = std::async(std::launch::async, [p = *port] {
        auto r = client(p).Get("/slow");
        return r ? std::to_string(r->status) + " " + r->body : "error " + httplib::to_string(r.error());
    });
    entered.get_future().wait();
    auto stopper = std::async(std::launch::async, [&] { s.stop(); });
    // stop() closes the listening socket first, then waits for the handler.
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (connect_to("127.0.0.1", *port) != probe::refused && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    EXPECT_EQ(connect_to("127.0.0.1", *port), probe::refused);
    EXPECT_EQ(stopper.wait_for(0s), std::future_status::timeout);
    release.set_value();
    stopper.get();
    EXPECT_EQ(reply.get(), "200 finished");
}

TEST(http_server, DestructorWithoutStopIsFine) {
    std::uint16_t port = 0;
    {
        auto s = std::make_unique<server>("test API");
        s->get("/", [](const request&) { return text("up"); });
        auto bound = s->start(loopback_any_port);
        ASSERT_TRUE(bound) << bound.error();
        port = *bound;
        ASSERT_TRUE(client(port).Get("/"));
    }
    EXPECT_EQ(connect_to("127.0.0.1", port), probe::refused);
    { server never_started("test API"); }
}

TEST(http_server, EmptyHostServesAllInterfaces) {
    server s("test API");
    s.get("/", [](const request&) { return text("up"); });
    auto port = s.start({.host = "", .port = 0, .enabled = true});
    ASSERT_TRUE(port) << port.error();
    EXPECT_EQ(connect_to("127.0.0.1", *port), probe::accepted);
    if (ipv6_loopback_available()) {
        EXPECT_EQ(connect_to("::1", *port), probe::accepted);
    }
    auto r = client(*port).Get("/");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "up");
}

// One request written as is on a new connection; the whole reply (the server
// closes the connection: the request says "Connection: close").
std::string raw_exchange(std::uint16_t port, const std::string& request_text) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string reply;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
        ::send(fd, request_text.data(), request_text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request_text.size())) {
        char buffer[4096];
        for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
            reply.append(buffer, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return reply;
}

TEST(http_server, PostRoutesGetTheBodyQueryAndHeaders) {
    server s("test API");
    std::mutex seen_mutex;
    std::vector<request> seen;
    auto record = [&](std::string answer) {
        return [&, answer](const request& r) {
            std::lock_guard lock(seen_mutex);
            seen.push_back(r);
            return text(answer + ":" + r.body);
        };
    };
    s.post("/review", record("review"));
    s.post("/hooks/", record("hooks"));
    s.get("/both", [](const request& r) { return text("get:" + r.method); });
    s.post("/both", record("both"));
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    c.set_keep_alive(true);  // every body is read: the connection is reused
    auto r = c.Post("/review?dryRun=true", R"({"kind":"AdmissionReview"})", "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"(review:{"kind":"AdmissionReview"})");
    EXPECT_EQ(r->get_header_value("Connection"), "");

    r = c.Post("/hooks/a%20b", "x", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "hooks:x");
    r = c.Post("/review", "", "application/json");  // Content-Length: 0
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "review:");
    r = c.Get("/both");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "get:GET");
    r = c.Post("/both", "y", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "both:y");
    // A long path is matched without httplib's std::regex (which recurses per character).
    r = c.Post("/hooks/" + std::string(7000, 'p'), "z", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "hooks:z");

    std::lock_guard lock(seen_mutex);
    ASSERT_EQ(seen.size(), 5U);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].path, "/review");
    EXPECT_EQ(seen[0].target, "/review?dryRun=true");
    EXPECT_EQ(seen[0].route, "/review");
    EXPECT_EQ(seen[0].query_param("dryRun"), "true");
    EXPECT_EQ(seen[0].header("content-type"), "application/json");
    EXPECT_EQ(seen[1].path, "/hooks/a b");
    EXPECT_EQ(seen[1].route, "/hooks/");
    EXPECT_EQ(seen[2].body, "");
    EXPECT_EQ(seen[3].route, "/both");
    EXPECT_EQ(seen[4].path.size(), 7007U);
}

TEST(http_server, PostBodiesOverTheLimitAre413WithoutCallingTheHandler) {
    server s("test API", server_options{.max_body_bytes = 1024});
    std::atomic<int> calls{0};
    std::atomic<std::size_t> last_size{0};
    s.post("/in", [&](const request& r) {
        ++calls;
        last_size = r.body.size();
        return text("ok");
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    c.set_keep_alive(true);
    auto r = c.Post("/in", std::string(1024, 'a'), "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(last_size, 1024U);

    // Read and dropped (the client can finish sending and read the answer),
    // and the connection goes on.
    r = c.Post("/in", std::string(100 * 1024, 'a'), "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, R"({"error":"request body larger than 1024 bytes"})");
    EXPECT_EQ(r->get_header_value("Connection"), "");
    EXPECT_EQ(calls, 1);
    r = c.Post("/in", "next", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(last_size, 4U);

    // Chunked: no length announced, the limit applies as the body is read.
    auto chunked = [&](std::size_t size) {
        auto sent = std::make_shared<std::size_t>(0);
        return client(*port).Post(
            "/in",
            [sent, size](std::size_t, httplib::DataSink& sink) {
                const std::size_t n = std::min<std::size_t>(300, size - *sent);
                sink.write(std::string(n, 'c').data(), n);
                *sent += n;
                if (*sent == size) sink.done();
                return true;
            },
            "text/plain");
    };
    r = chunked(3000);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(calls, 2);
    r = chunked(900);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(last_size, 900U);
    EXPECT_EQ(calls, 3);

    // A small gzip body that inflates past the limit.
    auto compressing = client(*port);
    compressing.set_compress(true);
    r = compressing.Post("/in", std::string(100 * 1024, 'z'), "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(calls, 3);
    r = compressing.Post("/in", std::string(1000, 'z'), "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(last_size, 1000U);

    // Far too long: answered at once, nothing read.
    const std::string reply = raw_exchange(
        *port, "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000000\r\n\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 413 ")) << reply;
    EXPECT_EQ(calls, 4);
}

TEST(http_server, MethodsAreCheckedPerRoute) {
    server s("test API");
    std::atomic<int> calls{0};
    auto count = [&](const request&) {
        ++calls;
        return text("x");
    };
    s.get("/g", count);
    s.post("/p", count);
    s.get("/b", count);
    s.post("/b", count);
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    auto r = c.Post("/g", "x", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
    r = c.Get("/p");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "POST");
    EXPECT_EQ(r->body, R"({"error":"method GET not allowed on /p"})");
    r = c.Head("/p");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "POST");
    r = c.Put("/b", "x", "text/plain");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD, POST");
    EXPECT_EQ(calls, 0);
}

TEST(http_server, MalformedPostFramingIsRejectedWithoutCallingTheHandler) {
    server s("test API");
    std::atomic<int> calls{0};
    s.post("/p", [&](const request& r) {
        ++calls;
        return text("body=" + r.body);
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    const std::string head = "POST /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    EXPECT_TRUE(raw_exchange(*port, head + "Content-Length: 1x\r\n\r\n").starts_with("HTTP/1.1 400 "));
    EXPECT_TRUE(
        raw_exchange(*port, head + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n").starts_with("HTTP/1.1 400 "));
    EXPECT_TRUE(raw_exchange(*port, head + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .starts_with("HTTP/1.1 400 "));
    EXPECT_TRUE(raw_exchange(*port, head + "Transfer-Encoding: gzip\r\n\r\n").starts_with("HTTP/1.1 501 "));
    auto r = client(*port).Post("/p", "--x--\r\n", "multipart/form-data; boundary=x");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 415);
    EXPECT_EQ(calls, 0);

    // No Content-Length and no Transfer-Encoding: an empty body (RFC 9112).
    const std::string reply = raw_exchange(*port, head + "\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 ")) << reply;
    EXPECT_TRUE(reply.ends_with("\r\n\r\nbody=")) << reply;
    EXPECT_EQ(calls, 1);
}

TEST(http_server, PostRoutesAreCheckedAndFixedAtStart) {
    server s("test API");
    EXPECT_THROW(s.post("review", [](const request&) { return response{}; }), std::invalid_argument);
    EXPECT_THROW(s.post("/review", handler{}), std::invalid_argument);
    s.post("/review", [](const request&) { return response{}; });
    EXPECT_THROW(s.post("/review", [](const request&) { return response{}; }), std::invalid_argument);
    s.get("/review", [](const request&) { return response{}; });  // another method: fine
    EXPECT_THROW(s.get("/review", [](const request&) { return response{}; }), std::invalid_argument);
    ASSERT_TRUE(s.start(loopback_any_port));
    EXPECT_THROW(s.post("/mutate", [](const request&) { return response{}; }), std::logic_error);
}

TEST(http_server, KeepAliveResponsesDoNotWaitForDelayedAcks) {
    server s("test API", server_options{.keep_alive_max_requests = 100});
    s.get("/metrics", [](const request&) { return text(std::string(2000, 'm')); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = client(*port);
    c.set_keep_alive(true);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) {
        auto r = c.Get("/metrics");
        ASSERT_TRUE(r) << httplib::to_string(r.error());
        ASSERT_EQ(r->body.size(), 2000U);
    }
    // With Nagle's algorithm on the server's side, each response after the
    // first waited about 40 ms for the client's delayed ACK (360 ms or more).
    EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(http_server, JsonErrorEscapes) {
    EXPECT_EQ(json_error("not found: /x"), R"({"error":"not found: /x"})");
    EXPECT_EQ(json_error("a \"b\"\n\\c"), R"({"error":"a \"b\"\n\\c"})");
    EXPECT_EQ(json_error(""), R"({"error":""})");
    // Invalid UTF-8 (a percent-decoded path can carry any byte) is replaced.
    const auto parsed = nlohmann::json::parse(json_error("bad \xff byte"));
    EXPECT_EQ(parsed["error"], "bad \xef\xbf\xbd byte");
}

}  // namespace
}  // namespace elector::http
