// Anytime-valid sequential tests (SPEC §6). Each keeps a test supermartingale: a value
// whose expectation under the null hypothesis never exceeds 1, however often it is looked
// at. By Ville's inequality the chance that it EVER reaches 1/α under the null is at most
// α, so it can be checked every second without inflating false alarms — unlike a
// fixed-sample test repeated each second, or a threshold on a sliding window.
//
// Alternatives are unknown, so each test mixes likelihood ratios over a small grid of
// alternatives with equal weights (a mixture of test martingales is one). The price is
// log(grid size) nats of extra evidence; the grids are chosen to cover the regressions
// worth catching (a rate 1.5x to 50x worse; a tail 1.2x to 20x heavier).
#pragma once

#include <array>
#include <cstdint>

namespace canaryd::analysis {

// H0: the canary's failure rate is at most the stable's (rate ratio r <= 1).
//
// Conditioned on how many failures happened in a second, and on the second's request
// counts, each failure comes from the canary with probability π = n_c / (n_c + n_s) under
// H0 and q(r) = rπ / (rπ + 1 - π) if the canary is r times worse. Neither base rate needs
// to be known: the test compares the versions serving at the same time, second by second,
// whatever the traffic split or its changes during a ramp.
class RateRatioTest {
public:
    static constexpr std::array<double, 7> kRatios{1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0};

    void observe(std::uint64_t canary_failures, std::uint64_t stable_failures, std::uint64_t canary_requests,
                 std::uint64_t stable_requests);
    double log_evidence() const;  // log of the mixture's value; starts at 0
    void reset() { log_lr_.fill(0.0); }

private:
    std::array<double, kRatios.size()> log_lr_{};
};

// H0: P(event) <= p0 for each observation (a composite null: every p below p0 too).
// Used for "share of canary requests slower than a threshold" (latency) and "canary
// failure rate above an absolute bound" (success_rate min). Counts may be fractional: a
// histogram bucket straddling the threshold contributes pro rata.
class ExceedanceTest {
public:
    explicit ExceedanceTest(double p0 = 0.01) : p0_(p0) {}
    static constexpr std::array<double, 7> kLogOddsShifts{0.2, 0.4, 0.7, 1.0, 1.5, 2.3, 3.0};

    void observe(double events, double trials);
    double log_evidence() const;
    double p0() const { return p0_; }
    void reset() { log_lr_.fill(0.0); }

private:
    double p0_;
    std::array<double, kLogOddsShifts.size()> log_lr_{};
};

// An anytime-valid confidence sequence for a Bernoulli rate (Robbins' beta-binomial
// mixture): the set of p where the mixture martingale B(a+s, b+n-s)/B(a,b) / (p^s
// (1-p)^(n-s)) stays below 1/α. Bounds by root finding (Boost.Math).
class BernoulliConfidence {
public:
    void observe(std::uint64_t events, std::uint64_t trials) {
        events_ += events;
        trials_ += trials;
    }
    // Bounds at level 1 - alpha; [0, 1] with no data.
    double lower(double alpha) const;
    double upper(double alpha) const;
    std::uint64_t events() const { return events_; }
    std::uint64_t trials() const { return trials_; }
    void reset() { events_ = trials_ = 0; }

private:
    double log_mixture_ratio(double p) const;
    double bound(double alpha, bool upper) const;
    std::uint64_t events_ = 0;
    std::uint64_t trials_ = 0;
};

// log(sum_i exp(x_i) / N), computed without overflow.
template <std::size_t N>
double log_mean_exp(const std::array<double, N>& values);

}  // namespace canaryd::analysis
