// The fleet analyzer's blocks (SPEC §9): one block per read of Prometheus, built from the
// increments of canaryd's own counters summed over every replica. Pure.
//
// Requests and failures come from canaryd_requests_total{route,version,release,code} (a
// failure is a code in the route's failure statuses; a proxy error counts through the 502
// or 504 it answered with). Latency comes from the buckets of
// canaryd_request_duration_seconds: the requests between two bucket bounds are placed at the
// upper bound, so every latency threshold the analyzer derives is resolved to a bucket bound
// (the bounds are 2^(1/3) ≈ 1.26 apart: metrics.cpp). Only the configured release of each
// version counts: during a config rollout a replica still on the old file does not mix
// another canary into the evidence.
#pragma once

#include "core/analysis/analyzer.hpp"
#include "core/analysis/outcome.hpp"
#include "core/analysis/window.hpp"
#include "core/fleet/counter_increments.hpp"

#include <map>
#include <string>
#include <vector>

namespace canaryd::fleet {

struct FleetBlock {
    analysis::SecondStats stable, canary;
};

// What the builder must know of a route to read its series.
struct RouteSeriesFilter {
    std::string stable_release;
    std::string canary_release;
    analysis::FailureStatuses failure_statuses;
    std::size_t stable_endpoints = 1;  // this replica's endpoints of each version
    std::size_t canary_endpoints = 1;
};

// Backend CPU and memory of each version, summed over the replicas that report them (a
// sidecar fleet: one backend per replica; a gateway fleet: every replica sees the same
// backends, so both the sum and the endpoint count grow N times and per-endpoint ratios hold).
struct FleetBackend {
    analysis::BackendSample stable, canary;
};
std::map<std::string, FleetBackend> fleet_backend(const std::vector<Series>& cpu, const std::vector<Series>& memory,
                                                  const std::map<std::string, RouteSeriesFilter>& routes);

class FleetBlockBuilder {
public:
    // `requests` and `buckets` were read at the same time `now`. The first call is a baseline
    // and returns empty blocks; routes without any series get an empty block too (a hold).
    std::map<std::string, FleetBlock> build(const std::vector<Series>& requests, const std::vector<Series>& buckets,
                                            const std::map<std::string, RouteSeriesFilter>& routes, double now);
    bool has_baseline() const { return requests_.has_baseline(); }

private:
    CounterIncrements requests_;
    CounterIncrements buckets_;
};

}  // namespace canaryd::fleet
