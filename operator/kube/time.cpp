#include "kube/time.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace elector::kube {

namespace {

constexpr std::int64_t seconds_per_day = 86400;
constexpr std::int64_t days_per_400_years = 146097;
constexpr std::int64_t days_per_100_years = 36524;
constexpr std::int64_t days_per_4_years = 1461;

// Days before each month in a common year.
constexpr std::array<int, 12> days_before_month = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

constexpr bool is_leap(std::int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int days_in_month(std::int64_t year, int month) {
    constexpr std::array<int, 12> lengths = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : lengths[static_cast<std::size_t>(month - 1)];
}

// The proleptic Gregorian calendar repeats every 400 years, so counting from
// 400 years before year 1 keeps every supported year (0000 and up) positive.
constexpr std::int64_t calendar_shift = 400;

// Days from the shifted origin to January 1st of `year`.
constexpr std::int64_t days_before_year(std::int64_t year) {
    const std::int64_t completed = year + calendar_shift - 1;
    return completed * 365 + completed / 4 - completed / 100 + completed / 400;
}

constexpr std::int64_t days_from_civil(std::int64_t year, int month, int day) {
    const int leap_day = month > 2 && is_leap(year) ? 1 : 0;
    return days_before_year(year) + days_before_month[static_cast<std::size_t>(month - 1)] + leap_day + day - 1 -
           days_before_year(1970);
}

struct civil_date {
    std::int64_t year;
    int month;
    int day;
};

constexpr civil_date civil_from_days(std::int64_t days_since_epoch) {
    std::int64_t n = days_since_epoch + days_before_year(1970);
    const std::int64_t cycles_400 = n / days_per_400_years;
    n %= days_per_400_years;
    // The last day of a 400-year (or 4-year) cycle belongs to its leap year,
    // hence the clamps to 3.
    const std::int64_t cycles_100 = std::min<std::int64_t>(n / days_per_100_years, 3);
    n -= cycles_100 * days_per_100_years;
    const std::int64_t cycles_4 = n / days_per_4_years;
    n %= days_per_4_years;
    const std::int64_t years = std::min<std::int64_t>(n / 365, 3);
    n -= years * 365;

    const std::int64_t year = cycles_400 * 400 + cycles_100 * 100 + cycles_4 * 4 + years + 1 - calendar_shift;
    int month = 12;
    while (month > 1) {
        const int leap_day = month > 2 && is_leap(year) ? 1 : 0;
        if (n >= days_before_month[static_cast<std::size_t>(month - 1)] + leap_day) {
            n -= days_before_month[static_cast<std::size_t>(month - 1)] + leap_day;
            break;
        }
        --month;
    }
    return {year, month, static_cast<int>(n) + 1};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `pos`.
std::optional<int> read_digits(std::string_view s, std::size_t pos, std::size_t count) {
    if (pos + count > s.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (!is_digit(s[i])) return std::nullopt;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

bool expect_char(std::string_view s, std::size_t pos, char c) {
    return pos < s.size() && s[pos] == c;
}

struct parsed_fraction {
    std::int64_t nanoseconds = 0;
    std::size_t end = 0;
};

// ".d{1,9}" at `pos`, or nothing.
std::optional<parsed_fraction> read_fraction(std::string_view s, std::size_t pos) {
    if (!expect_char(s, pos, '.')) return parsed_fraction{0, pos};
    std::size_t end = pos + 1;
    std::int64_t value = 0;
    while (end < s.size() && is_digit(s[end])) {
        if (end - pos > 9) return std::nullopt;
        value = value * 10 + (s[end] - '0');
        ++end;
    }
    const std::size_t digits = end - pos - 1;
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 9; ++i) value *= 10;
    return parsed_fraction{value, end};
}

// "Z" or "+HH:MM" / "-HH:MM" filling the rest of the string, as seconds east of UTC.
std::optional<std::int64_t> read_offset(std::string_view s, std::size_t pos) {
    if (pos >= s.size()) return std::nullopt;
    if (s[pos] == 'Z') return pos + 1 == s.size() ? std::optional<std::int64_t>(0) : std::nullopt;
    if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
    if (s.size() != pos + 6 || !expect_char(s, pos + 3, ':')) return std::nullopt;
    auto hours = read_digits(s, pos + 1, 2);
    auto minutes = read_digits(s, pos + 4, 2);
    if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
    const std::int64_t offset = *hours * 3600 + *minutes * 60;
    return s[pos] == '-' ? -offset : offset;
}

std::string format_date_time(std::chrono::sys_seconds t) {
    const std::int64_t secs = t.time_since_epoch().count();
    std::int64_t days = secs / seconds_per_day;
    std::int64_t rest = secs % seconds_per_day;
    if (rest < 0) {
        rest += seconds_per_day;
        --days;
    }
    const civil_date date = civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", date.year, date.month, date.day, rest / 3600,
                       rest / 60 % 60, rest % 60);
}

}  // namespace

std::optional<time_point> parse_time(std::string_view s) {
    auto year = read_digits(s, 0, 4);
    auto month = read_digits(s, 5, 2);
    auto day = read_digits(s, 8, 2);
    auto hour = read_digits(s, 11, 2);
    auto minute = read_digits(s, 14, 2);
    auto second = read_digits(s, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
    if (!expect_char(s, 4, '-') || !expect_char(s, 7, '-') || !expect_char(s, 10, 'T') || !expect_char(s, 13, ':') ||
        !expect_char(s, 16, ':')) {
        return std::nullopt;
    }
    if (*month < 1 || *month > 12 || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;
    // No leap seconds: Go's time.Parse rejects second 60 too.
    if (*hour > 23 || *minute > 59 || *second > 59) return std::nullopt;

    auto fraction = read_fraction(s, 19);
    if (!fraction) return std::nullopt;
    auto offset = read_offset(s, fraction->end);
    if (!offset) return std::nullopt;

    const std::int64_t secs =
        days_from_civil(*year, *month, *day) * seconds_per_day + *hour * 3600 + *minute * 60 + *second - *offset;
    // system_clock counts nanoseconds in 64 bits: about 1677 to 2262.
    constexpr auto limit = std::chrono::duration_cast<std::chrono::seconds>(time_point::duration::max()).count();
    if (secs >= limit || secs <= -limit) return std::nullopt;
    const auto since_epoch = std::chrono::seconds(secs) + std::chrono::nanoseconds(fraction->nanoseconds);
    return time_point(std::chrono::duration_cast<time_point::duration>(since_epoch));
}

std::string format_time(time_point t) {
    return format_date_time(std::chrono::floor<std::chrono::seconds>(t)) + 'Z';
}

std::string format_micro_time(time_point t) {
    const auto secs = std::chrono::floor<std::chrono::seconds>(t);
    const auto micros = std::chrono::floor<std::chrono::microseconds>(t - secs);
    return fmt::format("{}.{:06}Z", format_date_time(secs), micros.count());
}

}  // namespace elector::kube
