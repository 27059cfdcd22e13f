#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <expected>
#include <string>

namespace elector::util {

// A whole file, read until end of file (procfs files report size 0), or the
// errno that stopped it: callers tell ENOENT ("absent") from "unreadable";
// EFBIG when it holds more than max_bytes. POSIX calls rather than streams:
// g++ 12 at -O2/-O3 reports a false null dereference inside istreambuf_iterator.
inline std::expected<std::string, int> read_whole_file(const std::string& path,
                                                       std::size_t max_bytes = std::string().max_size()) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(errno);
    std::string content;
    std::array<char, 16384> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int code = errno;
            ::close(fd);
            return std::unexpected(code);
        }
        if (static_cast<std::size_t>(n) > max_bytes - content.size()) {
            ::close(fd);
            return std::unexpected(EFBIG);
        }
        content.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return content;
}

}  // namespace elector::util
