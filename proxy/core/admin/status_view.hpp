// What GET /status shows (SPEC §7), as plain data, and its JSON rendering (Boost.JSON).
#pragma once

#include "core/analysis/outcome.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::admin {

struct VersionStatus {
    std::string release;
    std::size_t endpoints = 0;           // members of the split: one per resolved address
    std::vector<std::string> addresses;  // "10.0.0.7:8080", as resolved now (SPEC §11)
    // Over the signals window:
    std::uint64_t requests = 0;
    double success_rate = 1.0;
    double latency_p50_ms = 0;
    double latency_p90_ms = 0;
    double latency_p99_ms = 0;
    double traffic_share = 0;  // percent of the route's requests in the window
    std::int64_t in_flight = 0;
    std::array<std::uint64_t, analysis::kErrorKinds> upstream_errors{};  // by analysis::ErrorKind
    // Backend signals; nullopt while missing (no source, or the last sample failed).
    std::optional<double> cpu_cores;
    std::optional<double> memory_bytes;
    std::string signal_error;  // why the backend sample is missing
};

struct DecisionSummary {
    std::string time;
    std::string verdict;  // pass | fail | hold
    std::string guardrail;
    std::string detail;
};

// One guardrail at the last evaluation: its verdict and how far its evidence has come
// towards the threshold at which it fails.
struct GuardrailStatus {
    std::string guardrail;  // the label, e.g. "success_rate"
    std::string verdict;    // pass | fail | hold
    bool dry_run = false;
    double statistic = 0;   // log-evidence (nats) or seconds in breach
    double threshold = 0;   // the statistic fails at this
    double canary_value = 0;
    double stable_value = 0;
};

struct RouteStatus {
    std::string name;
    std::string state = "steady";  // progressing | paused | rolled_back | promoted | steady
    std::string state_reason;      // why the state last changed
    double canary_weight = 0;      // in force, percent
    double configured_weight = 0;  // from the file, percent
    std::optional<int> step;
    VersionStatus stable;
    std::optional<VersionStatus> canary;
    std::optional<DecisionSummary> last_decision;
    std::vector<GuardrailStatus> guardrails;  // empty before the first evaluation
};

// Fleet mode (SPEC §9): who this replica is in its fleet and whether the fleet is whole.
struct FleetStatus {
    std::string name;
    std::string id;             // this replica (unique per process)
    std::string role;           // leader | follower | standalone
    std::string state = "ok";   // ok | degraded (etcd unreachable)
    std::string leader;         // the leader's id, "" when none is known
    int replicas = 0;           // live replicas (etcd presence keys, else Prometheus targets up)
    std::string error;          // why degraded
    // The fleet-wide signals (Prometheus): "ok", "holding" (with why), or "off" without them.
    std::string signals = "off";
    std::string signals_error;
};

struct StatusView {
    std::uint64_t config_generation = 0;
    std::string version;  // canaryd's own version
    bool draining = false;
    bool token_required = false;  // mutating calls need a token (the dashboard then asks for one)
    unsigned window_seconds = 0;
    std::vector<RouteStatus> routes;
    std::optional<FleetStatus> fleet;  // absent without `fleet:`
};

std::string render_status_json(const StatusView& view);

}  // namespace canaryd::admin
