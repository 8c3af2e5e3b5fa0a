// A client of Prometheus's HTTP API (`/api/v1/...`) for fleet mode's signal source (SPEC §9):
// the analyzer's blocks will come from PromQL over canaryd's own metrics summed across the
// replicas Prometheus scrapes. Beast + Boost.JSON; blocking, one deadline per call.
//
// Two questions fleet mode asks: "what is this expression at time t" (an instant query,
// evaluated at a time the caller picks, so that consecutive blocks are computed at the
// boundaries it chose), and "up to when has every replica been scraped" (from the targets
// API: the oldest last scrape among the healthy targets of a job). Asking only about data
// older than that is how scrape lag stays out of the analysis instead of being guessed.
#pragma once

#include "core/common/result.hpp"
#include "core/fleet/counter_increments.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::io {

// One element of an instant vector: labels and value (NaN and ±Inf as Prometheus sent them).
using PromSample = fleet::Series;

struct PromTargets {
    int up = 0;    // targets of the job whose last scrape succeeded
    int down = 0;  // the others, with their errors in `errors`
    std::vector<std::string> errors;
    // The oldest last-scrape time of the up targets, in Unix seconds; nullopt when none is up.
    // Every up target has a sample at or after it, so data up to it is final; a target whose
    // first scrape came later has no data there at all (a replica that is joining).
    std::optional<double> scraped_until;
};

class PrometheusClient {
public:
    PrometheusClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(2));

    // An instant vector (or a scalar, as one sample without labels) at Unix time `at`.
    Result<std::vector<PromSample>> query(const std::string& promql, double at);
    Result<PromTargets> targets(const std::string& job);

private:
    std::string host_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
};

}  // namespace canaryd::io
