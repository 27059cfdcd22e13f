#include "raw_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace elector::testing {

bool raw_server::connection::write(std::string_view bytes) const {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void raw_server::connection::wait_for_close(const std::atomic<bool>& stop) const {
    char buf[256];
    while (!stop) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0 && recv(fd, buf, sizeof buf, 0) <= 0) return;
    }
}

raw_server::raw_server(responder respond) : respond_(std::move(respond)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error("raw_server: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { serve(); });
}

raw_server::~raw_server() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& w : workers_) w.join();
}

std::vector<std::string> raw_server::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void raw_server::serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        workers_.emplace_back([this, fd] {
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos && head.size() < (1u << 20)) {
                pollfd r{fd, POLLIN, 0};
                if (poll(&r, 1, 2000) <= 0) break;
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
                head.append(buf, static_cast<std::size_t>(n));
            }
            // A request body (POST/PUT/PATCH) may follow; the responders here do not need it.
            head = head.substr(0, head.find("\r\n\r\n"));
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(head);
            }
            respond_(connection{fd, head});
            shutdown(fd, SHUT_RDWR);
            close(fd);
        });
    }
}

}  // namespace elector::testing
