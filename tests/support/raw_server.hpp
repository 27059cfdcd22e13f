#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace elector::testing {

// A TCP server on 127.0.0.1 (free port) that misbehaves on purpose: for each
// connection it reads the request head, then hands the socket to `respond`,
// which writes whatever bytes it likes (garbage, a truncated body, a watch
// cut mid-line, nothing at all) and returns; the connection is then closed.
// Used to prove the Kubernetes client fails clearly instead of crashing or
// hanging.
class raw_server {
public:
    struct connection {
        int fd;
        std::string request_head;  // request line and headers
        // Writes all of `bytes`; false if the peer went away.
        bool write(std::string_view bytes) const;
        // Blocks until the peer closes or `stop` is set (for "silent" servers).
        void wait_for_close(const std::atomic<bool>& stop) const;
    };
    using responder = std::function<void(const connection&)>;

    explicit raw_server(responder respond);
    ~raw_server();
    raw_server(const raw_server&) = delete;
    raw_server& operator=(const raw_server&) = delete;

    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // Request heads received so far.
    [[nodiscard]] std::vector<std::string> requests() const;
    [[nodiscard]] const std::atomic<bool>& stopping() const { return stop_; }

private:
    void serve();
    int listen_fd_ = -1;
    int port_ = 0;
    responder respond_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

}  // namespace elector::testing
