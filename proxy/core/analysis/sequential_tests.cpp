#include "core/analysis/sequential_tests.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace canaryd::analysis {

namespace {

double clamp_events(double events, double trials, bool* clamped) {
    if (events > trials) {
        if (clamped) *clamped = true;
        return trials;
    }
    return std::max(0.0, events);
}

// E[1 / (events + V)] for V ~ Poisson(mean), events > 0. Above a mean of 200 the
// Poisson is tight enough that 1 / (events + mean) — a lower bound (Jensen), so a
// conservative share — loses nothing that matters.
double mean_inverse_with_poisson(double events, double mean) {
    if (mean <= 0) return 1.0 / events;
    if (mean > 200) return 1.0 / (events + mean);
    double pmf = std::exp(-mean);
    double total = 0;
    double mass = 0;
    const int last = static_cast<int>(mean + 12.0 * std::sqrt(mean) + 30.0);
    for (int v = 0; v <= last && mass < 1.0 - 1e-12; ++v) {
        total += pmf / (events + v);
        mass += pmf;
        pmf *= mean / (v + 1);
    }
    return total;
}

}  // namespace

std::optional<BlockShare> two_sample_block(TwoSampleCounts c, double margin, bool* clamped) {
    if (c.canary_requests <= 0 || c.stable_requests <= 0) return std::nullopt;
    const double canary_events = clamp_events(c.canary_events, c.canary_requests, clamped);
    const double stable_events = clamp_events(c.stable_events, c.stable_requests, clamped);
    const double pseudo_events = std::max(0.0, margin) * c.stable_requests;
    const double events = canary_events + stable_events;
    const double pi = c.canary_requests / (c.canary_requests + c.stable_requests);
    if (events <= 0) {
        if (pseudo_events <= 0) return std::nullopt;
        // No real event: the share is 0 when a pseudo-event was drawn, and the block places
        // no bet (share = π) when none was.
        return BlockShare{pi * std::exp(-pseudo_events), pi};
    }
    return BlockShare{canary_events * mean_inverse_with_poisson(events, pseudo_events), pi};
}

std::optional<BlockShare> one_sample_block(double events, double trials, double p0, bool* clamped) {
    if (trials <= 0 || p0 <= 0 || p0 >= 1) return std::nullopt;
    return BlockShare{clamp_events(events, trials, clamped) / trials, p0};
}

std::array<double, ShareBets::kCount> ShareBets::log_factors(const BlockShare& block) {
    std::array<double, kCount> out{};
    const double pi = block.null_share;
    const double share = std::clamp(block.share, 0.0, 1.0);
    if (!(pi > 0 && pi < 1)) return out;  // no bet can be placed safely
    for (std::size_t j = 0; j < kCount; ++j) {
        // q: the canary's share of events if it were r times as likely to own one. With
        // λ = (q − π) / (π (1 − π)), 1 + λ (S − π) is exactly the likelihood ratio q/π at
        // S = 1 and (1 − q)/(1 − π) at S = 0: positive, since q < 1.
        const double r = kRatios[j];
        const double q = r * pi / (r * pi + 1.0 - pi);
        const double lambda = (q - pi) / (pi * (1.0 - pi));
        out[j] = std::log1p(lambda * (share - pi));
    }
    return out;
}

double log_sum_exp(const double* values, std::size_t count) {
    if (count == 0) return -std::numeric_limits<double>::infinity();
    const double top = *std::max_element(values, values + count);
    if (!std::isfinite(top)) return top;
    double sum = 0;
    for (std::size_t i = 0; i < count; ++i) sum += std::exp(values[i] - top);
    return top + std::log(sum);
}

ShareTest::ShareTest(Schedule schedule) : schedule_(schedule) {
    schedule_.min_restart = std::max<std::uint32_t>(1, schedule_.min_restart);
    schedule_.max_restart = std::max(schedule_.min_restart, schedule_.max_restart);
    schedule_.horizon = std::max(schedule_.max_restart, schedule_.horizon);
    reset();
}

void ShareTest::reset() {
    for (auto& chain : chains_) chain = Chain{};
    blocks_ = 0;
    informative_ = 0;
}

bool ShareTest::restart_due(const Chain& chain) const {
    const std::uint64_t since = blocks_ - chain.last_start;
    if (blocks_ == 0 || blocks_ % schedule_.horizon == 0 || since >= schedule_.max_restart) return true;
    return since >= schedule_.min_restart && -chain.sets.back().log_wealth >= schedule_.restart_debt;
}

void ShareTest::start_set(Chain& chain) const {
    const std::uint64_t horizon = schedule_.horizon;
    double weight = 0.5;
    if (blocks_ != 0) {
        // Restart k of horizon h = ceil(blocks / horizon) (the start forced at a boundary
        // closes the horizon it ends). Half of its weight is back-coverage — the time since
        // the previous start over the horizon; starts are forced at every boundary, so one
        // horizon's intervals tile it and add up to 1 — and half is 1/(k(k+1)), which also
        // adds up to at most 1 over a horizon and makes the first restarts after a release
        // heavy: a regression that starts a few seconds after the release pays little for
        // not having been there from the first block.
        const std::uint64_t horizon_index = (blocks_ - 1) / horizon;
        const std::uint64_t previous_index = chain.last_start == 0 ? 0 : (chain.last_start - 1) / horizon;
        if (horizon_index != previous_index) chain.restarts_in_horizon = 0;
        const double k = static_cast<double>(++chain.restarts_in_horizon);
        const double covered = static_cast<double>(blocks_ - chain.last_start) / static_cast<double>(horizon);
        const double budget = horizon_index == 0 ? 0.5 : 1.0;  // the release's set holds the other half
        weight = budget * (0.5 * covered + 0.5 / (k * (k + 1.0)));
    }
    chain.last_start = blocks_;
    // Sets older than a horizon are superseded by younger ones; the release's first set
    // stays, so a small regression present from the start keeps all its evidence.
    std::erase_if(chain.sets, [&](const Chain::Set& s) { return s.started != 0 && s.started + horizon <= blocks_; });
    chain.sets.push_back({blocks_, std::log(weight), 0.0});
}

void ShareTest::advance(const std::optional<BlockShare>& block) {
    for (auto& chain : chains_)
        if (restart_due(chain)) start_set(chain);
    ++blocks_;
    if (!block) return;
    ++informative_;
    const auto factors = ShareBets::log_factors(*block);
    for (std::size_t j = 0; j < factors.size(); ++j)
        for (auto& set : chains_[j].sets) set.log_wealth += factors[j];
}

double ShareTest::log_evidence() const {
    // Before the first block: the release's sets, untouched, at half weight.
    if (blocks_ == 0) return std::log(0.5);
    // Each ratio's chain holds 1/kCount of the budget.
    const double log_count = std::log(static_cast<double>(ShareBets::kCount));
    std::vector<double> terms;
    for (const auto& chain : chains_)
        for (const auto& set : chain.sets) terms.push_back(set.log_weight + set.log_wealth - log_count);
    return log_sum_exp(terms.data(), terms.size());
}

}  // namespace canaryd::analysis
