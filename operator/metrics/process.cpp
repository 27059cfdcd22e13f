#include "metrics/process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <charconv>
#include <cmath>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "util/read_file.hpp"

namespace elector::metrics {

namespace {

std::optional<std::string> read_file(const std::filesystem::path& path) {
    auto text = util::read_whole_file(path.string());
    return text ? std::optional<std::string>(std::move(*text)) : std::nullopt;
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// The fields of /proc/<pid>/stat after "pid (comm)": the comm may hold
// spaces and parentheses, so the split starts after the last ')'. The
// returned vector's index 0 is field 3 (state).
std::vector<std::string_view> stat_fields(std::string_view stat) {
    std::vector<std::string_view> fields;
    const std::size_t close = stat.rfind(')');
    if (close == std::string_view::npos) return fields;
    stat.remove_prefix(close + 1);
    while (!stat.empty()) {
        const std::size_t start = stat.find_first_not_of(" \n");
        if (start == std::string_view::npos) break;
        stat.remove_prefix(start);
        const std::size_t end = stat.find_first_of(" \n");
        fields.push_back(stat.substr(0, end));
        stat.remove_prefix(end == std::string_view::npos ? stat.size() : end);
    }
    return fields;
}

// stat(5) field numbers, 1-based as in the manual.
std::optional<unsigned long long> stat_field(const std::vector<std::string_view>& fields, std::size_t number) {
    if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
    return parse_number<unsigned long long>(fields[number - 3]);
}

std::optional<double> boot_time(const std::filesystem::path& proc_root) {
    const auto text = read_file(proc_root / "stat");
    if (!text) return std::nullopt;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("btime ")) {
            if (auto v = parse_number<unsigned long long>(std::string_view(line).substr(6))) {
                return static_cast<double>(*v);
            }
        }
    }
    return std::nullopt;
}

std::optional<double> max_open_files(const std::filesystem::path& proc_root) {
    const auto text = read_file(proc_root / "self" / "limits");
    if (!text) return std::nullopt;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
        constexpr std::string_view key = "Max open files";
        if (!line.starts_with(key)) continue;
        std::istringstream words(line.substr(key.size()));
        std::string soft;
        words >> soft;
        if (soft == "unlimited") return HUGE_VAL;
        if (auto v = parse_number<unsigned long long>(soft)) return static_cast<double>(*v);
        return std::nullopt;
    }
    return std::nullopt;
}

std::optional<double> open_fds(const std::filesystem::path& proc_root) {
    std::error_code ec;
    std::filesystem::directory_iterator it(proc_root / "self" / "fd", ec);
    if (ec) return std::nullopt;
    double n = 0;
    for (const std::filesystem::directory_iterator end; it != end; it.increment(ec)) {
        if (ec) return std::nullopt;
        ++n;
    }
    return ec ? std::nullopt : std::optional<double>(n);
}

void add(std::vector<collected_family>& out, const char* name, const char* help, metric_type type,
         std::optional<double> value) {
    if (!value) return;
    out.push_back({.name = name, .help = help, .type = type, .label_names = {}, .samples = {{.label_values = {}, .value = *value}}});
}

}  // namespace

std::vector<collected_family> collect_process_metrics(const std::filesystem::path& proc_root) noexcept {
    std::vector<collected_family> out;
    try {
        const long ticks = sysconf(_SC_CLK_TCK);
        const long page = sysconf(_SC_PAGESIZE);
        std::optional<double> cpu, rss, vsize, start;
        if (const auto stat = read_file(proc_root / "self" / "stat")) {
            const auto fields = stat_fields(*stat);
            const auto utime = stat_field(fields, 14);
            const auto stime = stat_field(fields, 15);
            const auto starttime = stat_field(fields, 22);
            const auto vsz = stat_field(fields, 23);
            const auto rss_pages = stat_field(fields, 24);
            if (utime && stime && ticks > 0) cpu = static_cast<double>(*utime + *stime) / static_cast<double>(ticks);
            if (vsz) vsize = static_cast<double>(*vsz);
            if (rss_pages && page > 0) rss = static_cast<double>(*rss_pages) * static_cast<double>(page);
            if (starttime && ticks > 0) {
                if (const auto btime = boot_time(proc_root)) {
                    start = *btime + static_cast<double>(*starttime) / static_cast<double>(ticks);
                }
            }
        }
        add(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", metric_type::counter, cpu);
        add(out, "process_max_fds", "Maximum number of open file descriptors.", metric_type::gauge,
            max_open_files(proc_root));
        add(out, "process_open_fds", "Number of open file descriptors.", metric_type::gauge, open_fds(proc_root));
        add(out, "process_resident_memory_bytes", "Resident memory size in bytes.", metric_type::gauge, rss);
        add(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            metric_type::gauge, start);
        add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", metric_type::gauge, vsize);
    } catch (...) {
        // Out of memory while reading procfs: leave out what is missing.
    }
    return out;
}

void add_process_metrics(registry& reg) {
    reg.add_collector([](std::vector<collected_family>& out) {
        auto families = collect_process_metrics("/proc");
        out.insert(out.end(), std::make_move_iterator(families.begin()), std::make_move_iterator(families.end()));
    });
}

}  // namespace elector::metrics
