#include "io/upstream/backend_probe.hpp"

#include "core/config/units.hpp"
#include "core/signals/proc_parsers.hpp"
#include "core/signals/prometheus_text.hpp"
#include "io/control/http_client.hpp"
#include "io/control/read_file.hpp"

#include <unistd.h>

namespace canaryd::io {

namespace {

ProbeReading failed(std::string message) {
    ProbeReading r;
    r.error = std::move(message);
    return r;
}

}  // namespace

ProbeReading probe_pid(int pid) {
    const std::string base = "/proc/" + std::to_string(pid);
    const auto stat = read_file(base + "/stat");
    const auto status = read_file(base + "/status");
    if (!stat.ok() || !status.ok()) return failed("process " + std::to_string(pid) + " is not running");
    auto ticks = signals::proc_stat_cpu_ticks(*stat);
    auto rss = signals::proc_status_rss_bytes(*status);
    if (!ticks || !rss) return failed("cannot parse " + base + "/stat or /status");
    static const long ticks_per_second = sysconf(_SC_CLK_TCK);
    ProbeReading r;
    r.cpu_seconds = static_cast<double>(*ticks) / static_cast<double>(ticks_per_second);
    r.memory_bytes = static_cast<double>(*rss);
    return r;
}

ProbeReading probe_pid_file(const std::string& path) {
    const auto text = read_file(path);
    if (!text.ok()) return failed("pid file: " + text.message());
    auto pid = signals::parse_pid_file(*text);
    if (!pid) return failed("pid file " + path + " does not hold a pid");
    return probe_pid(*pid);
}

ProbeReading probe_cgroup(const std::string& directory) {
    const auto cpu = read_file(directory + "/cpu.stat");
    const auto memory = read_file(directory + "/memory.current");
    if (!cpu.ok() || !memory.ok()) return failed(!cpu.ok() ? cpu.message() : memory.message());
    auto usec = signals::cgroup_cpu_usage_usec(*cpu);
    auto bytes = signals::cgroup_memory_current(*memory);
    if (!usec || !bytes) return failed("cannot parse cpu.stat or memory.current in " + directory);
    ProbeReading r;
    r.cpu_seconds = static_cast<double>(*usec) / 1e6;
    r.memory_bytes = static_cast<double>(*bytes);
    return r;
}

ProbeReading probe_scrape(const std::string& host, std::uint16_t port, const std::string& target,
                          std::chrono::milliseconds timeout) {
    const std::string where = "http://" + host + ":" + std::to_string(port) + target;
    HttpCall call;
    call.host = host;
    call.port = port;
    call.target = target;
    call.accept = "text/plain; version=0.0.4";
    call.timeout = timeout;
    auto reply = http_call(call);
    if (!reply) return failed("scrape " + reply.message());
    if (reply->status != 200) return failed("scrape " + where + ": status " + std::to_string(reply->status));
    const auto& response = *reply;
    auto parsed = signals::parse_prometheus_text(response.body);
    if (!parsed.ok()) return failed("scrape " + where + ": " + parsed.message());
    auto cpu = signals::sum_of(*parsed, "process_cpu_seconds_total");
    auto memory = signals::sum_of(*parsed, "process_resident_memory_bytes");
    if (!cpu || !memory)
        return failed("scrape " + where + ": no process_cpu_seconds_total or process_resident_memory_bytes");
    ProbeReading r;
    r.cpu_seconds = *cpu;
    r.memory_bytes = *memory;
    return r;
}

ProbeReading probe_version(const config::Version& version, std::chrono::milliseconds timeout) {
    using Source = config::BackendSignals::Source;
    const auto& signals = version.signals;
    std::vector<ProbeReading> readings;
    switch (signals.source) {
        case Source::none: return failed("no signal source configured");
        case Source::pid_file:
            for (const auto& path : signals.paths) readings.push_back(probe_pid_file(path));
            break;
        case Source::cgroup:
            for (const auto& path : signals.paths) readings.push_back(probe_cgroup(path));
            break;
        case Source::scrape: {
            auto url = config::parse_http_url(signals.scrape_url);
            if (!url) return failed(url.message());
            readings.push_back(probe_scrape(url->host, url->port, url->target, timeout));
            break;
        }
        case Source::scrape_path:
            for (const auto& endpoint : version.endpoints)
                readings.push_back(probe_scrape(endpoint.host, endpoint.port, signals.scrape_path, timeout));
            break;
    }
    ProbeReading total;
    for (const auto& r : readings) {
        if (!r.ok()) return r;
        total.cpu_seconds += r.cpu_seconds;
        total.memory_bytes += r.memory_bytes;
    }
    return total;
}

}  // namespace canaryd::io
