#include "core/analysis/recorder.hpp"

namespace canaryd::analysis {

void VersionTotals::add(const VersionTotals& other) {
    requests += other.requests;
    failures += other.failures;
    latency_sum_us += other.latency_sum_us;
    in_flight += other.in_flight;
    for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] += other.codes[i];
    for (std::size_t i = 0; i < grpc_codes.size(); ++i) grpc_codes[i] += other.grpc_codes[i];
    latency.merge(other.latency);
}

void VersionRecorder::collect(VersionTotals& out) const {
    out.requests += requests_.load(std::memory_order_relaxed);
    out.failures += failures_.load(std::memory_order_relaxed);
    out.latency_sum_us += latency_sum_us_.load(std::memory_order_relaxed);
    out.in_flight += in_flight_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < errors_.size(); ++i) out.errors[i] += errors_[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < codes_.size(); ++i) out.codes[i] += codes_[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < grpc_codes_.size(); ++i) out.grpc_codes[i] += grpc_codes_[i].load(std::memory_order_relaxed);
    for (unsigned i = 0; i < kLatencyBuckets; ++i) {
        const auto n = latency_[i].load(std::memory_order_relaxed);
        if (n != 0) out.latency.add_bucket(i, n);
    }
}

}  // namespace canaryd::analysis
