#include "analysis/analyzer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace canaryd::analysis {

namespace {

constexpr std::size_t kRateSeconds = 10;  // CPU per request: request rate over 10 s
// Stable's quantile is replaced by an upper confidence bound (z = 2.33, one-sided 99 %) so
// that a noisy estimate does not make a healthy canary look slow.
constexpr double kQuantileZ = 2.33;

template <class... Args>
std::string format(const char* pattern, Args... args) {
    char text[256];
    std::snprintf(text, sizeof text, pattern, args...);
    return text;
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
        if (r.verdict == Verdict::fail) return &r;
    return nullptr;
}

namespace {

// Only the statistical guardrails spend the error budget; cpu_per_request and memory are
// bounds with a persistence requirement and control false alarms through it.
std::size_t statistical_guardrails(const config::Analysis& analysis) {
    return static_cast<std::size_t>(std::count_if(analysis.guardrails.begin(), analysis.guardrails.end(), [](const auto& g) {
        return g.metric == config::Guardrail::Metric::success_rate || g.is_latency();
    }));
}

}  // namespace

RouteAnalyzer::RouteAnalyzer(config::Analysis analysis)
    : analysis_(std::move(analysis)),
      alpha_per_guardrail_((1.0 - analysis_.confidence) /
                           static_cast<double>(std::max<std::size_t>(1, statistical_guardrails(analysis_)))) {
    reset();
}

void RouteAnalyzer::reset() {
    states_.clear();
    for (const auto& g : analysis_.guardrails) {
        GuardrailState s;
        if (g.metric == config::Guardrail::Metric::success_rate && g.min_percent)
            s.exceedance = ExceedanceTest(std::clamp(1.0 - *g.min_percent / 100.0, 1e-6, 1.0 - 1e-6));
        else if (g.is_latency())
            s.exceedance = ExceedanceTest(1.0 - g.latency_quantile());
        states_.push_back(s);
    }
    canary_requests_ = stable_requests_ = canary_failures_ = stable_failures_ = 0;
    stable_latency_ = Window(60);
    canary_latency_ = Window(60);
    stable_window_ = WindowStats{};
    canary_window_ = WindowStats{};
    second_ = 0;
    recent_requests_.clear();
}

bool RouteAnalyzer::enough_requests() const {
    return canary_requests_ >= analysis_.min_requests && stable_requests_ >= analysis_.min_requests;
}

double RouteAnalyzer::latency_threshold_ms(const config::Guardrail& g) const {
    if (g.max_ms) return *g.max_ms;
    const auto& window = stable_window_;
    const double n = static_cast<double>(window.latency.total());
    if (n == 0) return 0;
    const double q = g.latency_quantile();
    const double upper_q = std::min(0.9999, q + kQuantileZ * std::sqrt(q * (1 - q) / n));
    return *g.max_ratio * window.latency.quantile(upper_q) / 1000.0;
}

void RouteAnalyzer::observe_second(const SecondStats& stable, const SecondStats& canary) {
    // Tests first, against thresholds from the seconds before this one (predictable), then
    // this second joins the windows.
    for (std::size_t i = 0; i < analysis_.guardrails.size(); ++i) {
        const auto& g = analysis_.guardrails[i];
        auto& s = states_[i];
        if (g.metric == config::Guardrail::Metric::success_rate) {
            if (g.max_drop_points && *g.max_drop_points == 0)
                s.ratio.observe(canary.failures, stable.failures, canary.requests, stable.requests);
            else if (g.max_drop_points) {
                s.canary_failures.observe(canary.failures, canary.requests);
                s.stable_failures.observe(stable.failures, stable.requests);
            } else {
                s.exceedance.observe(static_cast<double>(canary.failures), static_cast<double>(canary.requests));
            }
        } else if (g.is_latency() && canary.latency.total() > 0) {
            const double threshold_ms = latency_threshold_ms(g);
            if (threshold_ms <= 0) continue;  // no stable latency yet: nothing to compare with
            s.threshold_ms = threshold_ms;
            const double n = static_cast<double>(canary.latency.total());
            s.exceedance.observe(canary.latency.fraction_above(threshold_ms * 1000.0) * n, n);
        }
    }
    ++second_;
    stable_latency_.add(second_, stable);
    canary_latency_.add(second_, canary);
    stable_window_ = stable_latency_.sum(second_);
    canary_window_ = canary_latency_.sum(second_);
    canary_requests_ += canary.requests;
    stable_requests_ += stable.requests;
    canary_failures_ += canary.failures;
    stable_failures_ += stable.failures;
    recent_requests_.emplace_back(stable.requests, canary.requests);
    if (recent_requests_.size() > kRateSeconds) recent_requests_.pop_front();
}

GuardrailResult RouteAnalyzer::evaluate_success_rate(const config::Guardrail& g, GuardrailState& s) const {
    GuardrailResult r;
    r.guardrail = g.name();
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    r.canary_value = canary_requests_ ? 1.0 - static_cast<double>(canary_failures_) / static_cast<double>(canary_requests_) : 1.0;
    r.stable_value = stable_requests_ ? 1.0 - static_cast<double>(stable_failures_) / static_cast<double>(stable_requests_) : 1.0;
    const double log_threshold = std::log(1.0 / alpha_per_guardrail_);
    bool breached = false;
    if (g.max_drop_points && *g.max_drop_points == 0) {
        r.statistic = s.ratio.log_evidence();
        r.threshold = log_threshold;
        breached = r.statistic >= r.threshold;
        r.detail = format("canary success %.4f%% vs stable %.4f%%; evidence %.2f of %.2f nats that the canary fails more",
                          100 * r.canary_value, 100 * r.stable_value, r.statistic, r.threshold);
    } else if (g.max_drop_points) {
        const double margin = *g.max_drop_points / 100.0;
        const double canary_low = s.canary_failures.lower(alpha_per_guardrail_ / 2);
        const double stable_high = s.stable_failures.upper(alpha_per_guardrail_ / 2);
        r.statistic = canary_low - stable_high;  // in failure-rate units
        r.threshold = margin;
        breached = r.statistic > r.threshold;
        r.detail = format("canary failure rate >= %.4f%% and stable <= %.4f%% (confidence bounds); allowed drop %.2f points",
                          100 * canary_low, 100 * stable_high, *g.max_drop_points);
    } else {
        r.statistic = s.exceedance.log_evidence();
        r.threshold = log_threshold;
        breached = r.statistic >= r.threshold;
        r.detail = format("canary success %.4f%%, minimum %.4f%%; evidence %.2f of %.2f nats", 100 * r.canary_value,
                          *g.min_percent, r.statistic, r.threshold);
    }
    if (!enough_requests()) {
        r.verdict = Verdict::hold;
        r.detail = "waiting for min_requests per version; " + r.detail;
    } else {
        r.verdict = breached ? Verdict::fail : Verdict::pass;
    }
    return r;
}

GuardrailResult RouteAnalyzer::evaluate_latency(const config::Guardrail& g, GuardrailState& s) const {
    GuardrailResult r;
    r.guardrail = g.name();
    const auto& stable_window = stable_window_;
    const auto& canary_window = canary_window_;
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    r.canary_value = canary_window.latency.quantile(g.latency_quantile()) / 1000.0;
    r.stable_value = stable_window.latency.quantile(g.latency_quantile()) / 1000.0;
    r.statistic = s.exceedance.log_evidence();
    r.threshold = std::log(1.0 / alpha_per_guardrail_);
    const bool breached = r.statistic >= r.threshold;
    r.detail = format("canary p%g %.3f ms vs stable %.3f ms; evidence %.2f of %.2f nats that more than %.2f%% of canary "
                      "requests exceed %.3f ms",
                      100 * g.latency_quantile(), r.canary_value, r.stable_value, r.statistic, r.threshold,
                      100 * s.exceedance.p0(), s.threshold_ms);
    if (!enough_requests() || (!g.max_ms && stable_window.latency.total() == 0)) {
        r.verdict = Verdict::hold;
        r.detail = "waiting for min_requests per version; " + r.detail;
    } else {
        r.verdict = breached ? Verdict::fail : Verdict::pass;
    }
    return r;
}

GuardrailResult RouteAnalyzer::evaluate_persistent(const config::Guardrail& g, GuardrailState& s, double now,
                                                   const BackendSample& stable, const BackendSample& canary) const {
    GuardrailResult r;
    r.guardrail = g.name();
    r.canary_samples = canary_requests_;
    r.stable_samples = stable_requests_;
    r.threshold = std::chrono::duration<double>(g.persistence).count();
    std::optional<bool> breach;  // nullopt: cannot tell (hold)
    std::string missing;
    if (g.metric == config::Guardrail::Metric::cpu_per_request) {
        std::uint64_t stable_requests = 0;
        std::uint64_t canary_requests = 0;
        for (const auto& [st, ca] : recent_requests_) {
            stable_requests += st;
            canary_requests += ca;
        }
        const double seconds = static_cast<double>(std::max<std::size_t>(1, recent_requests_.size()));
        if (!stable.cpu_cores || !canary.cpu_cores) missing = "a CPU sample is missing";
        else if (stable_requests == 0 || canary_requests == 0) missing = "no recent requests to divide by";
        else {
            r.canary_value = *canary.cpu_cores / (static_cast<double>(canary_requests) / seconds);
            r.stable_value = *stable.cpu_cores / (static_cast<double>(stable_requests) / seconds);
            breach = r.stable_value > 0 ? r.canary_value > *g.max_ratio * r.stable_value : r.canary_value > 0;
            r.detail = format("canary %.6f vs stable %.6f CPU-seconds per request (max ratio %.2f)", r.canary_value,
                              r.stable_value, *g.max_ratio);
        }
    } else {  // memory
        if (!canary.memory_bytes || (g.max_ratio && !stable.memory_bytes)) {
            missing = "a memory sample is missing";
        } else if (g.max_bytes) {
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
    }
    if (!breach) {
        // A missing signal is an internal fault: it holds, and it also breaks a breach streak.
        s.breach_since.reset();
        r.verdict = Verdict::hold;
        r.detail = missing;
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
    if (!enough_requests()) {
        r.verdict = Verdict::hold;
        r.detail = "waiting for min_requests per version; " + r.detail;
    } else {
        r.verdict = *breach && r.statistic >= r.threshold ? Verdict::fail : Verdict::pass;
    }
    return r;
}

Evaluation RouteAnalyzer::evaluate(double now_seconds, const BackendSample& stable, const BackendSample& canary) {
    Evaluation e;
    bool any_hold = false;
    bool any_fail = false;
    for (std::size_t i = 0; i < analysis_.guardrails.size(); ++i) {
        const auto& g = analysis_.guardrails[i];
        GuardrailResult r;
        switch (g.metric) {
            case config::Guardrail::Metric::success_rate: r = evaluate_success_rate(g, states_[i]); break;
            case config::Guardrail::Metric::latency_p50:
            case config::Guardrail::Metric::latency_p90:
            case config::Guardrail::Metric::latency_p99: r = evaluate_latency(g, states_[i]); break;
            case config::Guardrail::Metric::cpu_per_request:
            case config::Guardrail::Metric::memory:
                r = evaluate_persistent(g, states_[i], now_seconds, stable, canary);
                break;
        }
        any_fail |= r.verdict == Verdict::fail;
        any_hold |= r.verdict == Verdict::hold;
        e.results.push_back(std::move(r));
    }
    e.verdict = any_fail ? Verdict::fail : any_hold ? Verdict::hold : Verdict::pass;
    return e;
}

}  // namespace canaryd::analysis
