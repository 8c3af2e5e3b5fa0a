#include "core/signals/proc_parsers.hpp"

#include "core/text/trim.hpp"

#include <charconv>

namespace canaryd::signals {
namespace {

constexpr auto trim = text::trim_space;

template <class T>
std::optional<T> number(std::string_view s) {
    T value{};
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return value;
}

// The value of a "key value" line in a flat key-value file.
std::optional<std::string_view> value_of(std::string_view text, std::string_view key) {
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (line.starts_with(key) && line.size() > key.size() &&
            (line[key.size()] == ' ' || line[key.size()] == '\t' || line[key.size()] == ':'))
            return trim(line.substr(key.size() + (line[key.size()] == ':' ? 1 : 0)));
    }
    return std::nullopt;
}

// Field `wanted` (1-based, as proc(5) numbers them) of /proc/PID/stat, as a number. The
// command name in field 2 may contain spaces and parentheses, so fields are counted after
// the last ')'.
std::optional<std::uint64_t> stat_field(std::string_view stat, int wanted) {
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = stat.substr(close + 1);
    int field = 2;
    while (!rest.empty()) {
        rest = trim(rest);
        if (rest.empty()) break;
        const auto space = rest.find(' ');
        const auto token = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
        if (++field == wanted) return number<std::uint64_t>(token);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> proc_stat_cpu_ticks(std::string_view stat) {
    const auto utime = stat_field(stat, 14);
    const auto stime = stat_field(stat, 15);
    if (!utime || !stime) return std::nullopt;
    return *utime + *stime;
}

std::optional<std::uint64_t> proc_stat_start_ticks(std::string_view stat) { return stat_field(stat, 22); }

std::optional<std::uint64_t> proc_boot_time_seconds(std::string_view proc_stat) {
    auto value = value_of(proc_stat, "btime");
    if (!value) return std::nullopt;
    return number<std::uint64_t>(*value);
}

std::optional<std::uint64_t> proc_status_rss_bytes(std::string_view status) { return proc_status_bytes(status, "VmRSS"); }

std::optional<std::uint64_t> proc_status_bytes(std::string_view status, std::string_view key) {
    auto value = value_of(status, key);
    if (!value) return std::nullopt;
    std::string_view v = *value;
    if (!v.ends_with("kB")) return std::nullopt;
    v = trim(v.substr(0, v.size() - 2));
    auto kib = number<std::uint64_t>(v);
    if (!kib) return std::nullopt;
    return *kib * 1024;
}

std::optional<std::uint64_t> cgroup_cpu_usage_usec(std::string_view cpu_stat) {
    auto value = value_of(cpu_stat, "usage_usec");
    if (!value) return std::nullopt;
    return number<std::uint64_t>(*value);
}

std::optional<std::uint64_t> cgroup_memory_current(std::string_view memory_current) {
    return number<std::uint64_t>(trim(memory_current));
}

std::optional<int> parse_pid_file(std::string_view text) {
    auto pid = number<int>(trim(text));
    if (!pid || *pid <= 0) return std::nullopt;
    return pid;
}

}  // namespace canaryd::signals
