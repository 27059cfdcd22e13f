#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "kube/cluster_config.hpp"
#include "kube/error.hpp"
#include "kube/rate_limiter.hpp"

namespace elector::kube {

struct transport_options {
    double qps = 50;
    int burst = 100;
    std::chrono::milliseconds timeout{5000};          // whole request, unless the request says otherwise
    std::chrono::milliseconds connect_timeout{3000};
    std::string user_agent = "elector";
};

struct http_request {
    std::string method = "GET";
    std::string path;          // absolute path with query, already encoded: "/api/v1/pods?limit=500"
    std::string body;
    std::string content_type;  // for a body; "application/json" if empty
    priority prio = priority::normal;
    std::optional<std::chrono::milliseconds> timeout;
    bool defer_if_throttled = false;  // see call_options
};

struct http_response {
    int status = 0;
    std::string body;
};

struct stream_options {
    std::stop_token stop;                             // ends the stream (checked at least once a second)
    std::optional<std::chrono::milliseconds> idle_timeout;  // error if no byte arrives for this long
};

// HTTP(S) to one API server over libcurl: connections are kept and reused,
// TLS is verified against the configured CA, requests carry the bearer token
// (re-read from its file as it rotates) or the client certificate, responses
// may be gzip-compressed, and every request passes the client-side rate
// limiter. Thread-safe: any number of requests may run at once.
class transport {
public:
    // Checks the configuration (server URL, PEM material) before any request.
    static std::expected<std::shared_ptr<transport>, std::string> create(const cluster_config& config,
                                                                         const transport_options& options);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // One request; a non-2xx answer is returned as its api_error.
    result<http_response> send(const http_request& request);

    // A streaming GET (a watch): calls on_line for every complete line of the
    // body until the server ends the response (success), on_line returns
    // false or options.stop is requested (success), or an error: a non-2xx
    // answer, a broken connection, a line cut off by the end of the stream,
    // or nothing received for options.idle_timeout.
    result<void> stream(const http_request& request, const std::function<bool(std::string_view)>& on_line,
                        const stream_options& options);

    [[nodiscard]] const std::string& server() const { return server_; }
    // New TCP connections opened so far (connection reuse is visible here).
    [[nodiscard]] std::uint64_t connections_opened() const { return connections_opened_.load(); }

private:
    struct handle;
    transport(const cluster_config& config, const transport_options& options);
    std::unique_ptr<handle> take_handle();
    void return_handle(std::unique_ptr<handle> h);
    std::expected<void, api_error> prepare(handle& h, const http_request& request, bool streaming);
    api_error curl_failure(int code, const handle& h, const http_request& request) const;

    cluster_config config_;
    transport_options options_;
    std::string server_;        // the URL requests go to (tls-server-name applied)
    std::string connect_to_;    // CURLOPT_CONNECT_TO entry when tls-server-name is set
    bearer_token_source token_;
    rate_limiter limiter_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<handle>> pool_;
    std::atomic<std::uint64_t> connections_opened_{0};
};

}  // namespace elector::kube
