#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace elector::kube {

// Frames a watch stream (one JSON object per line) out of the chunks the
// network delivers, whatever their boundaries. A line longer than
// `max_line` bytes is an error: a server that never sends a newline must not
// grow memory without bound.
class line_splitter {
public:
    explicit line_splitter(std::size_t max_line = 64u << 20) : max_line_(max_line) {}

    // Calls on_line(std::string_view) for each complete line in order (without
    // the '\n'; a trailing '\r' is dropped; empty lines are skipped). Stops
    // early when on_line returns false. Returns false if a line exceeded
    // max_line or on_line asked to stop.
    template <class OnLine>
    bool feed(std::string_view chunk, OnLine&& on_line) {
        while (!chunk.empty()) {
            auto nl = chunk.find('\n');
            if (nl == std::string_view::npos) {
                if (partial_.size() + chunk.size() > max_line_) return overflow();
                partial_.append(chunk);
                return true;
            }
            std::string_view line = chunk.substr(0, nl);
            chunk.remove_prefix(nl + 1);
            if (!partial_.empty()) {
                if (partial_.size() + line.size() > max_line_) return overflow();
                partial_.append(line);
                std::string whole = std::move(partial_);
                partial_.clear();
                if (!emit(whole, on_line)) return false;
            } else {
                if (line.size() > max_line_) return overflow();
                if (!emit(line, on_line)) return false;
            }
        }
        return true;
    }

    // Bytes of an unterminated last line: non-empty at the end of a stream
    // means it was cut mid-line.
    [[nodiscard]] std::string_view pending() const { return partial_; }
    [[nodiscard]] bool overflowed() const { return overflowed_; }

private:
    template <class OnLine>
    static bool emit(std::string_view line, OnLine& on_line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) return true;
        return on_line(line);
    }
    bool overflow() {
        overflowed_ = true;
        partial_.clear();
        return false;
    }

    std::size_t max_line_;
    std::string partial_;
    bool overflowed_ = false;
};

}  // namespace elector::kube
