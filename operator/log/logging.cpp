#include "log/logging.hpp"

#include <algorithm>
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

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_key_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    return std::any_of(value.begin(), value.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte <= 0x20 || byte == 0x7f || c == '"' || c == '=';
    });
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A quoted value from just after its opening quote: the unescaped value and
// the position after the closing quote (the end if there is none).
std::pair<std::string, std::size_t> read_quoted(std::string_view s, std::size_t i) {
    std::string out;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '"') return {std::move(out), i + 1};
        if (c != '\\' || i + 1 >= s.size()) {
            out += c;
            ++i;
            continue;
        }
        const char e = s[i + 1];
        switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                // Only what q() writes: \u00XX for a control character.
                if (i + 5 < s.size() && s[i + 2] == '0' && s[i + 3] == '0' && hex_digit(s[i + 4]) >= 0 &&
                    hex_digit(s[i + 5]) >= 0 && hex_digit(s[i + 4]) < 8) {
                    out += static_cast<char>(hex_digit(s[i + 4]) * 16 + hex_digit(s[i + 5]));
                    i += 6;
                    continue;
                }
                out += "\\u";
                break;
            }
            default:
                out += '\\';
                out += e;
        }
        i += 2;
    }
    return {std::move(out), s.size()};
}

// Skips one word that is not a field, and any quoted text inside it.
std::size_t skip_word(std::string_view s, std::size_t i) {
    while (i < s.size() && !is_space(s[i])) {
        if (s[i] == '"') {
            i = read_quoted(s, i + 1).second;
        } else {
            ++i;
        }
    }
    return i;
}

bool reserved(std::string_view key) { return key == "time" || key == "level" || key == "msg"; }

}  // namespace

std::string q(std::string_view value) {
    if (!needs_quotes(value)) return std::string(value);
    std::string out;
    out.reserve(value.size() + 2);
    out += '"';
    for (const char c : value) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (const auto byte = static_cast<unsigned char>(c); byte < 0x20 || byte == 0x7f) {
                    out += fmt::format("\\u{:04x}", byte);
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

std::vector<field> parse_fields(std::string_view line) {
    std::vector<field> out;
    std::size_t i = 0;
    while (i < line.size()) {
        if (is_space(line[i])) {
            ++i;
            continue;
        }
        std::size_t k = i;
        if (is_key_start(line[k])) {
            while (k < line.size() && is_key_char(line[k])) ++k;
        }
        if (k == i || k >= line.size() || line[k] != '=') {
            i = skip_word(line, i);
            continue;
        }
        std::string_view key = line.substr(i, k - i);
        std::string value;
        i = k + 1;
        if (i < line.size() && line[i] == '"') {
            auto [text, end] = read_quoted(line, i + 1);
            value = std::move(text);
            i = skip_word(line, end);  // anything glued to the closing quote is not part of the value
        } else {
            const std::size_t start = i;
            while (i < line.size() && !is_space(line[i])) ++i;
            value = std::string(line.substr(start, i - start));
        }
        const bool seen = std::any_of(out.begin(), out.end(), [&](const field& f) { return f.key == key; });
        if (!seen && !reserved(key)) out.push_back({std::string(key), std::move(value)});
    }
    return out;
}

void json_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::string level(spdlog::level::to_string_view(msg.level).data(),
                            spdlog::level::to_string_view(msg.level).size());
    const std::string text(msg.payload.data(), msg.payload.size());
    const auto json_string = [](std::string_view s) {
        return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    auto out = std::back_inserter(dest);
    fmt::format_to(out, R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.{:03}Z","level":{},"msg":{})",
                   std::chrono::sys_seconds(seconds), millis, json_string(level), json_string(text));
    for (const auto& f : parse_fields(text)) fmt::format_to(out, ",{}:{}", json_string(f.key), json_string(f.value));
    fmt::format_to(out, "}}\n");
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
