// The embedded analyzer of one route (SPEC §6): fed one second of both versions' signals
// at a time, it evaluates every guardrail at each interval and says pass, fail or hold,
// with the values, sample sizes and statistic behind each verdict. Pure: the caller passes
// the time and the backend readings; nothing here reads a clock or touches a socket.
//
// Every second is one block, and every comparison is between the two versions in the same
// block — never the canary now against the stable in the past (sequential_tests.hpp):
//   success_rate max_drop D   the canary's share of the block's failures (stable's failures
//                             padded by D points of its requests) against its share of requests
//   success_rate min M        the canary's failure rate in the block against 1 − M
//   latency_pXX max_ratio R   the canary's share of the block's slow requests — canary slower
//                             than R·τ, stable slower than τ, τ the stable's pXX over the
//                             previous minute — against its share of requests. A slowdown that
//                             hits both versions moves both counts together.
//   latency_pXX max_ms L      the canary's share of requests slower than L against 1 − pXX
//   cpu_per_request max_ratio the slopes of cores on request rate (cpu_regression.hpp), net
//                             of idle CPU; a bound that must hold `for` (persistence)
//   memory                    a bound (bytes, or per-endpoint ratio) that must hold `for`
// α = 1 − confidence is split evenly over the statistical guardrails (success_rate and
// latency), so the whole family stays within it; cpu_per_request and memory spend none of it.
//
// Holds (SPEC §6): before min_requests per version; when neither version had a request
// since the last evaluation; a relative guardrail while the stable had none; and within a
// rollout step (begin_step) until the step itself has min_requests per version — a step
// advances only on passes earned in that step. A breach that has been proven stays a fail.
#pragma once

#include "core/analysis/cpu_regression.hpp"
#include "core/analysis/sequential_tests.hpp"
#include "core/analysis/window.hpp"
#include "core/config/config.hpp"

#include <cstdint>
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
    std::string guardrail;   // the label, e.g. "success_rate", "latency_p99"
    Verdict verdict = Verdict::hold;
    bool dry_run = false;     // evaluated and reported, never acting
    double canary_value = 0;  // in the metric's unit: success rate 0..1, ms, CPU-s/request, bytes
    double stable_value = 0;
    std::uint64_t canary_samples = 0;
    std::uint64_t stable_samples = 0;
    double statistic = 0;     // log-evidence (nats) or the persistence seconds
    double threshold = 0;     // what the statistic must reach to fail
    std::string detail;       // one sentence for operators
};

struct Evaluation {
    // Over the guardrails that act (not dry_run): fail if any fails; else hold if any
    // holds; else pass.
    Verdict verdict = Verdict::hold;
    std::vector<GuardrailResult> results;
    const GuardrailResult* first_failure() const;  // the first acting guardrail that failed
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
    // A rollout step began: passes from now on need min_requests per version in the step.
    void begin_step();
    // An edited analysis section (a reload): guardrails whose test is unchanged keep their
    // evidence; changed and new ones start over. Returns the labels of those that started
    // over, and of those removed (prefixed "-").
    std::vector<std::string> reconfigure(config::Analysis analysis);

    const config::Analysis& config() const { return analysis_; }
    std::uint64_t canary_requests() const { return canary_requests_; }
    std::uint64_t stable_requests() const { return stable_requests_; }
    // Blocks with events whose failures or slow requests exceeded the requests counted
    // (a recorder race or a bug upstream): clamped, never trusted beyond the request count.
    std::uint64_t clamped_blocks() const { return clamped_blocks_; }

private:
    struct GuardrailState {
        ShareTest test;
        double threshold_ms = 0;             // latency threshold used in the last block
        std::optional<double> breach_since;  // persistence bounds
        CpuRegression stable_cpu;
        CpuRegression canary_cpu;
    };

    GuardrailState fresh_state() const;
    GuardrailResult evaluate_statistical(const config::Guardrail& g, const GuardrailState& s) const;
    GuardrailResult evaluate_cpu(const config::Guardrail& g, GuardrailState& s, double now, const BackendSample& stable,
                                 const BackendSample& canary) const;
    GuardrailResult evaluate_memory(const config::Guardrail& g, GuardrailState& s, double now,
                                    const BackendSample& stable, const BackendSample& canary) const;
    GuardrailResult persistent(const config::Guardrail& g, GuardrailState& s, double now, std::optional<bool> breach,
                               GuardrailResult r) const;
    std::optional<BlockShare> block_of(const config::Guardrail& g, GuardrailState& s, const SecondStats& stable,
                                       const SecondStats& canary, bool& clamped) const;
    // Why a guardrail that is not failing must hold, or "" when it may pass.
    std::string hold_reason(const config::Guardrail& g) const;
    double alpha_per_guardrail() const;

    config::Analysis analysis_;
    std::vector<std::string> labels_;
    std::vector<GuardrailState> states_;
    // Cumulative since the last reset.
    std::uint64_t canary_requests_ = 0;
    std::uint64_t stable_requests_ = 0;
    // Since the last evaluation, and since the step began.
    std::uint64_t canary_since_evaluation_ = 0;
    std::uint64_t stable_since_evaluation_ = 0;
    std::uint64_t seconds_since_evaluation_ = 0;
    std::uint64_t canary_in_step_ = 0;
    std::uint64_t stable_in_step_ = 0;
    bool in_step_ = false;
    std::uint64_t clamped_blocks_ = 0;
    // The last minute of both versions: values shown, and the stable's latency quantiles.
    Window stable_recent_{60};
    Window canary_recent_{60};
    std::int64_t second_ = 0;
    WindowStats stable_window_;
    WindowStats canary_window_;
};

}  // namespace canaryd::analysis
