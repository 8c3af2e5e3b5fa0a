// The embedded analyzer of one route (SPEC §6): fed one second of both versions' signals
// at a time, it evaluates every guardrail at each interval and says pass, fail or hold,
// with the values, sample sizes and statistic behind each verdict. Pure: the caller passes
// the time and the backend readings; nothing here reads a clock or touches a socket.
//
// Guardrails and their tests (α = 1 - confidence, split evenly over the statistical
// guardrails — success_rate and latency — so the whole family stays within it; a margin
// test splits its share between two bounds; cpu_per_request and memory are bounds with a
// persistence requirement and spend none of it):
//   success_rate max_drop 0    rate-ratio e-process, failures conditioned per second
//   success_rate max_drop > 0  confidence sequences: canary's lower failure bound above
//                              stable's upper bound plus the margin
//   success_rate min           one-sample e-process on the canary's failure rate
//   latency_pXX max_ratio      share of canary requests slower than max_ratio x stable's
//                              pXX (its upper confidence bound, from the previous seconds)
//   latency_pXX max_ms         share of canary requests slower than max_ms
//   cpu_per_request, memory    bounds that must hold for `for` (persistence) in a row
#pragma once

#include "analysis/sequential_tests.hpp"
#include "analysis/window.hpp"
#include "config/config.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::analysis {

enum class Verdict : std::uint8_t { pass, fail, hold };
const char* to_string(Verdict verdict);

// A version's backend signals at evaluation time (nullopt: missing).
struct BackendSample {
    std::optional<double> cpu_cores;
    std::optional<double> memory_bytes;
    std::size_t endpoints = 1;
};

struct GuardrailResult {
    std::string guardrail;   // e.g. "success_rate", "latency_p99"
    Verdict verdict = Verdict::hold;
    double canary_value = 0;  // in the metric's unit: success rate 0..1, ms, cores/(req/s), bytes
    double stable_value = 0;
    std::uint64_t canary_samples = 0;
    std::uint64_t stable_samples = 0;
    double statistic = 0;     // log-evidence (nats) or the observed ratio / persistence seconds
    double threshold = 0;     // what the statistic must reach to fail
    std::string detail;       // one sentence for operators
};

struct Evaluation {
    Verdict verdict = Verdict::hold;  // fail if any fails; else hold if any holds; else pass
    std::vector<GuardrailResult> results;
    const GuardrailResult* first_failure() const;
};

class RouteAnalyzer {
public:
    explicit RouteAnalyzer(config::Analysis analysis);

    // One second of traffic of both versions (from the signal windows).
    void observe_second(const SecondStats& stable, const SecondStats& canary);
    // All guardrails, as of now. `now_seconds` is any monotonic clock (for persistence).
    Evaluation evaluate(double now_seconds, const BackendSample& stable, const BackendSample& canary);
    // Forget all evidence (a new canary release, an operator's resume).
    void reset();

    const config::Analysis& config() const { return analysis_; }
    std::uint64_t canary_requests() const { return canary_requests_; }
    std::uint64_t stable_requests() const { return stable_requests_; }

private:
    struct GuardrailState {
        RateRatioTest ratio;
        ExceedanceTest exceedance;
        BernoulliConfidence canary_failures;
        BernoulliConfidence stable_failures;
        std::optional<double> breach_since;  // persistence bounds
        double threshold_ms = 0;             // latency threshold used last second
    };

    GuardrailResult evaluate_success_rate(const config::Guardrail& g, GuardrailState& s) const;
    GuardrailResult evaluate_latency(const config::Guardrail& g, GuardrailState& s) const;
    GuardrailResult evaluate_persistent(const config::Guardrail& g, GuardrailState& s, double now,
                                        const BackendSample& stable, const BackendSample& canary) const;
    double latency_threshold_ms(const config::Guardrail& g) const;
    bool enough_requests() const;

    config::Analysis analysis_;
    double alpha_per_guardrail_;
    std::vector<GuardrailState> states_;
    // Cumulative since the last reset.
    std::uint64_t canary_requests_ = 0;
    std::uint64_t stable_requests_ = 0;
    std::uint64_t canary_failures_ = 0;
    std::uint64_t stable_failures_ = 0;
    // Latency over a sliding window, for values shown and stable's quantiles.
    Window stable_latency_{60};
    Window canary_latency_{60};
    std::int64_t second_ = 0;
    WindowStats stable_window_;  // stable_latency_.sum(second_), kept from the last second
    WindowStats canary_window_;
    // Requests per second over the last seconds, for CPU per request.
    std::deque<std::pair<std::uint64_t, std::uint64_t>> recent_requests_;  // (stable, canary)
};

}  // namespace canaryd::analysis
