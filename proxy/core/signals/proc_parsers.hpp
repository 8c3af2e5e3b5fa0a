// Parsers for the kernel files backend CPU and memory are read from (SPEC §5), on text
// the I/O layer read. Each returns nullopt on anything unexpected.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace canaryd::signals {

// /proc/PID/stat: utime + stime (fields 14 and 15), in clock ticks. The command name in
// field 2 may contain spaces and parentheses, so fields are counted after the last ')'.
std::optional<std::uint64_t> proc_stat_cpu_ticks(std::string_view stat);
// /proc/PID/stat: starttime (field 22), in clock ticks after boot.
std::optional<std::uint64_t> proc_stat_start_ticks(std::string_view stat);
// /proc/stat: btime, the boot time in seconds since the Unix epoch.
std::optional<std::uint64_t> proc_boot_time_seconds(std::string_view proc_stat);

// /proc/PID/status: VmRSS in bytes.
std::optional<std::uint64_t> proc_status_rss_bytes(std::string_view status);
// /proc/PID/status: any "KEY: N kB" field (VmRSS, VmSize, ...) in bytes.
std::optional<std::uint64_t> proc_status_bytes(std::string_view status, std::string_view key);

// cgroup v2 cpu.stat: usage_usec.
std::optional<std::uint64_t> cgroup_cpu_usage_usec(std::string_view cpu_stat);

// cgroup v2 memory.current: bytes.
std::optional<std::uint64_t> cgroup_memory_current(std::string_view memory_current);

// A pid file: a decimal pid, surrounding whitespace allowed.
std::optional<int> parse_pid_file(std::string_view text);

}  // namespace canaryd::signals
