// The per-block share tests (core/analysis/sequential_tests): block reduction, the bets,
// the restart mixture, and validity under clumped failures.
#include "core/analysis/sequential_tests.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace canaryd::analysis;

TEST_CASE("two_sample_block: the canary's share of the block's events against its share of requests") {
    auto b = two_sample_block({3, 1, 10, 90}, 0.0);
    REQUIRE(b);
    CHECK(b->share == doctest::Approx(0.75));
    CHECK(b->null_share == doctest::Approx(0.1));
    // No requests of a version, or no event and no margin: the block says nothing.
    CHECK_FALSE(two_sample_block({1, 0, 10, 0}, 0.0));
    CHECK_FALSE(two_sample_block({0, 1, 0, 90}, 0.0));
    CHECK_FALSE(two_sample_block({0, 0, 10, 90}, 0.0));
    // 100 % failures on both sides: exactly the request share, no evidence either way.
    auto all = two_sample_block({10, 90, 10, 90}, 0.0);
    REQUIRE(all);
    CHECK(all->share == doctest::Approx(all->null_share));
}

TEST_CASE("two_sample_block: failures above requests are clamped and reported") {
    bool clamped = false;
    auto b = two_sample_block({25, 0, 10, 90}, 0.0, &clamped);
    REQUIRE(b);
    CHECK(clamped);
    CHECK(b->share == doctest::Approx(1.0));
    clamped = false;
    two_sample_block({2, 1, 10, 90}, 0.0, &clamped);
    CHECK_FALSE(clamped);
}

TEST_CASE("two_sample_block with a margin: stable events padded by margin x requests, averaged exactly") {
    // No real event: share 0 when a pseudo-event was drawn, π (no bet) when none was.
    auto quiet = two_sample_block({0, 0, 10, 90}, 0.005);
    REQUIRE(quiet);
    CHECK(quiet->share == doctest::Approx(0.1 * std::exp(-0.45)));
    // With events: f_c · E[1 / (f_c + f_s + V)], V ~ Poisson(0.45), summed by hand.
    auto b = two_sample_block({2, 1, 10, 90}, 0.005);
    REQUIRE(b);
    double expected = 0, pmf = std::exp(-0.45);
    for (int v = 0; v < 60; ++v) {
        expected += pmf * 2.0 / (3.0 + v);
        pmf *= 0.45 / (v + 1);
    }
    CHECK(b->share == doctest::Approx(expected).epsilon(1e-9));
    // A margin never makes a block look worse for the canary.
    CHECK(b->share < two_sample_block({2, 1, 10, 90}, 0.0)->share);
}

TEST_CASE("one_sample_block: the canary's rate against an allowed rate") {
    auto b = one_sample_block(5, 100, 0.01);
    REQUIRE(b);
    CHECK(b->share == doctest::Approx(0.05));
    CHECK(b->null_share == doctest::Approx(0.01));
    CHECK_FALSE(one_sample_block(1, 0, 0.01));
    CHECK_FALSE(one_sample_block(1, 10, 0.0));
    bool clamped = false;
    CHECK(one_sample_block(12, 10, 0.01, &clamped)->share == doctest::Approx(1.0));
    CHECK(clamped);
}

TEST_CASE("ShareBets: likelihood ratios at the ends, neutral at the null share, always finite") {
    for (double pi : {0.01, 0.1, 0.5, 0.9, 0.99}) {
        INFO("pi = " << pi);
        const auto neutral = ShareBets::log_factors({pi, pi});
        for (double f : neutral) CHECK(f == doctest::Approx(0.0));
        const auto owned = ShareBets::log_factors({1.0, pi});
        const auto spared = ShareBets::log_factors({0.0, pi});
        for (std::size_t j = 0; j < ShareBets::kCount; ++j) {
            const double r = ShareBets::kRatios[j];
            const double q = r * pi / (r * pi + 1 - pi);
            CHECK(owned[j] == doctest::Approx(std::log(q / pi)));
            CHECK(spared[j] == doctest::Approx(std::log((1 - q) / (1 - pi))));
            CHECK(std::isfinite(spared[j]));
            // No block can be worth more than log(1/π): the bound that keeps a clump of
            // failures in one block from manufacturing evidence.
            CHECK(owned[j] <= std::log(1 / pi) + 1e-12);
        }
    }
    // An impossible null share places no bet.
    for (double f : ShareBets::log_factors({1.0, 0.0})) CHECK(f == 0.0);
}

TEST_CASE("ShareTest: neutral and empty blocks add no evidence, the start is the release's half weight") {
    ShareTest test;
    CHECK(test.log_evidence() == doctest::Approx(std::log(0.5)));
    for (int i = 0; i < 3600; ++i) test.advance(i % 2 ? std::optional<BlockShare>{} : BlockShare{0.1, 0.1});
    CHECK(test.blocks() == 3600);
    CHECK(test.informative_blocks() == 1800);
    // Only the weights of the restarts: never above the one budget per horizon spent so far.
    CHECK(test.log_evidence() <= std::log(2.0) + 1e-9);
    CHECK(test.log_evidence() >= std::log(0.5));
}

TEST_CASE("ShareTest: a clump in one block is worth at most log(1/π)") {
    ShareTest test;
    const double before = test.log_evidence();
    test.advance(BlockShare{1.0, 0.1});  // fifty failures, all the canary's, in one second
    CHECK(test.log_evidence() - before <= std::log(10.0) + 1e-9);
}

namespace {

// Seeded blocks of a healthy canary (10 % of `rps`) whose failures come in clumps.
struct ClumpedTraffic {
    std::mt19937_64 rng;
    double rps, error_rate, clump_mean;
    std::optional<BlockShare> block(double canary_error) {
        const auto nc = std::poisson_distribution<int>(rps * 0.1)(rng);
        const auto ns = std::poisson_distribution<int>(rps * 0.9)(rng);
        auto failures = [&](int n, double p) {
            const auto events = std::poisson_distribution<int>(n * p / clump_mean)(rng);
            std::geometric_distribution<int> extra(1.0 / clump_mean);
            int f = 0;
            for (int i = 0; i < events; ++i) f += 1 + extra(rng);
            return std::min(f, n);
        };
        return two_sample_block({static_cast<double>(failures(nc, canary_error)),
                                 static_cast<double>(failures(ns, error_rate)), static_cast<double>(nc),
                                 static_cast<double>(ns)},
                                0.0);
    }
};

}  // namespace

namespace {

// Median over 41 seeded runs of delay(healthy_seconds, seed), seeds from `first_seed`.
template <class Delay>
int median_delay(const Delay& delay, int healthy_seconds, std::uint64_t first_seed) {
    std::vector<int> delays;
    for (std::uint64_t seed = 0; seed < 41; ++seed) delays.push_back(delay(healthy_seconds, first_seed + seed));
    std::sort(delays.begin(), delays.end());
    return delays[20];
}

}  // namespace

TEST_CASE("ShareTest: clumped failures of a healthy canary stay below 1/α (anytime-valid)") {
    // 200 rollouts of 30 minutes at 1000 req/s, failures in clumps of mean 5: Ville's
    // inequality allows at most 1 % to ever reach log(100); more than 6 of 200 would be a
    // one-in-a-hundred event for a valid test.
    int crossed = 0;
    for (int run = 0; run < 200; ++run) {
        ClumpedTraffic traffic{std::mt19937_64(7000 + static_cast<std::uint64_t>(run)), 1000, 0.002, 5};
        ShareTest test;
        for (int t = 0; t < 1800; ++t) {
            test.advance(traffic.block(0.002));
            if (test.log_evidence() >= std::log(100.0)) {
                ++crossed;
                break;
            }
        }
    }
    CHECK(crossed <= 6);
}

TEST_CASE("ShareTest: a regression after an hour of healthy traffic is caught about as fast as from the start") {
    auto delay = [](int healthy_seconds, std::uint64_t seed) {
        ClumpedTraffic traffic{std::mt19937_64(seed), 1000, 0.001, 1};
        ShareTest test;
        for (int t = 0; t < healthy_seconds; ++t) test.advance(traffic.block(0.001));
        for (int t = 1; t <= 600; ++t) {
            test.advance(traffic.block(0.02));
            if (test.log_evidence() >= std::log(200.0)) return t;
        }
        return 600;
    };
    const int median_start = median_delay(delay, 0, 100), median_late = median_delay(delay, 3600, 200);
    INFO("from the start " << median_start << " s, after an hour " << median_late << " s");
    CHECK(median_start <= 10);
    CHECK(median_late <= std::max(1.5 * median_start, median_start + 10.0));
}

TEST_CASE("ShareTest: a regression soon after the release pays little for the healthy seconds before it") {
    // 10 canary requests/s, max_drop 0.5 points, 0.1 % -> 5 % failures: the first restarts
    // after a release are heavy (1/(k(k+1)) of the budget), so a regression 10 s in is caught
    // within a few seconds of one present from the first block (with back-coverage
    // weights alone it took 5 s more).
    auto delay = [](int healthy_seconds, std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        auto block = [&](double canary_error) {
            const auto nc = std::poisson_distribution<int>(10)(rng);
            const auto ns = std::poisson_distribution<int>(90)(rng);
            const auto fc = std::binomial_distribution<int>(nc, canary_error)(rng);
            const auto fs = std::binomial_distribution<int>(ns, 0.001)(rng);
            return two_sample_block({double(fc), double(fs), double(nc), double(ns)}, 0.005);
        };
        ShareTest test;
        for (int t = 0; t < healthy_seconds; ++t) test.advance(block(0.001));
        for (int t = 1; t <= 300; ++t) {
            test.advance(block(0.05));
            if (test.log_evidence() >= std::log(300.0)) return t;
        }
        return 300;
    };
    const int median_start = median_delay(delay, 0, 300), median_late = median_delay(delay, 10, 400);
    INFO("from the start " << median_start << " s, after 10 healthy s " << median_late << " s");
    CHECK(median_late <= median_start + 3);
    CHECK(median_late <= 18);
}
