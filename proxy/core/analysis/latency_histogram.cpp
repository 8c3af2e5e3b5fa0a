#include "core/analysis/latency_histogram.hpp"

#include <cmath>

namespace canaryd::analysis {

BucketRange latency_bucket_range(unsigned bucket) {
    if (bucket < kSubBuckets) return {static_cast<double>(bucket), 1.0};
    const unsigned group = (bucket - kSubBuckets) / kSubBuckets;  // exponent - kSubBucketBits
    const unsigned sub = (bucket - kSubBuckets) % kSubBuckets;
    const double width = std::ldexp(1.0, static_cast<int>(group));
    return {(kSubBuckets + sub) * width, width};
}

template <class Count>
double BasicLatencyHistogram<Count>::quantile(double q) const {
    if (total_ == 0) return 0.0;
    if (q <= 0) q = 0;
    if (q > 1) q = 1;
    // Rank in [0, n): the sample at which the quantile sits, counted from zero, spread
    // evenly across a bucket's width (its samples are assumed uniform inside it).
    const double rank = q * static_cast<double>(total_);
    double seen = 0;
    for (unsigned i = 0; i < kLatencyBuckets; ++i) {
        const double c = static_cast<double>(counts_[i]);
        if (c == 0) continue;
        if (seen + c >= rank) {
            const auto range = latency_bucket_range(i);
            const double inside = (rank - seen) / c;
            return range.lower + range.width * inside;
        }
        seen += c;
    }
    const auto last = latency_bucket_range(kLatencyBuckets - 1);
    return last.lower + last.width;
}

template <class Count>
double BasicLatencyHistogram<Count>::fraction_above(double micros) const {
    if (total_ == 0) return 0.0;
    double above = 0;
    for (unsigned i = 0; i < kLatencyBuckets; ++i) {
        const double c = static_cast<double>(counts_[i]);
        if (c == 0) continue;
        const auto range = latency_bucket_range(i);
        if (range.lower >= micros) above += c;
        else if (range.lower + range.width > micros) above += c * (range.lower + range.width - micros) / range.width;
    }
    return above / static_cast<double>(total_);
}

template class BasicLatencyHistogram<std::uint64_t>;
template class BasicLatencyHistogram<std::uint32_t>;

}  // namespace canaryd::analysis
