// Once a second, on the control thread: sums every worker's recorders per route and
// version, turns the cumulative totals into one-second buckets of the sliding windows
// (core/analysis/window), and brings the Prometheus metrics up to date. It also holds the
// latest backend CPU/memory readings and renders the /status view.
#pragma once

#include "core/admin/dispatch.hpp"
#include "core/admin/series.hpp"
#include "core/admin/status_view.hpp"
#include "core/analysis/window.hpp"
#include "core/config/config.hpp"
#include "io/control/snapshot.hpp"
#include "io/signals/metrics.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace canaryd::io {

struct BackendReading {
    bool configured = false;
    std::optional<double> cpu_cores;     // nullopt until two samples exist, or while failing
    std::optional<double> memory_bytes;
    std::string error;                   // why the last sample failed; empty when it worked
};

class SignalsAggregator {
public:
    explicit SignalsAggregator(Metrics& metrics) : metrics_(metrics) {}

    // Creates the state of every route and version of `snapshot` that is new (a new route or
    // release), with the recorders' current totals as its baseline. Call before the
    // snapshot is published, so that every request served on it is counted from the start.
    void prepare(const Snapshot& snapshot);
    // `now_second`: monotonic seconds. Reads the routes of `snapshot`.
    void tick(std::int64_t now_second, const Snapshot& snapshot);
    // The latest backend sample of a route's version (from the sampler thread, via post()).
    void set_backend(const std::string& route, config::Role role, const std::string& source, BackendReading reading);

    // The second the last tick added for a route's version (empty when unknown).
    analysis::SecondStats last_second(const std::string& route, config::Role role) const;
    // The window of a route's version as of the last tick (empty when unknown).
    analysis::WindowStats window(const std::string& route, config::Role role) const;
    std::optional<BackendReading> backend(const std::string& route, config::Role role) const;
    std::int64_t last_tick() const { return last_tick_; }

    admin::StatusView status(const Snapshot& snapshot) const;
    // GET /series (the dashboard's charts): the window's per-second points of both versions.
    admin::ActionReply series(const Snapshot& snapshot, std::string_view route) const;

private:
    struct VersionState {
        explicit VersionState(unsigned window_seconds) : window(window_seconds), series(window_seconds) {}
        analysis::Window window;
        admin::Series series;
        analysis::VersionTotals last;
        bool has_last = false;
        std::string release;
        std::map<unsigned, prometheus::Counter*> requests_by_code;
        std::map<unsigned, prometheus::Counter*> requests_by_grpc_status;
        std::array<prometheus::Counter*, analysis::kErrorKinds> errors{};
        prometheus::Histogram* duration = nullptr;
        prometheus::Gauge* in_flight = nullptr;
        prometheus::Gauge* weight = nullptr;
        prometheus::Gauge* share = nullptr;
        prometheus::Gauge* cpu = nullptr;
        prometheus::Gauge* memory = nullptr;
        BackendReading backend;
        std::int64_t in_flight_now = 0;
        analysis::SecondStats last_second;
    };
    struct RouteState {
        std::optional<VersionState> versions[2];
    };

    VersionState& version_state(RouteState& route, const std::string& name, config::Role role,
                                const std::string& release, unsigned window_seconds);
    void drop_series(VersionState& state);
    static void update_gauges(VersionState& state, double weight_percent, const analysis::WindowStats& window,
                              std::uint64_t route_requests);

    Metrics& metrics_;
    std::map<std::string, RouteState, std::less<>> routes_;
    std::int64_t last_tick_ = -1;
};

}  // namespace canaryd::io
