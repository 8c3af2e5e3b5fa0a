// canaryd's Prometheus metric families (SPEC §5), registered once in one registry that the
// admin /metrics endpoint serialises. Only the control thread updates them (from the
// per-worker recorders, once a second), so the request path never touches prometheus-cpp.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace canaryd::io {

struct Metrics {
    explicit Metrics(std::shared_ptr<prometheus::Registry> registry);

    std::shared_ptr<prometheus::Registry> registry;
    prometheus::Family<prometheus::Counter>& requests;           // {route,version,release,code}
    prometheus::Family<prometheus::Histogram>& duration;         // {route,version,release}
    prometheus::Family<prometheus::Counter>& upstream_errors;    // {route,version,release,kind}
    prometheus::Family<prometheus::Gauge>& in_flight;            // {route,version,release}
    prometheus::Family<prometheus::Gauge>& weight;               // {route,version,release}, percent
    prometheus::Family<prometheus::Gauge>& traffic_share;        // {route,version,release}, percent
    prometheus::Family<prometheus::Gauge>& backend_cpu;          // {route,version,release}
    prometheus::Family<prometheus::Gauge>& backend_memory;       // {route,version,release}
    prometheus::Family<prometheus::Counter>& signal_errors;      // {route,version,source}
    prometheus::Family<prometheus::Counter>& rollbacks;          // {route,guardrail}
    prometheus::Family<prometheus::Gauge>& guardrail_evidence;   // {route,guardrail}: log e-value (nats)
    prometheus::Family<prometheus::Gauge>& guardrail_verdict;    // {route,guardrail,verdict}: 1 for the current one
    prometheus::Family<prometheus::Counter>& config_reloads;     // {result}
    prometheus::Family<prometheus::Counter>& notifications;      // {result}
    prometheus::Family<prometheus::Gauge>& build_info;           // {version}
    // Fleet mode (SPEC §9); registered always, set only with `fleet:`.
    prometheus::Family<prometheus::Gauge>& fleet_up;             // 1 while the fleet's state (etcd) answers
    prometheus::Family<prometheus::Gauge>& fleet_leader;         // 1 on the fleet's leader
    prometheus::Family<prometheus::Counter>& fleet_query_errors;  // {kind}: failed reads of etcd or Prometheus

    // Upper bounds of canaryd_request_duration_seconds, in seconds: three per octave (each
    // 2^(1/3) ≈ 1.26 times the last) from 0.5 ms to 32 s, so that fleet mode, which reads
    // latency from these buckets, resolves a threshold to within 26 % anywhere in the range.
    static const prometheus::Histogram::BucketBoundaries& duration_buckets();

    std::string serialize() const;
};

}  // namespace canaryd::io
