#include "core/analysis/analyzer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace canaryd::analysis {

namespace {

using Metric = config::Guardrail::Metric;

// cpu_per_request: a breach is a canary slope above the bound by this many standard errors;
// a pass needs the bound known to within kCpuResolution of itself.
constexpr double kCpuBreachZ = 3.0;
constexpr double kCpuResolution = 0.2;

template <class... Args>
std::string format(const char* pattern, Args... args) {
    char text[320];
    std::snprintf(text, sizeof text, pattern, args...);
    return text;
}

bool is_statistical(const config::Guardrail& g) { return g.metric == Metric::success_rate || g.is_latency(); }
// Relative guardrails compare with the stable version and need its traffic.
bool is_relative(const config::Guardrail& g) {
    return (g.metric == Metric::success_rate && g.max_drop_points) || g.max_ratio.has_value();
}

double rate_of(std::uint64_t failures, std::uint64_t requests) {
    return requests == 0 ? 0.0 : static_cast<double>(failures) / static_cast<double>(requests);
}

}  // namespace

const char* to_string(Verdict verdict) {
    switch (verdict) {
        case Verdict::pass: return "pass";
        case Verdict::fail: return "fail";
        case Verdict::hold: return "hold";
    }
    return "hold";
}

const GuardrailResult* Evaluation::first_failure() const {
    for (const auto& r : results)
        if (r.verdict == Verdict::fail && !r.dry_run) return &r;
    return nullptr;
}

RouteAnalyzer::RouteAnalyzer(config::Analysis analysis) : analysis_(std::move(analysis)) {
    labels_ = analysis_.guardrail_labels();
    states_.resize(analysis_.guardrails.size());
    reset();
}

RouteAnalyzer::GuardrailState RouteAnalyzer::fresh_state() const {
    ShareTest::Schedule schedule;
    schedule.horizon = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(analysis_.horizon).count());
    GuardrailState s;
    s.test = ShareTest(schedule);
    return s;
}

double RouteAnalyzer::alpha_per_guardrail() const {
    const auto statistical = std::count_if(analysis_.guardrails.begin(), analysis_.guardrails.end(), is_statistical);
    return (1.0 - analysis_.confidence) / static_cast<double>(std::max<std::ptrdiff_t>(1, statistical));
}

void RouteAnalyzer::reset() {
    for (auto& s : states_) s = fresh_state();
    canary_requests_ = stable_requests_ = 0;
    canary_since_evaluation_ = stable_since_evaluation_ = seconds_since_evaluation_ = 0;
    canary_in_step_ = stable_in_step_ = 0;
    in_step_ = false;
    stable_recent_ = Window(60);
    canary_recent_ = Window(60);
    stable_window_ = WindowStats{};
    canary_window_ = WindowStats{};
    second_ = 0;
}

void RouteAnalyzer::begin_step() {
    in_step_ = true;
    canary_in_step_ = stable_in_step_ = 0;
}

std::vector<std::string> RouteAnalyzer::reconfigure(config::Analysis analysis) {
    std::vector<std::string> restarted;
    const auto new_labels = analysis.guardrail_labels();
    // A new horizon changes how the error budget is spent: the tests start over.
    const bool same_horizon = analysis.horizon == analysis_.horizon;
    const auto old_analysis = std::exchange(analysis_, analysis);
    std::vector<GuardrailState> states;
    for (std::size_t i = 0; i < analysis.guardrails.size(); ++i) states.push_back(fresh_state());
    std::vector<bool> reused(old_analysis.guardrails.size(), false);
    for (std::size_t i = 0; i < analysis.guardrails.size(); ++i) {
        bool kept = false;
        for (std::size_t j = 0; j < old_analysis.guardrails.size() && !kept; ++j) {
            const bool restarts = !same_horizon && is_statistical(analysis.guardrails[i]);
            if (reused[j] || restarts || !old_analysis.guardrails[j].same_test(analysis.guardrails[i])) continue;
            states[i] = std::move(states_[j]);
            reused[j] = kept = true;
        }
        if (!kept) restarted.push_back(new_labels[i]);
    }
    for (std::size_t j = 0; j < old_analysis.guardrails.size(); ++j)
        if (!reused[j]) {
            const auto removed = "-" + labels_[j];
            // A guardrail whose bound changed appears as restarted, not as removed.
            if (std::find(restarted.begin(), restarted.end(), labels_[j]) == restarted.end()) restarted.push_back(removed);
        }
    labels_ = new_labels;
    states_ = std::move(states);
    return restarted;
}

std::optional<BlockShare> RouteAnalyzer::block_of(const config::Guardrail& g, GuardrailState& s,
                                                  const SecondStats& stable, const SecondStats& canary,
                                                  bool& clamped) const {
    if (g.metric == Metric::success_rate) {
        const auto fc = static_cast<double>(canary.failures);
        const auto nc = static_cast<double>(canary.requests);
        if (g.min_percent)
            return one_sample_block(fc, nc, std::clamp(1.0 - *g.min_percent / 100.0, 1e-6, 1.0 - 1e-6), &clamped);
        return two_sample_block({fc, static_cast<double>(stable.failures), nc, static_cast<double>(stable.requests)},
                                *g.max_drop_points / 100.0, &clamped);
    }
    if (!g.is_latency()) return std::nullopt;
    const double q = g.latency_quantile();
    const auto nc = static_cast<double>(canary.latency.total());
    if (g.max_ms) {
        s.threshold_ms = *g.max_ms;
        return one_sample_block(canary.latency.fraction_above(*g.max_ms * 1000.0) * nc, nc, 1.0 - q, &clamped);
    }
    // τ: the stable's quantile over the previous minute — a point estimate, fixed before
    // this block is looked at, so any error in it only moves where both versions are
    // compared, never the test's validity (H0: P(canary > R·τ) <= P(stable > τ)).
    const double tau_us = stable_window_.latency.quantile(q);
    if (tau_us <= 0) return std::nullopt;
    s.threshold_ms = *g.max_ratio * tau_us / 1000.0;
    const auto ns = static_cast<double>(stable.latency.total());
    return two_sample_block({canary.latency.fraction_above(*g.max_ratio * tau_us) * nc,
                             stable.latency.fraction_above(tau_us) * ns, nc, ns},
                            0.0, &clamped);
}

void RouteAnalyzer::observe_second(const SecondStats& stable, const SecondStats& canary) {
    bool clamped = false;
    for (std::size_t i = 0; i < analysis_.guardrails.size(); ++i) {
        auto& s = states_[i];
        const auto& g = analysis_.guardrails[i];
        if (is_statistical(g)) s.test.advance(block_of(g, s, stable, canary, clamped));
    }
    if (clamped) ++clamped_blocks_;
    ++second_;
    stable_recent_.add(second_, stable);
    canary_recent_.add(second_, canary);
    stable_window_ = stable_recent_.sum(second_);
    canary_window_ = canary_recent_.sum(second_);
    canary_requests_ += canary.requests;
    stable_requests_ += stable.requests;
    canary_since_evaluation_ += canary.requests;
    stable_since_evaluation_ += stable.requests;
    canary_in_step_ += canary.requests;
    stable_in_step_ += stable.requests;
    ++seconds_since_evaluation_;
}

std::string RouteAnalyzer::hold_reason(const config::Guardrail& g) const {
    const auto min = analysis_.min_requests;
    if (canary_requests_ < min || stable_requests_ < min)
        return format("waiting for min_requests per version (%llu canary, %llu stable of %llu)",
                      static_cast<unsigned long long>(canary_requests_),
                      static_cast<unsigned long long>(stable_requests_), static_cast<unsigned long long>(min));
    if (canary_since_evaluation_ == 0 && stable_since_evaluation_ == 0)
        return "no new request of either version since the last evaluation";
    if (is_relative(g) && stable_since_evaluation_ == 0)
        return "the stable version had no traffic since the last evaluation: nothing to compare with";
    if (g.metric != Metric::memory && canary_since_evaluation_ == 0)
        return "no new canary request since the last evaluation";
    if (in_step_ && (canary_in_step_ < min || stable_in_step_ < min))
        return format("waiting for min_requests per version in this rollout step (%llu canary, %llu stable of %llu)",
                      static_cast<unsigned long long>(canary_in_step_),
                      static_cast<unsigned long long>(stable_in_step_), static_cast<unsigned long long>(min));
    return "";
}

GuardrailResult RouteAnalyzer::evaluate_statistical(const config::Guardrail& g, const GuardrailState& s) const {
    GuardrailResult r;
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    r.statistic = s.test.log_evidence();
    r.threshold = std::log(1.0 / alpha_per_guardrail());
    if (g.metric == Metric::success_rate) {
        r.canary_value = 1.0 - rate_of(canary_window_.failures, canary_window_.requests);
        r.stable_value = 1.0 - rate_of(stable_window_.failures, stable_window_.requests);
        if (g.min_percent)
            r.detail = format("canary success %.4f%% over the last minute, minimum %.4f%%; evidence %.2f of %.2f nats",
                              100 * r.canary_value, *g.min_percent, r.statistic, r.threshold);
        else
            r.detail = format("canary success %.4f%% vs stable %.4f%% over the last minute; evidence %.2f of %.2f nats "
                              "that the canary fails more than the stable%s",
                              100 * r.canary_value, 100 * r.stable_value, r.statistic, r.threshold,
                              *g.max_drop_points > 0 ? format(" plus %.2f points", *g.max_drop_points).c_str() : "");
    } else {
        const double q = g.latency_quantile();
        r.canary_value = canary_window_.latency.quantile(q) / 1000.0;
        r.stable_value = stable_window_.latency.quantile(q) / 1000.0;
        if (g.max_ms)
            r.detail = format("canary p%g %.3f ms over the last minute; evidence %.2f of %.2f nats that more than "
                              "%.2f%% of canary requests exceed %.3f ms",
                              100 * q, r.canary_value, r.statistic, r.threshold, 100 * (1 - q), *g.max_ms);
        else
            r.detail = format("canary p%g %.3f ms vs stable %.3f ms over the last minute; evidence %.2f of %.2f nats "
                              "that canary requests exceed %.2f x the stable's p%g (%.3f ms now) more often than "
                              "stable requests exceed it",
                              100 * q, r.canary_value, r.stable_value, r.statistic, r.threshold, *g.max_ratio, 100 * q,
                              s.threshold_ms);
    }
    const bool enough = canary_requests_ >= analysis_.min_requests && stable_requests_ >= analysis_.min_requests;
    if (enough && r.statistic >= r.threshold) {
        r.verdict = Verdict::fail;
    } else if (auto why = hold_reason(g); !why.empty()) {
        r.verdict = Verdict::hold;
        r.detail = why + "; " + r.detail;
    } else {
        r.verdict = Verdict::pass;
    }
    return r;
}

GuardrailResult RouteAnalyzer::persistent(const config::Guardrail& g, GuardrailState& s, double now,
                                          std::optional<bool> breach, GuardrailResult r) const {
    r.threshold = std::chrono::duration<double>(g.persistence).count();
    if (!breach) {
        // Cannot tell (a missing signal, too little variation): hold, and a breach streak
        // is broken — an internal fault never adds up to a rollback.
        s.breach_since.reset();
        r.verdict = Verdict::hold;
        return r;
    }
    if (*breach) {
        if (!s.breach_since) s.breach_since = now;
        r.statistic = now - *s.breach_since;
    } else {
        s.breach_since.reset();
        r.statistic = 0;
    }
    r.detail += format("; bound exceeded for %.0f s of %.0f s", r.statistic, r.threshold);
    const bool enough = canary_requests_ >= analysis_.min_requests && stable_requests_ >= analysis_.min_requests;
    if (enough && *breach && r.statistic >= r.threshold) {
        r.verdict = Verdict::fail;
    } else if (auto why = hold_reason(g); !why.empty()) {
        r.verdict = Verdict::hold;
        r.detail = why + "; " + r.detail;
    } else {
        r.verdict = Verdict::pass;
    }
    return r;
}

GuardrailResult RouteAnalyzer::evaluate_cpu(const config::Guardrail& g, GuardrailState& s, double now,
                                            const BackendSample& stable, const BackendSample& canary) const {
    GuardrailResult r;
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    const double seconds = static_cast<double>(std::max<std::uint64_t>(1, seconds_since_evaluation_));
    if (stable.cpu_cores) s.stable_cpu.add(static_cast<double>(stable_since_evaluation_) / seconds, *stable.cpu_cores);
    if (canary.cpu_cores) s.canary_cpu.add(static_cast<double>(canary_since_evaluation_) / seconds, *canary.cpu_cores);
    if (!stable.cpu_cores || !canary.cpu_cores) {
        r.detail = "a CPU sample is missing";
        return persistent(g, s, now, std::nullopt, r);
    }
    const auto sf = s.stable_cpu.fit();
    const auto cf = s.canary_cpu.fit();
    if (!sf || !cf) {
        r.detail = format("collecting readings to separate idle CPU from CPU per request (%zu of %zu)",
                          std::min(s.stable_cpu.points(), s.canary_cpu.points()), CpuRegression::kMinPoints);
        return persistent(g, s, now, std::nullopt, r);
    }
    const double ratio = *g.max_ratio;
    r.canary_value = cf->per_request;
    r.stable_value = sf->per_request;
    const double se = std::hypot(cf->per_request_se, ratio * sf->per_request_se);
    r.detail = format("canary %.6f vs stable %.6f CPU-seconds per request net of idle (%.3f and %.3f idle cores), "
                      "max ratio %.2f",
                      cf->per_request, sf->per_request, cf->idle, sf->idle, ratio);
    std::optional<bool> breach;
    if (cf->per_request - ratio * sf->per_request > kCpuBreachZ * se) breach = true;
    else if (sf->per_request > 0 && se <= kCpuResolution * ratio * sf->per_request) breach = false;
    else r.detail += "; the request rate varies too little to tell idle CPU from CPU per request";
    return persistent(g, s, now, breach, r);
}

GuardrailResult RouteAnalyzer::evaluate_memory(const config::Guardrail& g, GuardrailState& s, double now,
                                               const BackendSample& stable, const BackendSample& canary) const {
    GuardrailResult r;
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    if (!canary.memory_bytes || (g.max_ratio && !stable.memory_bytes)) {
        r.detail = "a memory sample is missing";
        return persistent(g, s, now, std::nullopt, r);
    }
    std::optional<bool> breach;
    if (g.max_bytes) {
        r.canary_value = *canary.memory_bytes;
        r.stable_value = stable.memory_bytes.value_or(0);
        breach = r.canary_value > static_cast<double>(*g.max_bytes);
        r.detail = format("canary %.0f bytes, bound %.0f bytes", r.canary_value, static_cast<double>(*g.max_bytes));
    } else {
        r.canary_value = *canary.memory_bytes / static_cast<double>(std::max<std::size_t>(1, canary.endpoints));
        r.stable_value = *stable.memory_bytes / static_cast<double>(std::max<std::size_t>(1, stable.endpoints));
        breach = r.canary_value > *g.max_ratio * r.stable_value;
        r.detail = format("canary %.0f vs stable %.0f bytes per endpoint (max ratio %.2f)", r.canary_value,
                          r.stable_value, *g.max_ratio);
    }
    return persistent(g, s, now, breach, r);
}

Evaluation RouteAnalyzer::evaluate(double now_seconds, const BackendSample& stable, const BackendSample& canary) {
    Evaluation e;
    bool any_hold = false;
    bool any_fail = false;
    for (std::size_t i = 0; i < analysis_.guardrails.size(); ++i) {
        const auto& g = analysis_.guardrails[i];
        GuardrailResult r;
        if (is_statistical(g)) r = evaluate_statistical(g, states_[i]);
        else if (g.metric == Metric::cpu_per_request) r = evaluate_cpu(g, states_[i], now_seconds, stable, canary);
        else r = evaluate_memory(g, states_[i], now_seconds, stable, canary);
        r.guardrail = labels_[i];
        r.dry_run = g.dry_run;
        if (!g.dry_run) {
            any_fail |= r.verdict == Verdict::fail;
            any_hold |= r.verdict == Verdict::hold;
        }
        e.results.push_back(std::move(r));
    }
    // With only dry-run guardrails nothing acts: the route behaves as without analysis
    // (steps advance on time alone).
    e.verdict = any_fail ? Verdict::fail : any_hold ? Verdict::hold : Verdict::pass;
    canary_since_evaluation_ = stable_since_evaluation_ = seconds_since_evaluation_ = 0;
    return e;
}

}  // namespace canaryd::analysis
