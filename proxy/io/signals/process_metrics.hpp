// canaryd's own process metrics (SPEC §5, the names every Prometheus client library uses):
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds. prometheus-cpp has no
// process collector, so these are read from /proc/self when /metrics is scraped — always
// current, and nothing to update in between. A value that cannot be read is left out.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace canaryd::io {

std::vector<prometheus::MetricFamily> process_metric_families();

}  // namespace canaryd::io
