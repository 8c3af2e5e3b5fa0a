// Where a rollback is decided: one second of a route's decision loop (SPEC §6), pure. The
// control thread calls run_second() once a second with that second's signals; it feeds the
// analyzer, evaluates every `analysis.interval`, hands the verdict to the rollout machine and
// keeps the analyzer's step counts in line with the machine's step. What to do about it —
// store the weight, persist, announce — is returned as effects that io carries out in that
// order. "No analysis" (steps without guardrails) is a pass, so such steps advance on time.
#pragma once

#include "core/analysis/analyzer.hpp"
#include "core/fleet/authority.hpp"
#include "core/rollout/rollout_machine.hpp"

#include <cstdint>
#include <memory>
#include <optional>

namespace canaryd::rollout {

struct RouteLoop {
    std::unique_ptr<RolloutMachine> machine;
    std::unique_ptr<analysis::RouteAnalyzer> analyzer;  // null: steps advance on time alone
    std::int64_t seconds_since_evaluation = 0;
    std::optional<analysis::Verdict> last_verdict;    // the last announced verdict
    int analyzed_step = -1;  // the rollout step the analyzer's step counts belong to

    // Forget the announced verdict (the guardrails changed: the next verdict is news).
    void forget_verdict() { last_verdict.reset(); }
};

struct SecondInput {
    analysis::SecondStats stable, canary;
    analysis::BackendSample stable_backend, canary_backend;
    double now = 0;  // seconds on any monotonic clock
};

struct SecondEffects {
    bool evaluated = false;
    analysis::Evaluation evaluation;       // when evaluated (empty results without an analyzer)
    std::optional<std::size_t> shown;      // index in evaluation.results: the failure, else the first with the verdict
    bool verdict_changed = false;          // announce: one line per change of verdict, not per second
    Change change;                         // when change.changed: store the weight, persist, announce
};

// `authority` (fleet mode, core/fleet/authority): how far the verdict may move the machine.
SecondEffects run_second(RouteLoop& loop, const SecondInput& input, fleet::Authority authority = fleet::Authority::full);

// The analysis half of run_second: feed the second (or a fleet block), evaluate when the
// interval is due. Touches no machine, so it also serves a loop without one (the fleet
// analysis, whose verdicts a replica applies to its route's machine with decide()).
SecondEffects analyze_second(RouteLoop& loop, const SecondInput& input);
// The machine half: what an evaluation does to the rollout, as far as `authority` allows —
// full: everything; rollback_only: a failing verdict rolls back, nothing else happens
// (no step advances, no hold timer runs out); none: nothing.
Change decide(RolloutMachine& machine, const analysis::Evaluation& evaluation, fleet::Authority authority, double now);

// After any change of the machine's state (an evaluation or an operator action): a step
// advances only on passes earned in it, so the analyzer starts counting the step's own
// requests from the moment the machine enters it.
void follow_step(RouteLoop& loop);
// The same for a loop whose verdicts drive another loop's machine (the fleet analysis).
void follow_step(RouteLoop& loop, const RolloutMachine& machine);

}  // namespace canaryd::rollout
