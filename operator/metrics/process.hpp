#pragma once

#include <filesystem>
#include <vector>

#include "metrics/registry.hpp"

namespace elector::metrics {

// The standard process metrics, read from procfs at each scrape:
//   process_cpu_seconds_total          utime + stime        /proc/self/stat
//   process_resident_memory_bytes      rss pages × page size /proc/self/stat
//   process_virtual_memory_bytes       vsize                /proc/self/stat
//   process_start_time_seconds         btime + starttime    /proc/stat, /proc/self/stat
//   process_open_fds                   entries              /proc/self/fd
//   process_max_fds                    "Max open files" soft /proc/self/limits
// Never throws: a file that is missing or unreadable leaves its samples out.
void add_process_metrics(registry& reg);

// The same samples for another procfs root (tests point it at a fake tree:
// <proc_root>/self/stat, <proc_root>/stat, ...).
[[nodiscard]] std::vector<collected_family> collect_process_metrics(const std::filesystem::path& proc_root) noexcept;

}  // namespace elector::metrics
