#include "core/analysis/latency_histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace canaryd::analysis;

TEST_CASE("bucket layout: exact below 32 us, then 32 sub-buckets per power of two") {
    for (std::uint64_t v = 0; v < 32; ++v) CHECK(latency_bucket(v) == v);
    CHECK(latency_bucket(32) == 32);
    CHECK(latency_bucket(63) == 63);
    CHECK(latency_bucket(64) == 64);
    CHECK(latency_bucket(65) == 64);  // width 2 from 64 on
    unsigned previous = 0;
    for (std::uint64_t v = 1; v < (1ull << 40); v = v * 5 / 4 + 1) {
        const unsigned b = latency_bucket(v);
        CHECK(b >= previous);  // monotone
        previous = b;
        if (b == kLatencyBuckets - 1) break;
        const auto range = latency_bucket_range(b);
        CHECK(static_cast<double>(v) >= range.lower);
        CHECK(static_cast<double>(v) < range.lower + range.width);
        CHECK(range.width <= std::max(1.0, range.lower / 32.0));  // relative width at most 1/32
    }
    CHECK(latency_bucket(~0ull) == kLatencyBuckets - 1);
}

TEST_CASE("quantiles of 1,000,000 skewed samples are within 2 % of the exact values") {
    // Log-normal latencies (median 20 ms, sigma 1.0): a long right tail, like real services.
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(std::log(20'000.0), 1.0);
    std::vector<std::uint64_t> samples(1'000'000);
    LatencyHistogram histogram;
    for (auto& s : samples) {
        s = static_cast<std::uint64_t>(dist(rng));
        histogram.add(s);
    }
    std::sort(samples.begin(), samples.end());
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
        const double exact = static_cast<double>(samples[static_cast<std::size_t>(q * static_cast<double>(samples.size())) - 1]);
        const double estimate = histogram.quantile(q);
        INFO("q=" << q << " exact=" << exact << " estimate=" << estimate);
        CHECK(std::abs(estimate - exact) / exact < 0.02);
    }
    CHECK(histogram.total() == 1'000'000u);
}

TEST_CASE("merge and subtract") {
    LatencyHistogram a;
    LatencyHistogram b;
    for (int i = 0; i < 1000; ++i) a.add(1'000);
    for (int i = 0; i < 1000; ++i) b.add(100'000);
    LatencyHistogram both = a;
    both.merge(b);
    CHECK(both.total() == 2000u);
    CHECK(both.quantile(0.25) == doctest::Approx(1'000).epsilon(0.04));
    CHECK(both.quantile(0.75) == doctest::Approx(100'000).epsilon(0.04));
    CHECK(both.fraction_above(50'000) == doctest::Approx(0.5));
    both.subtract(b);
    CHECK(both.total() == 1000u);
    CHECK(both.quantile(0.99) == doctest::Approx(1'000).epsilon(0.04));
    CHECK(LatencyHistogram{}.quantile(0.5) == 0.0);
}
