// CPU per request net of idle CPU (SPEC §6). A version's backends burn `idle` cores with no
// traffic (runtimes, health checks, background jobs) plus `per_request` CPU-seconds for each
// request; dividing cores by the request rate charges the idle part to the requests, so a
// one-endpoint canary next to a two-endpoint stable looks twice as expensive when nothing
// differs. The model cores(t) = idle + per_request × rate(t) is fitted by least squares
// over a sliding window of readings; the slope is the marginal cost of a request. Pure.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace canaryd::analysis {

class CpuRegression {
public:
    CpuRegression() = default;
    explicit CpuRegression(std::size_t window) : window_(window) {}

    // One reading: requests per second over the interval, and cores used.
    void add(double request_rate, double cores);
    void reset() { points_.clear(); }
    std::size_t points() const { return points_.size(); }

    struct Fit {
        double per_request = 0;     // CPU-seconds per request (the slope)
        double idle = 0;            // cores at zero traffic (the intercept)
        double per_request_se = 0;  // standard error of the slope
    };
    // nullopt with fewer than kMinPoints readings, or when the rate never varied.
    std::optional<Fit> fit() const;
    static constexpr std::size_t kMinPoints = 20;

private:
    std::size_t window_ = 300;
    std::deque<std::pair<double, double>> points_;  // (rate, cores)
};

}  // namespace canaryd::analysis
