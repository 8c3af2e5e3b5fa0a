// Sliding windows of one-second buckets per route and version (SPEC §5). Pure: the caller
// says which second it is; seconds never reported are empty (gaps), and a bucket is reused
// only for a later second (roll-over).
#pragma once

#include "core/analysis/latency_histogram.hpp"
#include "core/analysis/outcome.hpp"
#include "core/analysis/recorder.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace canaryd::analysis {

// What happened in one second, or summed over a window.
template <class Count>
struct BasicStats {
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    std::array<std::uint64_t, kErrorKinds> errors{};
    BasicLatencyHistogram<Count> latency;

    std::uint64_t successes() const { return requests - failures; }
    // 1.0 when there were no requests: no evidence of failure.
    double success_rate() const {
        return requests == 0 ? 1.0 : static_cast<double>(successes()) / static_cast<double>(requests);
    }
    template <class Other>
    void merge(const BasicStats<Other>& other) {
        requests += other.requests;
        failures += other.failures;
        for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
        latency.merge(other.latency);
    }
};

using SecondStats = BasicStats<std::uint32_t>;
using WindowStats = BasicStats<std::uint64_t>;

// The activity between two cumulative totals (later - earlier).
SecondStats difference(const VersionTotals& later, const VersionTotals& earlier);

class Window {
public:
    explicit Window(unsigned seconds);

    // Records second `second` (monotonic, e.g. seconds since start-up). A second older than
    // the newest recorded one is ignored; reporting the same second again adds to it.
    void add(std::int64_t second, const SecondStats& stats);
    // Sum of the seconds in (now - length, now].
    WindowStats sum(std::int64_t now) const;
    unsigned length() const { return static_cast<unsigned>(slots_.size()); }

private:
    struct Slot {
        std::int64_t second = -1;
        SecondStats stats;
    };
    void expire_before(std::int64_t first_kept);

    std::vector<Slot> slots_;
    std::int64_t newest_ = -1;
    // Sum of the slots in (newest_ - length, newest_], kept up to date by add(), so that
    // sum(newest_) costs one copy instead of a pass over every slot.
    WindowStats running_;
};

}  // namespace canaryd::analysis
