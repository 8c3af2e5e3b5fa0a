#include "core/admin/series.hpp"

#include "core/json/json_text.hpp"

#include <boost/json.hpp>

namespace canaryd::admin {

void Series::add(const SeriesPoint& point) {
    if (!points_.empty() && point.second <= points_.back().second) return;
    points_.push_back(point);
    while (points_.front().second <= point.second - static_cast<std::int64_t>(length_)) points_.pop_front();
}

std::vector<SeriesPoint> Series::points(std::int64_t now) const {
    std::vector<SeriesPoint> out;
    for (const auto& p : points_)
        if (p.second > now - static_cast<std::int64_t>(length_) && p.second <= now) out.push_back(p);
    return out;
}

namespace {

boost::json::value optional_number(const std::optional<double>& value, double step) {
    return value ? boost::json::value(json::rounded(*value, step)) : boost::json::value(nullptr);
}

boost::json::object version_json(const VersionSeries& version, std::int64_t now) {
    boost::json::array points;
    for (const auto& p : version.points) {
        boost::json::object o;
        o["age"] = now - p.second;
        o["requests"] = p.requests;
        o["failures"] = p.failures;
        o["success_rate"] = p.requests == 0 ? boost::json::value(nullptr)
                                            : boost::json::value(json::rounded(
                                                  1.0 - static_cast<double>(p.failures) / static_cast<double>(p.requests), 1e-6));
        o["p50_ms"] = json::rounded(p.p50_ms, 1e-3);
        o["p99_ms"] = json::rounded(p.p99_ms, 1e-3);
        o["cpu_cores"] = optional_number(p.cpu_cores, 1e-4);
        o["memory_bytes"] = optional_number(p.memory_bytes, 1);
        points.push_back(std::move(o));
    }
    return {{"release", version.release}, {"points", std::move(points)}};
}

}  // namespace

std::string render_series_json(const RouteSeries& series) {
    boost::json::object root;
    root["route"] = series.route;
    root["window_seconds"] = series.window_seconds;
    root["now"] = series.now;
    root["stable"] = version_json(series.stable, series.now);
    root["canary"] = series.canary ? boost::json::value(version_json(*series.canary, series.now)) : boost::json::value(nullptr);
    return json::to_text(root) + "\n";
}

}  // namespace canaryd::admin
