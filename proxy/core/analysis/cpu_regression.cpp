#include "core/analysis/cpu_regression.hpp"

#include <algorithm>
#include <cmath>

namespace canaryd::analysis {

void CpuRegression::add(double request_rate, double cores) {
    points_.emplace_back(request_rate, cores);
    while (points_.size() > window_) points_.pop_front();
}

std::optional<CpuRegression::Fit> CpuRegression::fit() const {
    const std::size_t n = points_.size();
    if (n < kMinPoints) return std::nullopt;
    double mean_x = 0, mean_y = 0;
    for (const auto& [x, y] : points_) {
        mean_x += x;
        mean_y += y;
    }
    mean_x /= static_cast<double>(n);
    mean_y /= static_cast<double>(n);
    double sxx = 0, sxy = 0;
    for (const auto& [x, y] : points_) {
        sxx += (x - mean_x) * (x - mean_x);
        sxy += (x - mean_x) * (y - mean_y);
    }
    if (sxx <= 1e-12 * std::max(1.0, mean_x * mean_x) * static_cast<double>(n)) return std::nullopt;
    Fit f;
    f.per_request = sxy / sxx;
    f.idle = mean_y - f.per_request * mean_x;
    double rss = 0;
    for (const auto& [x, y] : points_) {
        const double r = y - f.idle - f.per_request * x;
        rss += r * r;
    }
    f.per_request_se = std::sqrt(rss / static_cast<double>(n - 2) / sxx);
    return f;
}

}  // namespace canaryd::analysis
