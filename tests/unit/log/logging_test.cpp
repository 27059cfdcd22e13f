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

// --- logfmt values and fields ------------------------------------------------

std::vector<field> F(std::initializer_list<std::pair<const char*, const char*>> pairs) {
    std::vector<field> out;
    for (const auto& [k, v] : pairs) out.push_back({k, v});
    return out;
}

TEST(q, leaves_plain_values_alone_and_quotes_the_rest) {
    EXPECT_EQ(q("ns/web"), "ns/web");
    EXPECT_EQ(q("web-0"), "web-0");
    EXPECT_EQ(q("127.0.0.1:8080"), "127.0.0.1:8080");
    EXPECT_EQ(q("a→b"), "a→b");  // UTF-8 needs no quotes
    EXPECT_EQ(q(R"(C:\dir)"), R"(C:\dir)");  // a backslash alone does not either
    EXPECT_EQ(q(""), R"("")");
    EXPECT_EQ(q("two words"), R"("two words")");
    EXPECT_EQ(q("a=b"), R"("a=b")");
    EXPECT_EQ(q(R"(say "hi")"), R"("say \"hi\"")");
    EXPECT_EQ(q("tab\there"), R"("tab\there")");
    EXPECT_EQ(q(R"(a "b\c")"), R"("a \"b\\c\"")");
    EXPECT_EQ(q("line\nbreak\r"), R"("line\nbreak\r")");
    EXPECT_EQ(q(std::string("nul\0bell\x07" "esc\x1b" "del\x7f", 17)), R"("nul\u0000bell\u0007esc\u001bdel\u007f")");
}

TEST(q, is_always_one_line_and_round_trips_through_parse_fields) {
    const std::string values[] = {"",
                                  "plain",
                                  "two words",
                                  "a=b",
                                  R"("quoted")",
                                  R"(\)",
                                  R"(\")",
                                  "\\\\n",
                                  "new\nline",
                                  "ends with \\",
                                  "\t\r\n",
                                  "κόσμε → ☃",
                                  "=",
                                  R"(" unbalanced)",
                                  std::string("\0\x01\x1f", 3),
                                  "\xff\xfe invalid UTF-8",
                                  "x\\u0041"};
    for (const auto& v : values) {
        const std::string line = "message key=" + q(v) + " next=1";
        EXPECT_EQ(line.find('\n'), std::string::npos) << line;
        EXPECT_EQ(parse_fields(line), (std::vector<field>{{"key", v}, {"next", "1"}})) << line;
    }
}

TEST(parse_fields, table) {
    struct row {
        std::string line;
        std::vector<field> want;
    };
    const row rows[] = {
        {"", {}},
        {"just a message", {}},
        {"cannot write status group=ns/web error=\"Conflict (409): the object has been modified\"",
         F({{"group", "ns/web"}, {"error", "Conflict (409): the object has been modified"}})},
        {"election: event=leader-changed group=ns/g from=- to=web-1 term=4 reason=LeaderDeleted mono=81.500000000 "
         "message=\"web-0 → web-1 (term 4): the leader pod was deleted\"",
         F({{"event", "leader-changed"}, {"group", "ns/g"}, {"from", "-"}, {"to", "web-1"}, {"term", "4"},
            {"reason", "LeaderDeleted"}, {"mono", "81.500000000"},
            {"message", "web-0 → web-1 (term 4): the leader pod was deleted"}})},
        // The port of "serving the NAME on HOST:PORT" is message, not a field.
        {"serving the health probes on 127.0.0.1:8081 server=\"health probes\" address=127.0.0.1:8081",
         F({{"server", "health probes"}, {"address", "127.0.0.1:8081"}})},
        {"empty=\"\" bare= last", F({{"empty", ""}, {"bare", ""}})},
        {"first wins a=1 a=2 b=3 a=4", F({{"a", "1"}, {"b", "3"}})},
        {"reserved time=x level=y msg=z ok=1", F({{"ok", "1"}})},
        {"keys with.dots-and_under=1 9lives=no _x=2", F({{"with.dots-and_under", "1"}, {"_x", "2"}})},
        {"not keys: a/b=1 x:y=2 ü=3 https://h/?a=b", {}},
        {"=start =x == a=1", F({{"a", "1"}})},
        {"quoted text is skipped \"a=1 b=2\" c=3", F({{"c", "3"}})},
        {"holder \"x y\", owned by z=1", F({{"z", "1"}})},
        {"unbalanced error=\"no end a=1", F({{"error", "no end a=1"}})},
        {"unbalanced in message \"a=1 b=2", {}},
        {"glued a=\"x\"tail b=2", F({{"a", "x"}, {"b", "2"}})},
        {"escapes a=\"q\\\"b\\\\s\\nn\\tt\\rr\\u0041\\u0001\\x\" b=1",
         F({{"a", "q\"b\\s\nn\tt\rrA\x01\\x"}, {"b", "1"}})},
        {"trailing backslash a=\"x\\", F({{"a", "x\\"}})},
        {"tabs\ta=1\tb=2", F({{"a", "1"}, {"b", "2"}})},
        {"bare value keeps quotes a=x\"y b=2", F({{"a", "x\"y"}, {"b", "2"}})},
    };
    for (const auto& r : rows) EXPECT_EQ(parse_fields(r.line), r.want) << r.line;
}

TEST(json_formatter, lifts_fields_to_top_level_strings) {
    auto j = nlohmann::json::parse(format_json(
        "election: event=leader-changed group=ns/g from=web-0 to=web-1 term=4 reason=LeaderDeleted mono=81.5 "
        "message=\"web-0 → web-1 (term 4): the \\\"leader\\\" was deleted\""));
    EXPECT_EQ(j["msg"], "election: event=leader-changed group=ns/g from=web-0 to=web-1 term=4 reason=LeaderDeleted "
                        "mono=81.5 message=\"web-0 → web-1 (term 4): the \\\"leader\\\" was deleted\"");
    EXPECT_EQ(j["event"], "leader-changed");
    EXPECT_EQ(j["group"], "ns/g");
    EXPECT_EQ(j["from"], "web-0");
    EXPECT_EQ(j["to"], "web-1");
    EXPECT_EQ(j["term"], "4") << "fields are strings";
    EXPECT_EQ(j["reason"], "LeaderDeleted");
    EXPECT_EQ(j["mono"], "81.5");
    EXPECT_EQ(j["message"], "web-0 → web-1 (term 4): the \"leader\" was deleted");
    EXPECT_EQ(j.size(), 11u) << j.dump();
}

TEST(json_formatter, never_lets_a_field_overwrite_time_level_or_msg) {
    auto line = format_json("spoof time=1999 level=error msg=hi time=2000 group=a group=b", spdlog::level::debug);
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["time"], "2026-11-20T23:55:10.491Z");
    EXPECT_EQ(j["level"], "debug");
    EXPECT_EQ(j["msg"], "spoof time=1999 level=error msg=hi time=2000 group=a group=b");
    EXPECT_EQ(j["group"], "a");
    EXPECT_EQ(j.size(), 4u) << j.dump();
    // Keys are unique in the text itself, not only after parsing.
    EXPECT_EQ(line.find("\"time\""), line.rfind("\"time\"")) << line;
    EXPECT_EQ(line.find("\"group\""), line.rfind("\"group\"")) << line;
}

TEST(json_formatter, malformed_messages_still_give_one_valid_object) {
    const std::string inputs[] = {
        "=",
        "==",
        "=value at the start",
        "a=\"unterminated",
        "a=\"ends with a backslash\\",
        "\"",
        "a=\"\xff\xfe\" b=\xc3\x28 c=\xed\xa0\x80 d=\xf8\x88\x80\x80\x80",  // invalid UTF-8 in values
        std::string("nul\0in a=x\0y", 12),
        "a=\x01\x02 b=\"\\u0000\"",
        "k\xff=1 \xff=2 a\xc3=3",
        std::string(10000, '='),
        std::string(5000, '"'),
        "a=" + std::string(3000, '\\'),
    };
    for (const auto& in : inputs) {
        std::string line;
        EXPECT_NO_THROW(line = format_json(in)) << in;
        EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
        auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << line;
        ASSERT_TRUE(j.is_object()) << line;
        EXPECT_TRUE(j["msg"].is_string());
        for (const auto& [key, value] : j.items()) EXPECT_TRUE(value.is_string()) << key << " in " << line;
    }
    auto j = nlohmann::json::parse(format_json("a=\"\xff\xfe\" b=ok"));
    EXPECT_EQ(j["b"], "ok");
    EXPECT_EQ(j["a"], "\xEF\xBF\xBD\xEF\xBF\xBD") << "invalid bytes become U+FFFD";
    j = nlohmann::json::parse(format_json(std::string("a=x\0y b=\"\\u0000\"", 16)));
    EXPECT_EQ(j["a"].get<std::string>(), std::string("x\0y", 3));
    EXPECT_EQ(j["b"].get<std::string>(), std::string("\0", 1));
}

TEST(json_formatter, q_values_round_trip_through_a_json_line) {
    const std::string values[] = {"",          "x",     "two words", R"(a "b" \c)",
                                  "new\nline", "a=b=c", "κόσμε",     "\x1b[31mred"};
    for (const auto& v : values) {
        auto j = nlohmann::json::parse(format_json("round trip value=" + q(v)));
        EXPECT_EQ(j["value"], v);
    }
}

}  // namespace
}  // namespace elector::log
