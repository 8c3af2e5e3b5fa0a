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

}  // namespace

std::optional<std::uint64_t> proc_stat_cpu_ticks(std::string_view stat) {
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = stat.substr(close + 1);
    // Fields after the command: state(3) ppid(4) ... utime(14) stime(15).
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    int field = 2;
    while (!rest.empty()) {
        rest = trim(rest);
        const auto space = rest.find(' ');
        const auto token = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
        ++field;
        if (field == 14) {
            auto v = number<std::uint64_t>(token);
            if (!v) return std::nullopt;
            utime = *v;
        } else if (field == 15) {
            auto v = number<std::uint64_t>(token);
            if (!v) return std::nullopt;
            stime = *v;
            return utime + stime;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> proc_status_rss_bytes(std::string_view status) {
    auto value = value_of(status, "VmRSS");
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
