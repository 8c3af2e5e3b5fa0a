// Anytime-valid sequential tests on per-block shares (SPEC §6).
//
// Every statistical guardrail reduces one block of traffic (one second) to a share S in
// [0, 1] whose mean cannot exceed a known null share π when the canary is healthy:
//   two-sample: S = the canary's part of the block's events (failures, slow requests),
//               π = the canary's part of the block's requests;
//   one-sample: S = the canary's event rate in the block, π = the allowed rate.
// A test bets on each block: wealth × (1 + λ (S − π)), λ in [0, 1/π). Whatever happens
// inside a block — one failure or a clump of fifty from one connection reset — it is one
// bounded bet, so correlated failures inside a block cannot manufacture evidence; and since
// π is the block's own split, a ramp or a rollout step changes nothing (no pooled counts,
// no Simpson's paradox). The wealth is a nonnegative supermartingale under the null, so by
// Ville's inequality it reaches 1/α with probability at most α, however often it is read.
//
// Alternatives are unknown, so each test mixes bets over a grid of rate ratios r (the bet
// that is the likelihood ratio of "the canary is r times as likely to own an event").
//
// Late regressions: evidence gathered while the canary was healthy drives every bet's wealth
// down, and a regression that starts later would first have to pay that debt back. So
// fresh sets of bets keep starting; the detector's e-value is the weighted sum of all live
// sets (a mixture over restart times). The error budget is spent per horizon: the
// release's first set gets half of the first horizon's budget, and the rest of a horizon's
// budget goes to its restarts: the k-th restart of a horizon gets half of it for the time
// since the restart before (Δ/horizon; a restart is forced at every horizon boundary, so
// these add up to 1) and half as 1/(k(k+1)) (adding up to at most 1), so that a regression
// starting soon after the release or a boundary pays little. Every ratio of the grid keeps
// its own chain of restarts, spaced by its own debt, not by the clock: a fresh set of that
// ratio starts once the freshest one has lost `restart_debt` nats to healthy traffic
// (within [min_restart, max_restart] blocks). A large ratio — the bet that catches a sharp
// regression in seconds — loses fast on healthy traffic and restarts often, each restart
// light; a small ratio — the bet on a slight regression that takes minutes to show — loses
// slowly and restarts seldom, each restart heavy. So a slight late regression pays
// about log(horizon / its own detection time), not log(horizon / 10 s), and the debt any
// regression must repay is bounded at any traffic.
// Hence P(false alarm within the first k horizons) <= k·α — for a rollout that ends
// within one horizon, at most α. Sets older than a horizon are dropped (younger ones
// supersede them), except the release's first.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace canaryd::analysis {

// One block reduced to a share (see above). `null_share` is in (0, 1).
struct BlockShare {
    double share = 0;
    double null_share = 0.5;
};

// Two-sample block of events (failures or slow requests) of both versions. `margin` (in
// rate units, e.g. 0.005 for half a point) is added to the stable's events as `margin ×
// stable_requests` pseudo-events, so the null becomes "canary rate <= stable rate + margin";
// with Poisson or clumped events the share's mean stays at most π (Jensen), so the same
// construction tests a margin without a second confidence sequence. The pseudo-events are
// Poisson(margin × stable_requests) and the share is averaged over them exactly (an
// average of e-values is an e-value), so the margin costs no power to rounding at low
// counts. nullopt: the block says nothing (a version without requests, or no events and no
// margin). Events above requests are clamped (see `clamped`).
struct TwoSampleCounts {
    double canary_events = 0;
    double stable_events = 0;
    double canary_requests = 0;
    double stable_requests = 0;
};
std::optional<BlockShare> two_sample_block(TwoSampleCounts counts, double margin, bool* clamped = nullptr);
// One-sample block: `events` of `trials` against an allowed rate `p0` in (0, 1).
std::optional<BlockShare> one_sample_block(double events, double trials, double p0, bool* clamped = nullptr);

// The bets on one block, for a grid of rate ratios.
struct ShareBets {
    static constexpr std::array<double, 8> kRatios{1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 1000.0};
    static constexpr std::size_t kCount = kRatios.size();
    // log(1 + λ_j (S − π)) for every ratio j; each is > -inf because λ_j < 1/π.
    static std::array<double, kCount> log_factors(const BlockShare& block);
};

class ShareTest {
public:
    struct Schedule {
        double restart_debt = 2.0;       // nats a ratio's freshest set may lose before it restarts
        std::uint32_t min_restart = 10;  // blocks
        std::uint32_t max_restart = 300; // blocks
        std::uint32_t horizon = 1800;    // blocks per error budget
    };
    ShareTest() : ShareTest(Schedule{}) {}
    explicit ShareTest(Schedule schedule);

    // One block of time; nullopt when it carried no information (nothing is bet).
    void advance(const std::optional<BlockShare>& block);
    // log of the e-value (nats): the weighted mixture over live sets and ratios. Starts at
    // log(1/2) (the release's set at half weight); fails the null at log(1/α).
    double log_evidence() const;
    // Blocks advanced and blocks that carried information, since the last reset.
    std::uint64_t blocks() const { return blocks_; }
    std::uint64_t informative_blocks() const { return informative_; }
    void reset();

private:
    // The bets at one rate ratio of the grid: the release's set and its restarts.
    struct Chain {
        struct Set {
            std::uint64_t started = 0;
            double log_weight = 0;
            double log_wealth = 0;
        };
        std::vector<Set> sets;  // sets[0] is the release's
        std::uint64_t last_start = 0;
        std::uint64_t restarts_in_horizon = 0;  // in the horizon of the latest start
    };
    void start_set(Chain& chain) const;
    bool restart_due(const Chain& chain) const;

    Schedule schedule_;
    std::array<Chain, ShareBets::kCount> chains_;
    std::uint64_t blocks_ = 0;
    std::uint64_t informative_ = 0;
};

// log(sum_i exp(x_i)), computed without overflow; -inf for an empty range.
double log_sum_exp(const double* values, std::size_t count);

}  // namespace canaryd::analysis
