#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace elector::kube {

using time_point = std::chrono::system_clock::time_point;

// RFC 3339 as the API server writes metav1.Time ("2026-11-20T23:47:27Z") and
// metav1.MicroTime ("2026-11-20T23:47:27.123456Z"). Also accepts 1 to 9
// fraction digits and numeric offsets ("+01:00", converted to UTC). Anything
// else, including times the clock cannot represent, is nullopt.
std::optional<time_point> parse_time(std::string_view s);

// metav1.Time: "YYYY-MM-DDTHH:MM:SSZ", truncated to the second, UTC.
std::string format_time(time_point t);
// metav1.MicroTime: "YYYY-MM-DDTHH:MM:SS.ffffffZ", truncated to the microsecond, UTC.
std::string format_micro_time(time_point t);

}  // namespace elector::kube
