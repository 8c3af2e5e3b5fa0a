// Fleet mode's signal source (SPEC §9), the Prometheus side: once a second, on a thread of
// its own, read canaryd's own series summed over every replica Prometheus scrapes, at a time
// every replica has been scraped for, and hand the reading to the control thread, which turns
// consecutive readings into analysis blocks (core/fleet/fleet_blocks).
//
// Scrape lag is measured, not guessed: `timestamp(up{selector} == 1)` is each healthy
// replica's last scrape; the reading is taken at the oldest of them (whole seconds), so no
// later scrape can still change it. No new complete second yet: no reading. A failed, empty
// or lagging read is delivered as such (the fleet analysis holds and says why).
#pragma once

#include "core/config/config.hpp"
#include "core/fleet/counter_increments.hpp"
#include "io/fleet/prometheus_client.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace canaryd::io {

struct FleetReading {
    bool ok = false;
    // A replica that does not decide reads only who Prometheus scrapes (for GET /fleet).
    bool targets_only = false;
    std::string error_kind;  // prometheus (unreachable, refused query), prometheus_empty, prometheus_lagging
    std::string error;
    double at = 0;           // Unix seconds the series were read at
    int replicas = 0;        // healthy targets
    std::vector<fleet::Series> targets;   // up{selector}: every target, 1 or 0
    std::vector<fleet::Series> requests;  // canaryd_requests_total
    std::vector<fleet::Series> buckets;   // canaryd_request_duration_seconds_bucket
    std::vector<fleet::Series> cpu;       // canaryd_backend_cpu_cores
    std::vector<fleet::Series> memory;    // canaryd_backend_memory_bytes
};

class FleetSignals {
public:
    explicit FleetSignals(const config::FleetPrometheus& prometheus);
    ~FleetSignals();
    FleetSignals(const FleetSignals&) = delete;
    FleetSignals& operator=(const FleetSignals&) = delete;

    void start(std::function<void(FleetReading)> deliver);
    void stop();
    // Only the replica whose analysis decides reads (the others would load Prometheus for
    // nothing); set from the control thread.
    void set_active(bool active) { active_.store(active, std::memory_order_relaxed); }

    // One read, now (the thread's body; public for tests).
    std::optional<FleetReading> read_once(double now_unix);
    FleetReading read_targets(double now_unix);

private:
    void run();
    std::string selected(const std::string& metric) const;

    config::FleetPrometheus config_;
    PrometheusClient client_;
    std::function<void(FleetReading)> deliver_;
    std::atomic<bool> active_{true};
    double last_at_ = 0;
    double last_progress_ = 0;  // when a new complete second was last seen
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

}  // namespace canaryd::io
