#include "io/signals/metrics.hpp"

#include "io/signals/process_metrics.hpp"

#include <prometheus/text_serializer.h>

#include <cmath>
#include <iterator>

namespace canaryd::io {

Metrics::Metrics(std::shared_ptr<prometheus::Registry> r)
    : registry(std::move(r)),
      requests(prometheus::BuildCounter()
                   .Name("canaryd_requests_total")
                   .Help("Requests proxied, by route, version (stable|canary), release and status code.")
                   .Register(*registry)),
      duration(prometheus::BuildHistogram()
                   .Name("canaryd_request_duration_seconds")
                   .Help("Time from a request head reaching canaryd to the upstream's response header.")
                   .Register(*registry)),
      upstream_errors(prometheus::BuildCounter()
                          .Name("canaryd_upstream_errors_total")
                          .Help("Failures on the way to a version: connect, timeout, reset, invalid_response, no_endpoint, tls.")
                          .Register(*registry)),
      in_flight(prometheus::BuildGauge()
                    .Name("canaryd_requests_in_flight")
                    .Help("Requests routed to a version and not finished yet.")
                    .Register(*registry)),
      weight(prometheus::BuildGauge()
                 .Name("canaryd_weight")
                 .Help("Share of new requests a version gets, in percent, as in force now.")
                 .Register(*registry)),
      traffic_share(prometheus::BuildGauge()
                        .Name("canaryd_traffic_share")
                        .Help("Share of the route's requests a version actually served over the signals window, in percent.")
                        .Register(*registry)),
      backend_cpu(prometheus::BuildGauge()
                      .Name("canaryd_backend_cpu_cores")
                      .Help("CPU used by a version's backends, in cores, summed over its endpoints.")
                      .Register(*registry)),
      backend_memory(prometheus::BuildGauge()
                         .Name("canaryd_backend_memory_bytes")
                         .Help("Resident memory of a version's backends, in bytes, summed over its endpoints.")
                         .Register(*registry)),
      signal_errors(prometheus::BuildCounter()
                        .Name("canaryd_backend_signal_errors_total")
                        .Help("Backend CPU/memory samples that failed (the signal is then missing).")
                        .Register(*registry)),
      rollbacks(prometheus::BuildCounter()
                    .Name("canaryd_rollbacks_total")
                    .Help("Rollbacks, by route and the guardrail that caused them.")
                    .Register(*registry)),
      guardrail_evidence(prometheus::BuildGauge()
                             .Name("canaryd_guardrail_evidence")
                             .Help("A guardrail's evidence against the canary: the log e-value in nats for "
                                   "success_rate and latency (fails at log(1/alpha)), seconds in breach for "
                                   "cpu_per_request and memory (fails at 'for').")
                             .Register(*registry)),
      guardrail_verdict(prometheus::BuildGauge()
                            .Name("canaryd_guardrail_verdict")
                            .Help("1 for a guardrail's verdict at the last evaluation (pass|fail|hold), 0 for the others.")
                            .Register(*registry)),
      config_reloads(prometheus::BuildCounter()
                         .Name("canaryd_config_reloads_total")
                         .Help("Config reloads, by result (success|fail).")
                         .Register(*registry)),
      notifications(prometheus::BuildCounter()
                        .Name("canaryd_notifications_total")
                        .Help("Notification deliveries (SPEC §10) by result: sent, retried, expired, overflow.")
                        .Register(*registry)),
      build_info(prometheus::BuildGauge()
                     .Name("canaryd_build_info")
                     .Help("Always 1; the version label is canaryd's version.")
                     .Register(*registry)),
      fleet_up(prometheus::BuildGauge()
                   .Name("canaryd_fleet_up")
                   .Help("Fleet mode: 1 while the fleet's shared state (etcd) answers, 0 while degraded.")
                   .Register(*registry)),
      fleet_leader(prometheus::BuildGauge()
                       .Name("canaryd_fleet_leader")
                       .Help("Fleet mode: 1 on the replica that leads the fleet (runs its analysis), 0 on the others.")
                       .Register(*registry)),
      fleet_query_errors(prometheus::BuildCounter()
                             .Name("canaryd_fleet_query_errors_total")
                             .Help("Fleet mode: failed reads by kind: etcd, etcd_write, prometheus, prometheus_empty, prometheus_lagging.")
                             .Register(*registry)) {
    build_info.Add({{"version", CANARYD_VERSION}}).Set(1);
    config_reloads.Add({{"result", "success"}});
    config_reloads.Add({{"result", "fail"}});
}

const prometheus::Histogram::BucketBoundaries& Metrics::duration_buckets() {
    static const prometheus::Histogram::BucketBoundaries buckets = [] {
        prometheus::Histogram::BucketBoundaries bounds;
        for (int k = 0; k <= 48; ++k) {
            const double exact = 0.0005 * std::exp2(k / 3.0);
            // Three significant digits: bounds an operator can read (0.000794, 0.001, 0.00126).
            const double scale = std::pow(10.0, std::floor(std::log10(exact)) - 2);
            bounds.push_back(std::round(exact / scale) * scale);
        }
        return bounds;
    }();
    return buckets;
}

std::string Metrics::serialize() const {
    auto families = registry->Collect();
    auto process = process_metric_families();
    families.insert(families.end(), std::make_move_iterator(process.begin()), std::make_move_iterator(process.end()));
    prometheus::TextSerializer serializer;
    return serializer.Serialize(families);
}

}  // namespace canaryd::io
