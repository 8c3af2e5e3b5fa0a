// Per-worker, per-version request counters on the hot path (SPEC §5).
//
// Each VersionRecorder has exactly one writer: the worker thread that owns it. Counters
// are atomics written with a plain load+store (no locked instruction, no contention) and
// read with relaxed loads by the control thread, which sums the workers' cumulative
// totals and takes differences each second. No lock is ever taken on the request path.
#pragma once

#include "core/analysis/latency_histogram.hpp"
#include "core/analysis/outcome.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

namespace canaryd::analysis {

inline constexpr unsigned kStatusCodes = 600;  // 0..599; anything else is counted as 0
inline constexpr unsigned kGrpcStatuses = 17;  // a gRPC call's grpc-status, OK .. UNAUTHENTICATED

// Cumulative totals since start-up, summed over workers.
struct VersionTotals {
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    std::uint64_t latency_sum_us = 0;
    std::int64_t in_flight = 0;
    std::array<std::uint64_t, kErrorKinds> errors{};
    std::array<std::uint64_t, kStatusCodes> codes{};
    std::array<std::uint64_t, kGrpcStatuses> grpc_codes{};  // gRPC calls, counted here instead of `codes`
    LatencyHistogram latency;

    void add(const VersionTotals& other);
};

class alignas(64) VersionRecorder {
public:
    void begin() { bump(in_flight_, 1); }
    // A request that ended without an outcome for the version (the client went away).
    void abandon() { bump(in_flight_, -1); }
    // `grpc_status` >= 0: a gRPC call, counted by its grpc-status (its HTTP status is 200).
    void finish(unsigned status, std::uint64_t latency_us, bool failure, std::optional<ErrorKind> error,
                int grpc_status = -1) {
        bump(in_flight_, -1);
        bump(requests_, 1);
        if (failure) bump(failures_, 1);
        bump(latency_sum_us_, latency_us);
        bump(latency_[latency_bucket(latency_us)], 1);
        if (grpc_status >= 0 && grpc_status < static_cast<int>(kGrpcStatuses))
            bump(grpc_codes_[static_cast<std::size_t>(grpc_status)], 1);
        else
            bump(codes_[status < kStatusCodes ? status : 0], 1);
        if (error) bump(errors_[static_cast<std::size_t>(*error)], 1);
    }

    // Reader side (any thread): adds this recorder's totals into `out`.
    void collect(VersionTotals& out) const;

private:
    template <class T, class N>
    static void bump(std::atomic<T>& counter, N n) {
        // Single writer: a relaxed load and store is enough and compiles to a plain add.
        counter.store(static_cast<T>(counter.load(std::memory_order_relaxed) + static_cast<T>(n)),
                      std::memory_order_relaxed);
    }

    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<std::uint64_t> latency_sum_us_{0};
    std::atomic<std::int64_t> in_flight_{0};
    std::array<std::atomic<std::uint64_t>, kErrorKinds> errors_{};
    std::array<std::atomic<std::uint64_t>, kStatusCodes> codes_{};
    std::array<std::atomic<std::uint64_t>, kGrpcStatuses> grpc_codes_{};
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets> latency_{};
};

}  // namespace canaryd::analysis
