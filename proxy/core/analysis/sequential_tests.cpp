#include "analysis/sequential_tests.hpp"

#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/tools/roots.hpp>

#include <algorithm>
#include <cmath>

namespace canaryd::analysis {

template <std::size_t N>
double log_mean_exp(const std::array<double, N>& values) {
    const double top = *std::max_element(values.begin(), values.end());
    double sum = 0;
    for (double v : values) sum += std::exp(v - top);
    return top + std::log(sum / static_cast<double>(N));
}

template double log_mean_exp<7>(const std::array<double, 7>&);

void RateRatioTest::observe(std::uint64_t canary_failures, std::uint64_t stable_failures,
                            std::uint64_t canary_requests, std::uint64_t stable_requests) {
    if (canary_failures + stable_failures == 0 || canary_requests == 0 || stable_requests == 0) return;
    const double pi = static_cast<double>(canary_requests) / static_cast<double>(canary_requests + stable_requests);
    const double fc = static_cast<double>(canary_failures);
    const double fs = static_cast<double>(stable_failures);
    for (std::size_t j = 0; j < kRatios.size(); ++j) {
        const double q = kRatios[j] * pi / (kRatios[j] * pi + 1.0 - pi);
        log_lr_[j] += fc * std::log(q / pi) + fs * std::log((1.0 - q) / (1.0 - pi));
    }
}

double RateRatioTest::log_evidence() const { return log_mean_exp(log_lr_); }

void ExceedanceTest::observe(double events, double trials) {
    if (trials <= 0) return;
    events = std::clamp(events, 0.0, trials);
    const double logit0 = std::log(p0_ / (1.0 - p0_));
    for (std::size_t j = 0; j < kLogOddsShifts.size(); ++j) {
        const double p1 = 1.0 / (1.0 + std::exp(-(logit0 + kLogOddsShifts[j])));
        // Increasing in `events`, so its expectation is at most 1 for every p <= p0.
        log_lr_[j] += events * std::log(p1 / p0_) + (trials - events) * std::log((1.0 - p1) / (1.0 - p0_));
    }
}

double ExceedanceTest::log_evidence() const { return log_mean_exp(log_lr_); }

double BernoulliConfidence::log_mixture_ratio(double p) const {
    // Uniform Beta(1, 1) mixing distribution: log B(1+s, 1+n-s) - [s log p + (n-s) log(1-p)].
    const double s = static_cast<double>(events_);
    const double f = static_cast<double>(trials_ - events_);
    const double log_marginal = boost::math::lgamma(1.0 + s) + boost::math::lgamma(1.0 + f) - boost::math::lgamma(2.0 + s + f);
    return log_marginal - (s * std::log(p) + f * std::log1p(-p));
}

double BernoulliConfidence::bound(double alpha, bool upper) const {
    const double target = std::log(1.0 / alpha);
    const double mle = static_cast<double>(events_) / static_cast<double>(trials_);
    // log M(p) is smallest at the MLE and grows without bound towards 0 and 1: each bound
    // is where it crosses log(1/α) on its side.
    if (log_mixture_ratio(mle) >= target) return mle;
    auto f = [&](double p) { return log_mixture_ratio(p) - target; };
    boost::math::tools::eps_tolerance<double> tolerance(30);
    std::uintmax_t iterations = 100;
    const auto [low, high] = upper ? boost::math::tools::toms748_solve(f, mle, 1.0 - 1e-15, tolerance, iterations)
                                   : boost::math::tools::toms748_solve(f, 1e-15, mle, tolerance, iterations);
    return upper ? high : low;
}

double BernoulliConfidence::lower(double alpha) const {
    if (trials_ == 0 || events_ == 0) return 0.0;
    return bound(alpha, false);
}

double BernoulliConfidence::upper(double alpha) const {
    if (trials_ == 0 || events_ == trials_) return 1.0;
    return bound(alpha, true);
}

}  // namespace canaryd::analysis
