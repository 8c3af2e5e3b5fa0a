#include "io/signals/process_metrics.hpp"

#include "core/signals/proc_parsers.hpp"
#include "io/control/read_file.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

namespace canaryd::io {

namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type, double value) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) metric.counter.value = value;
    else metric.gauge.value = value;
    return prometheus::MetricFamily{std::move(name), std::move(help), type, {metric}};
}

std::optional<double> open_fds() {
    std::error_code ec;
    std::filesystem::directory_iterator entries("/proc/self/fd", ec);
    if (ec) return std::nullopt;
    double count = 0;
    for (const auto& entry : entries) {
        (void)entry;
        ++count;
    }
    return count;
}

}  // namespace

std::vector<prometheus::MetricFamily> process_metric_families() {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const auto stat = read_file("/proc/self/stat");
    if (stat && ticks_per_second > 0) {
        if (auto ticks = signals::proc_stat_cpu_ticks(*stat))
            out.push_back(family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                 MetricType::Counter, static_cast<double>(*ticks) / ticks_per_second));
        const auto boot = read_file("/proc/stat");
        const auto boot_time = boot ? signals::proc_boot_time_seconds(*boot) : std::nullopt;
        if (auto start = signals::proc_stat_start_ticks(*stat); start && boot_time)
            out.push_back(family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                                 MetricType::Gauge,
                                 static_cast<double>(*boot_time) + static_cast<double>(*start) / ticks_per_second));
    }
    if (const auto status = read_file("/proc/self/status")) {
        if (auto rss = signals::proc_status_rss_bytes(*status))
            out.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                                 static_cast<double>(*rss)));
        if (auto vm = signals::proc_status_bytes(*status, "VmSize"))
            out.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
                                 static_cast<double>(*vm)));
    }
    if (auto fds = open_fds())
        out.push_back(family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        out.push_back(family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                             static_cast<double>(limit.rlim_cur)));
    return out;
}

}  // namespace canaryd::io
