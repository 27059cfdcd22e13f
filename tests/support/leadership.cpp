#include "leadership.hpp"

#include <time.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace elector::testing {

namespace {

std::optional<std::string> field(const std::string& line, const std::string& key) {
    const std::string needle = " " + key + "=";
    auto at = (" " + line).find(needle);
    if (at == std::string::npos) return std::nullopt;
    auto start = at + needle.size() - 1;  // the line was prefixed with one space
    auto end = line.find(' ', start);
    return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

double monotonic_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::vector<leadership_event> read_leadership_events(const std::string& log_path) {
    std::vector<leadership_event> out;
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);) {
        auto event = field(line, "event");
        if (!event || (*event != "started-leading" && *event != "stopped-leading")) continue;
        auto id = field(line, "id");
        auto mono = field(line, "mono");
        if (!id || !mono) continue;
        // A peer that never led also logs stopped-leading (client-go calls it
        // always): it says was_leader=false and is not a leading interval.
        if (field(line, "was_leader") == std::optional<std::string>("false")) continue;
        out.push_back({*event == "started-leading", *id, std::stod(*mono)});
    }
    return out;
}

std::vector<leading_interval> leading_intervals(const std::vector<leadership_event>& events,
                                                const std::map<std::string, double>& killed_at) {
    std::vector<leading_interval> out;
    std::vector<leading_interval> open;
    for (const auto& e : events) {
        if (e.started) {
            open.push_back({e.id, e.mono, -1});
            continue;
        }
        for (auto it = open.begin(); it != open.end(); ++it) {
            if (it->id == e.id) {
                it->to = e.mono;
                out.push_back(*it);
                open.erase(it);
                break;
            }
        }
    }
    for (auto& o : open) {
        auto killed = killed_at.find(o.id);
        o.to = killed != killed_at.end() ? killed->second : monotonic_now();
        out.push_back(o);
    }
    return out;
}

std::vector<std::string> overlaps(const std::vector<leading_interval>& intervals) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < intervals.size(); ++i) {
        for (std::size_t j = i + 1; j < intervals.size(); ++j) {
            const auto& a = intervals[i];
            const auto& b = intervals[j];
            if (a.id == b.id) continue;
            if (a.from < b.to && b.from < a.to) {
                out.push_back(fmt::format("{} led [{:.3f}, {:.3f}] and {} led [{:.3f}, {:.3f}]", a.id, a.from, a.to,
                                          b.id, b.from, b.to));
            }
        }
    }
    return out;
}

}  // namespace elector::testing
