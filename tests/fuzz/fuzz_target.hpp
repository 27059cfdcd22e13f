// What every fuzz target defines and the helpers they share.
//
// A target is one function over the fuzzer's bytes that returns 0; it
// abort()s through fuzz::fail() when a property is broken, and lets a
// crash or an exception escape (std::terminate aborts) when the code under
// test has one. Two mains call it: afl_main.cpp (AFL++ persistent mode, in
// ELECTOR_FUZZ builds) and replay_main.cpp (files and directories, in
// normal builds: the committed corpus and regressions under ctest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size);

namespace elector::fuzz {

// Reports a broken property and aborts: AFL++ saves the input as a crash,
// the replay names the file.
[[noreturn]] inline void fail(std::string_view property, std::string_view details = {}) {
    std::fprintf(stderr, "\nfuzz: PROPERTY BROKEN: %.*s\n", static_cast<int>(property.size()), property.data());
    if (!details.empty()) std::fprintf(stderr, "%.*s\n", static_cast<int>(details.size()), details.data());
    std::fflush(stderr);
    std::abort();
}

inline void check(bool ok, std::string_view property, std::string_view details = {}) {
    if (!ok) fail(property, details);
}

// Reads structured choices out of the fuzzer's bytes. Past the end every
// read returns zero, so that a short input is a small, valid case.
class byte_reader {
public:
    byte_reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    bool flag() { return (byte() & 1) != 0; }
    // A number in [0, n) (n > 0, at most 256).
    unsigned below(unsigned n) { return byte() % n; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) | (static_cast<std::uint32_t>(u16()) << 16); }
    std::uint64_t u64() { return static_cast<std::uint64_t>(u32()) | (static_cast<std::uint64_t>(u32()) << 32); }
    // Up to max_len bytes, the length first.
    std::string text(std::size_t max_len) {
        const std::size_t n = byte() % (max_len + 1);
        std::string out;
        for (std::size_t i = 0; i < n && pos_ < size_; ++i) out.push_back(static_cast<char>(data_[pos_++]));
        return out;
    }
    // Everything not read yet.
    std::string_view rest() {
        std::string_view r(reinterpret_cast<const char*>(data_) + pos_, size_ - pos_);
        pos_ = size_;
        return r;
    }
    [[nodiscard]] bool empty() const { return pos_ >= size_; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// Splits the input at the first line that is exactly `separator`: the part
// before (without that line's '\n') and the part after, or the whole input
// and "" when there is none.
inline std::pair<std::string_view, std::string_view> split_at_line(std::string_view in, std::string_view separator) {
    std::size_t from = 0;
    while (from <= in.size()) {
        const std::size_t nl = in.find('\n', from);
        const std::size_t end = nl == std::string_view::npos ? in.size() : nl;
        if (in.substr(from, end - from) == separator) {
            const std::string_view before = in.substr(0, from == 0 ? 0 : from - 1);
            const std::string_view after = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
            return {before, after};
        }
        if (nl == std::string_view::npos) break;
        from = nl + 1;
    }
    return {in, {}};
}

}  // namespace elector::fuzz
