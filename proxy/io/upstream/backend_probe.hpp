// One reading of a backend's CPU (cumulative seconds) and resident memory, from /proc, a
// cgroup v2 directory or a Prometheus text endpoint (SPEC §5). Blocking: called only on the
// sampler thread, never on an I/O thread.
#pragma once

#include "core/config/config.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::io {

struct ProbeReading {
    double cpu_seconds = 0;    // cumulative
    double memory_bytes = 0;
    std::string error;         // set when the reading failed
    bool ok() const { return error.empty(); }
};

ProbeReading probe_pid(int pid);
ProbeReading probe_pid_file(const std::string& path);
ProbeReading probe_cgroup(const std::string& directory);
ProbeReading probe_scrape(const std::string& host, std::uint16_t port, const std::string& target,
                          std::chrono::milliseconds timeout);

// Sums the probes of one version's sources (its pid files, cgroups or endpoints). Any
// failure fails the whole reading: a partial sum would look like a drop.
ProbeReading probe_version(const config::Version& version, std::chrono::milliseconds timeout);

}  // namespace canaryd::io
