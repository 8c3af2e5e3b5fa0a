// The per-second history behind the dashboard's charts (GET /series, SPEC §10): for each
// version of a route, one point per second over the signals window. Pure: the caller says
// which second it is (the aggregator's monotonic tick), so the points are unit-tested.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::admin {

struct SeriesPoint {
    std::int64_t second = 0;  // the aggregator's monotonic second
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    double p50_ms = 0;  // 0 when the second had no requests
    double p99_ms = 0;
    std::optional<double> cpu_cores;  // the backend reading in force that second, if any
    std::optional<double> memory_bytes;
};

// The last `length` seconds of points; seconds never added are gaps, not zeros.
class Series {
public:
    explicit Series(unsigned length) : length_(length) {}

    // A point for a second not after the newest one is dropped (the tick never goes back).
    void add(const SeriesPoint& point);
    // The points in (now - length, now], oldest first.
    std::vector<SeriesPoint> points(std::int64_t now) const;
    unsigned length() const { return length_; }

private:
    unsigned length_;
    std::deque<SeriesPoint> points_;
};

struct VersionSeries {
    std::string release;
    std::vector<SeriesPoint> points;
};

struct RouteSeries {
    std::string route;
    unsigned window_seconds = 0;
    std::int64_t now = 0;  // the second of the latest tick; points carry "age" = now - second
    VersionSeries stable;
    std::optional<VersionSeries> canary;
};

// {"route", "window_seconds", "now", "stable": {"release", "points": [{"age", "requests",
//  "failures", "success_rate", "p50_ms", "p99_ms", "cpu_cores", "memory_bytes"}]},
//  "canary": {...} | null}. success_rate is null for a second without requests (no evidence).
std::string render_series_json(const RouteSeries& series);

}  // namespace canaryd::admin
