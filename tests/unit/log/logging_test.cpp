#include "log/logging.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

namespace elector::log {
namespace {

std::string format_json(std::string_view text, spdlog::level::level_enum level = spdlog::level::info) {
    spdlog::details::log_msg msg("elector", level, spdlog::string_view_t(text.data(), text.size()));
    msg.time = spdlog::log_clock::time_point(std::chrono::milliseconds(1795218910491));
    spdlog::memory_buf_t buf;
    json_formatter().format(msg, buf);
    return std::string(buf.data(), buf.size());
}

TEST(json_formatter, writes_one_json_object_per_line) {
    auto line = format_json("leader changed");
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["msg"], "leader changed");
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["time"], "2026-11-20T23:55:10.491Z");  // date -u -d @1795218910
}

TEST(json_formatter, escapes_quotes_newlines_and_invalid_utf8) {
    auto line = format_json("a \"quoted\"\nsecond line\t\x01 \xff\xfe end", spdlog::level::warn);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "a newline in the message split the line";
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["level"], "warning");
    const std::string msg = j["msg"];
    EXPECT_NE(msg.find("a \"quoted\"\nsecond line"), std::string::npos);
    EXPECT_NE(msg.find("end"), std::string::npos);
}

}  // namespace
}  // namespace elector::log
