#include "core/fleet/fleet_blocks.hpp"

#include "core/analysis/latency_histogram.hpp"
#include "core/grpc/grpc_status.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <cmath>
#include <limits>

namespace canaryd::fleet {

namespace {

const std::string* label(const Series& s, const char* name) {
    auto it = s.labels.find(name);
    return it == s.labels.end() ? nullptr : &it->second;
}

// The block a series feeds, or null when it belongs to no configured route and release.
analysis::SecondStats* block_of(const Series& s, const std::map<std::string, RouteSeriesFilter>& routes,
                                std::map<std::string, FleetBlock>& out) {
    const auto* route = label(s, "route");
    const auto* version = label(s, "version");
    const auto* release = label(s, "release");
    if (!route || !version || !release) return nullptr;
    auto filter = routes.find(*route);
    if (filter == routes.end()) return nullptr;
    auto& block = out[*route];
    if (*version == "stable" && *release == filter->second.stable_release) return &block.stable;
    if (*version == "canary" && *release == filter->second.canary_release) return &block.canary;
    return nullptr;
}

std::uint64_t count_of(double increment) {
    return increment <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(increment));
}

double parse_le(const std::string& text) {
    if (text == "+Inf") return std::numeric_limits<double>::infinity();
    double value = -1;
    const auto* end = text.data() + text.size();
    if (std::from_chars(text.data(), end, value).ptr != end) return -1;
    return value;
}

// Cumulative bucket counts (by upper bound, seconds) -> requests placed at each bound.
void add_buckets(const std::map<double, double>& cumulative, analysis::SecondStats& stats) {
    double below = 0;
    double largest_finite = 0;
    for (const auto& [le, count] : cumulative) {
        const double in_bucket = count - below;
        below = std::max(below, count);
        if (std::isfinite(le)) largest_finite = le;
        if (in_bucket < 0.5) continue;
        // Above the largest bound: placed at twice it (the histogram's next octave).
        const double seconds = std::isfinite(le) ? le : 2 * largest_finite;
        const auto micros = static_cast<std::uint64_t>(std::llround(seconds * 1e6));
        stats.latency.add_bucket(analysis::latency_bucket(micros), static_cast<std::uint32_t>(count_of(in_bucket)));
    }
}

// Which version of which route a series belongs to (its configured release only).
std::optional<std::pair<std::string, config::Role>> version_of(const Series& s,
                                                             const std::map<std::string, RouteSeriesFilter>& routes) {
    const auto* route = label(s, "route");
    const auto* version = label(s, "version");
    const auto* release = label(s, "release");
    if (!route || !version || !release) return std::nullopt;
    auto filter = routes.find(*route);
    if (filter == routes.end()) return std::nullopt;
    if (*version == "stable" && *release == filter->second.stable_release) return std::make_pair(*route, config::Role::stable);
    if (*version == "canary" && *release == filter->second.canary_release) return std::make_pair(*route, config::Role::canary);
    return std::nullopt;
}

// A read's series by key: their values (for the increments) and the series themselves.
struct IndexedSeries {
    std::map<std::string, double> values;
    std::map<std::string, const Series*> series;
};
IndexedSeries index_series(const std::vector<Series>& list) {
    IndexedSeries out;
    for (const auto& s : list) {
        const auto key = series_key(s.labels);
        out.values[key] = s.value;
        out.series[key] = &s;
    }
    return out;
}

}  // namespace

std::map<std::string, FleetBackend> fleet_backend(const std::vector<Series>& cpu, const std::vector<Series>& memory,
                                                  const std::map<std::string, RouteSeriesFilter>& routes) {
    std::map<std::string, FleetBackend> out;
    std::map<std::pair<std::string, config::Role>, std::size_t> reporting;
    auto sample_of = [&](const std::pair<std::string, config::Role>& which) -> analysis::BackendSample& {
        auto& b = out[which.first];
        return which.second == config::Role::stable ? b.stable : b.canary;
    };
    for (const auto& s : cpu) {
        auto which = version_of(s, routes);
        if (!which || !std::isfinite(s.value)) continue;
        auto& sample = sample_of(*which);
        sample.cpu_cores = sample.cpu_cores.value_or(0) + s.value;
        ++reporting[*which];
    }
    for (const auto& s : memory) {
        auto which = version_of(s, routes);
        if (!which || !std::isfinite(s.value)) continue;
        auto& sample = sample_of(*which);
        sample.memory_bytes = sample.memory_bytes.value_or(0) + s.value;
        reporting[*which] = std::max<std::size_t>(reporting[*which], 1);
    }
    for (const auto& [which, replicas] : reporting) {
        const auto& filter = routes.at(which.first);
        const auto local = which.second == config::Role::stable ? filter.stable_endpoints : filter.canary_endpoints;
        sample_of(which).endpoints = std::max<std::size_t>(1, replicas * local);
    }
    return out;
}

std::map<std::string, FleetBlock> FleetBlockBuilder::build(const std::vector<Series>& requests,
                                                           const std::vector<Series>& buckets,
                                                           const std::map<std::string, RouteSeriesFilter>& routes,
                                                           double now) {
    std::map<std::string, FleetBlock> out;
    for (const auto& [name, filter] : routes) out[name];

    const auto request_index = index_series(requests);
    for (const auto& [key, increment] : requests_.advance(request_index.values, now)) {
        const auto& s = *request_index.series.at(key);
        auto* stats = block_of(s, routes, out);
        if (!stats) continue;
        const auto n = count_of(increment);
        stats->requests += n;
        const auto& statuses = routes.at(*label(s, "route")).failure_statuses;
        // A gRPC call's series carries its grpc-status; an HTTP request's only its code.
        if (const auto* grpc_name = label(s, "grpc_status")) {
            const auto grpc_status = grpc::status_from_name(*grpc_name);
            if (statuses.matches_grpc(grpc_status.value_or(-1))) stats->failures += n;
            continue;
        }
        const auto* code = label(s, "code");
        unsigned status = 0;
        if (code) std::from_chars(code->data(), code->data() + code->size(), status);
        if (statuses.matches(status)) stats->failures += n;
    }

    const auto bucket_index = index_series(buckets);
    // Per block, the cumulative counts by bound, summed over replicas.
    std::map<analysis::SecondStats*, std::map<double, double>> cumulative;
    const auto increments = buckets_.advance(bucket_index.values, now);
    for (const auto& [key, series] : bucket_index.series) {
        auto* stats = block_of(*series, routes, out);
        const auto* le_text = label(*series, "le");
        if (!stats || !le_text) continue;
        const double le = parse_le(*le_text);
        if (le < 0) continue;
        auto it = increments.find(key);
        // Every bound of the block takes part, at 0 when it did not move, so that the
        // difference between neighbouring bounds stays right.
        cumulative[stats][le] += it == increments.end() ? 0 : it->second;
    }
    for (const auto& [stats, by_bound] : cumulative) add_buckets(by_bound, *stats);
    return out;
}

}  // namespace canaryd::fleet
