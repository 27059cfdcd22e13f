#include "kube/time.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace elector::kube {
namespace {

using namespace std::chrono;

time_point utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
    return sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm) + seconds(ss);
}

TEST(time, parses_time_and_micro_time_as_the_api_server_writes_them) {
    EXPECT_EQ(parse_time("2026-11-20T23:47:27Z"), utc(2026, 11, 20, 23, 47, 27));
    EXPECT_EQ(parse_time("2026-11-20T23:47:27.123456Z"), utc(2026, 11, 20, 23, 47, 27) + microseconds(123456));
    EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), time_point{});
}

TEST(time, fractions_of_any_length_from_1_to_9_digits) {
    struct row {
        const char* text;
        nanoseconds fraction;
    };
    for (const auto& [text, fraction] : {row{"2026-01-02T03:04:05.5Z", milliseconds(500)},
                                         row{"2026-01-02T03:04:05.123Z", milliseconds(123)},
                                         row{"2026-01-02T03:04:05.000001Z", microseconds(1)},
                                         row{"2026-01-02T03:04:05.123456789Z", nanoseconds(123456789)},
                                         row{"2026-01-02T03:04:05.000000000Z", nanoseconds(0)}}) {
        EXPECT_EQ(parse_time(text), utc(2026, 1, 2, 3, 4, 5) + fraction) << text;
    }
}

TEST(time, numeric_offsets_convert_to_utc) {
    EXPECT_EQ(parse_time("2026-11-21T00:47:27+01:00"), utc(2026, 11, 20, 23, 47, 27));
    EXPECT_EQ(parse_time("2026-11-20T18:17:27-05:30"), utc(2026, 11, 20, 23, 47, 27));
    EXPECT_EQ(parse_time("2026-11-20T23:47:27+00:00"), utc(2026, 11, 20, 23, 47, 27));
    EXPECT_EQ(parse_time("2026-11-20T23:47:27-00:00"), utc(2026, 11, 20, 23, 47, 27));
    // Across a year boundary, with a fraction.
    EXPECT_EQ(parse_time("2026-12-31T23:30:00.25-01:00"), utc(2027, 1, 1, 0, 30, 0) + milliseconds(250));
    EXPECT_EQ(parse_time("2027-01-01T00:10:00+00:20"), utc(2026, 12, 31, 23, 50, 0));
}

TEST(time, leap_years_and_year_boundaries) {
    EXPECT_EQ(parse_time("2024-02-29T12:00:00Z"), utc(2024, 2, 29, 12));
    EXPECT_EQ(parse_time("2000-02-29T00:00:00Z"), utc(2000, 2, 29));
    EXPECT_EQ(parse_time("2025-02-29T00:00:00Z"), std::nullopt);
    EXPECT_EQ(parse_time("1900-02-29T00:00:00Z"), std::nullopt);  // divisible by 100, not by 400
    EXPECT_EQ(parse_time("2100-02-29T00:00:00Z"), std::nullopt);
    EXPECT_EQ(parse_time("2024-12-31T23:59:59Z"), utc(2024, 12, 31, 23, 59, 59));
    EXPECT_EQ(parse_time("2025-01-01T00:00:00Z"), utc(2024, 12, 31, 23, 59, 59) + seconds(1));
    EXPECT_EQ(parse_time("1969-12-31T23:59:59Z"), time_point{} - seconds(1));
    EXPECT_EQ(format_time(utc(2024, 2, 29, 1, 2, 3)), "2024-02-29T01:02:03Z");
    EXPECT_EQ(format_time(utc(1999, 12, 31, 23, 59, 59)), "1999-12-31T23:59:59Z");
    EXPECT_EQ(format_time(time_point{} - seconds(1)), "1969-12-31T23:59:59Z");
}

TEST(time, formats_seconds_and_micro_time_truncating) {
    const time_point t = utc(2026, 11, 20, 23, 47, 27) + nanoseconds(123456789);
    EXPECT_EQ(format_time(t), "2026-11-20T23:47:27Z");
    EXPECT_EQ(format_micro_time(t), "2026-11-20T23:47:27.123456Z");
    EXPECT_EQ(format_micro_time(utc(2026, 1, 1)), "2026-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_micro_time(utc(2026, 1, 1) + microseconds(7)), "2026-01-01T00:00:00.000007Z");
    // Before the epoch the fraction still counts forward from the second.
    EXPECT_EQ(format_micro_time(time_point{} - microseconds(1)), "1969-12-31T23:59:59.999999Z");
}

TEST(time, round_trips) {
    for (const char* text : {"2026-11-20T23:47:27Z", "2024-02-29T00:00:00Z", "2000-01-01T00:00:00Z",
                             "1970-01-01T00:00:00Z", "1969-07-20T20:17:40Z", "2199-12-31T23:59:59Z"}) {
        auto t = parse_time(text);
        ASSERT_TRUE(t.has_value()) << text;
        EXPECT_EQ(format_time(*t), text);
    }
    for (const char* text :
         {"2026-11-20T23:47:27.123456Z", "2026-11-20T23:47:27.000000Z", "1960-03-01T00:00:00.999999Z"}) {
        auto t = parse_time(text);
        ASSERT_TRUE(t.has_value()) << text;
        EXPECT_EQ(format_micro_time(*t), text);
    }
}

// Every day from 1700 to 2260 against the standard library's calendar.
TEST(time, every_day_agrees_with_std_chrono_calendar) {
    const sys_days first = year(1700) / January / 1;
    const sys_days last = year(2260) / December / 31;
    for (sys_days d = first; d <= last; d += days(1)) {
        const year_month_day ymd(d);
        const time_point t = d + hours(13) + minutes(5) + seconds(9);
        const std::string text = format_time(t);
        const std::string date = fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                                             static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
        ASSERT_EQ(text.substr(0, 10), date);
        ASSERT_EQ(parse_time(text), time_point(floor<seconds>(t))) << text;
    }
}

TEST(time, rejects_anything_else) {
    const std::vector<std::string> bad = {
        "",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-11-20 23:47:27Z",
        "2026-11-20t23:47:27Z",
        "2026-11-20T23:47:27",
        "2026-11-20T23:47:27z",
        "2026-11-20T23:47:27Zjunk",
        "2026-11-20T23:47:27Z ",
        " 2026-11-20T23:47:27Z",
        "2026-11-20T23:47:27.Z",
        "2026-11-20T23:47:27.1234567890Z",
        "2026-11-20T23:47:27.12a4Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T23:60:00Z",
        "2026-11-20T23:59:60Z",
        "2026-11-20T23:47:27+0100",
        "2026-11-20T23:47:27+01",
        "2026-11-20T23:47:27+24:00",
        "2026-11-20T23:47:27+01:60",
        "2026-11-20T23:47:27+01:00junk",
        "26-11-20T23:47:27Z",
        "2026-1-20T23:47:27Z",
        "2026/11/20T23:47:27Z",
        "-2026-11-20T23:47:27Z",
        "+2026-11-20T23:47:27Z",
        "2026-11-20T23:47Z",
        "2026-11-20",
        "9999-12-31T23:59:59Z",  // beyond what a nanosecond system_clock holds
        "0001-01-01T00:00:00Z",
        std::string("2026-11-20T23:47:27\0Z", 21),
    };
    for (const auto& text : bad) EXPECT_EQ(parse_time(text), std::nullopt) << "'" << text << "'";
}

}  // namespace
}  // namespace elector::kube
