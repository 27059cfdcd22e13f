#pragma once

#include <memory>

#include <spdlog/formatter.h>

#include "config/options.hpp"

namespace elector::log {

// Installs elector's default logger: stderr, UTC timestamps, the given level,
// and either text lines or one JSON object per line.
void setup(config::log_level level, config::log_format format);

// {"time":"2026-11-20T23:47:27.123Z","level":"info","msg":"..."}: the
// message is escaped as a JSON string, so any text yields a valid line.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace elector::log
