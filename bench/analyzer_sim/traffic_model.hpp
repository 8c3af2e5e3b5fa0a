// Synthetic per-second traffic for the analyzer simulation (bench/analyzer_sim). Seeded,
// no sockets, no clock: every figure the bench prints can be reproduced exactly.
//
// A scenario says, for each simulated second, the total request rate, the canary's share
// and each version's failure rate, failure clump size and latency scale; the simulator
// draws Poisson request counts, failures (in clumps: one connection reset failing several
// in-flight requests at once), log-normal latencies into the proxy's own histograms, and
// the backends' CPU (idle per endpoint + CPU per request + sampling noise).
#pragma once

#include "core/analysis/analyzer.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <tuple>
#include <random>
#include <vector>

namespace canaryd::sim {

struct VersionSecond {
    double error_rate = 0.001;
    double clump_mean = 1;         // failures per failure event (1: independent failures)
    double latency_median_ms = 50;
    double latency_sigma = 0.5;
    double latency_scale = 1;      // a slowdown multiplies every latency
    double cpu_seconds_per_request = 0.002;
    double idle_cores_per_endpoint = 0.05;
    int endpoints = 1;
};

struct Second {
    double total_rps = 100;
    double canary_share = 0.1;
    VersionSecond stable{.endpoints = 2};
    VersionSecond canary{};
    bool new_step = false;  // a rollout step begins at this second
};

// Sticky users: each request belongs to one of `count` users; a user's own baseline error
// rate is drawn once (Gamma with mean = the version's error rate and shape `shape`); the
// canary serves the users whose bucket is below its share.
struct StickyUsers {
    int count = 0;  // 0: per-request split
    double shape = 0.5;
};

struct Scenario {
    int seconds = 1800;
    std::function<Second(int t)> at = [](int) { return Second{}; };
    StickyUsers sticky;
};

class Simulator {
public:
    explicit Simulator(std::uint64_t seed) : rng_(seed) {}

    std::uint64_t poisson(double mean) { return mean > 0 ? std::poisson_distribution<std::uint64_t>(mean)(rng_) : 0; }

    std::uint64_t failures(std::uint64_t n, const VersionSecond& v) {
        if (n == 0 || v.error_rate <= 0) return 0;
        if (v.clump_mean <= 1) return std::binomial_distribution<std::uint64_t>(n, std::min(1.0, v.error_rate))(rng_);
        // Compound Poisson: failure events, each failing 1 + Geometric more requests.
        const auto events = poisson(static_cast<double>(n) * v.error_rate / v.clump_mean);
        std::geometric_distribution<std::uint64_t> extra(1.0 / v.clump_mean);
        std::uint64_t total = 0;
        for (std::uint64_t i = 0; i < events; ++i) total += 1 + extra(rng_);
        return std::min(total, n);
    }

    // Above a few hundred requests a second, drawing each histogram bucket's count as its
    // own Poisson (thinning: the same distribution as a Poisson number of log-normal draws)
    // is several times cheaper than one draw per request.
    static constexpr double kBucketDrawsAbove = 300;

    void requests_with_latencies(analysis::SecondStats& s, double mean, const VersionSecond& v) {
        const auto& buckets = bucket_probabilities(v.latency_median_ms * v.latency_scale, v.latency_sigma);
        for (const auto& [bucket, p] : buckets) {
            const auto n = poisson(mean * p);
            if (n > 0) s.latency.add_bucket(bucket, static_cast<std::uint32_t>(n));
        }
        s.requests = s.latency.total();
    }

    void latencies(analysis::SecondStats& s, const VersionSecond& v) {
        std::lognormal_distribution<double> latency(std::log(v.latency_median_ms * v.latency_scale * 1000.0), v.latency_sigma);
        for (std::uint64_t i = 0; i < s.requests; ++i) s.latency.add(static_cast<std::uint64_t>(latency(rng_)));
    }

    double cpu(std::uint64_t requests, const VersionSecond& v) {
        std::normal_distribution<double> proportional(1.0, 0.1);
        std::normal_distribution<double> sampling(0.0, 0.005);
        return std::max(0.0, v.idle_cores_per_endpoint * v.endpoints +
                                 static_cast<double>(requests) * v.cpu_seconds_per_request * proportional(rng_) +
                                 sampling(rng_));
    }

    // Per-request draws for sticky users (user rates fixed per run).
    void sticky_second(const Second& sec, const StickyUsers& users, analysis::SecondStats& stable,
                       analysis::SecondStats& canary) {
        if (user_rates_.empty()) {
            std::gamma_distribution<double> spread(users.shape, 1.0 / users.shape);
            for (int u = 0; u < users.count; ++u) {
                user_rates_.push_back(spread(rng_));
                user_bucket_.push_back(std::uniform_real_distribution<double>(0, 1)(rng_));
            }
        }
        const auto n = poisson(sec.total_rps);
        std::uniform_int_distribution<int> pick(0, users.count - 1);
        std::uniform_real_distribution<double> coin(0, 1);
        for (std::uint64_t i = 0; i < n; ++i) {
            const int u = pick(rng_);
            const bool to_canary = user_bucket_[static_cast<std::size_t>(u)] < sec.canary_share;
            auto& s = to_canary ? canary : stable;
            const auto& v = to_canary ? sec.canary : sec.stable;
            ++s.requests;
            if (coin(rng_) < std::min(1.0, v.error_rate * user_rates_[static_cast<std::size_t>(u)])) ++s.failures;
        }
    }

    struct Outcome {
        int failed_at = -1;  // second of the first acting failure, or -1
        std::string guardrail;
    };

    Outcome run(const Scenario& sc, const config::Analysis& analysis, bool with_latency) {
        analysis::RouteAnalyzer analyzer(analysis);
        for (int t = 0; t < sc.seconds; ++t) {
            const Second sec = sc.at(t);
            if (sec.new_step) analyzer.begin_step();
            analysis::SecondStats stable, canary;
            if (sc.sticky.count > 0) {
                sticky_second(sec, sc.sticky, stable, canary);
            } else {
                const double stable_mean = sec.total_rps * (1 - sec.canary_share);
                const double canary_mean = sec.total_rps * sec.canary_share;
                for (auto [s, mean, v] : {std::tuple{&stable, stable_mean, &sec.stable}, std::tuple{&canary, canary_mean, &sec.canary}}) {
                    if (with_latency && mean > kBucketDrawsAbove) {
                        requests_with_latencies(*s, mean, *v);
                    } else {
                        s->requests = poisson(mean);
                        if (with_latency) latencies(*s, *v);
                    }
                    s->failures = failures(s->requests, *v);
                }
            }
            analyzer.observe_second(stable, canary);
            const analysis::BackendSample stable_backend{cpu(stable.requests, sec.stable), 300e6,
                                                         static_cast<std::size_t>(sec.stable.endpoints)};
            const analysis::BackendSample canary_backend{cpu(canary.requests, sec.canary), 300e6,
                                                         static_cast<std::size_t>(sec.canary.endpoints)};
            const auto e = analyzer.evaluate(t + 1, stable_backend, canary_backend);
            if (e.verdict == analysis::Verdict::fail) return {t + 1, e.first_failure()->guardrail};
        }
        return {};
    }

private:
    const std::vector<std::pair<unsigned, double>>& bucket_probabilities(double median_ms, double sigma) {
        const auto key = std::make_pair(median_ms, sigma);
        auto it = bucket_cache_.find(key);
        if (it != bucket_cache_.end()) return it->second;
        std::vector<std::pair<unsigned, double>> out;
        const double mu = std::log(median_ms * 1000.0);
        auto cdf = [&](double micros) {
            return micros <= 0 ? 0.0 : 0.5 * std::erfc(-(std::log(micros) - mu) / (sigma * std::sqrt(2.0)));
        };
        for (unsigned b = 0; b < analysis::kLatencyBuckets; ++b) {
            const auto range = analysis::latency_bucket_range(b);
            const double p = cdf(range.lower + range.width) - cdf(range.lower);
            if (p > 1e-10) out.emplace_back(b, p);
        }
        return bucket_cache_.emplace(key, std::move(out)).first->second;
    }

    std::mt19937_64 rng_;
    std::map<std::pair<double, double>, std::vector<std::pair<unsigned, double>>> bucket_cache_;
    std::vector<double> user_rates_;
    std::vector<double> user_bucket_;
};

}  // namespace canaryd::sim
