#include "log/logging.hpp"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace elector::log {

namespace {

spdlog::level::level_enum to_spdlog(config::log_level level) {
    switch (level) {
        case config::log_level::trace: return spdlog::level::trace;
        case config::log_level::debug: return spdlog::level::debug;
        case config::log_level::info: return spdlog::level::info;
        case config::log_level::warn: return spdlog::level::warn;
        case config::log_level::error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

}  // namespace

void json_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::string level(spdlog::level::to_string_view(msg.level).data(),
                            spdlog::level::to_string_view(msg.level).size());
    const std::string text(msg.payload.data(), msg.payload.size());
    fmt::format_to(std::back_inserter(dest), R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.{:03}Z","level":{},"msg":{}}})" "\n",
                   std::chrono::sys_seconds(seconds), millis, nlohmann::json(level).dump(),
                   nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::unique_ptr<spdlog::formatter> json_formatter::clone() const { return std::make_unique<json_formatter>(); }

void setup(config::log_level level, config::log_format format) {
    auto logger = std::make_shared<spdlog::logger>("elector", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (format == config::log_format::json) {
        logger->set_formatter(std::make_unique<json_formatter>());
    } else {
        logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v",
                                                                          spdlog::pattern_time_type::utc));
    }
    logger->set_level(to_spdlog(level));
    logger->flush_on(spdlog::level::trace);  // operators are read live: no buffered lines lost at a crash
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace elector::log
