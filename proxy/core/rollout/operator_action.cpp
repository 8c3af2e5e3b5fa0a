#include "core/rollout/operator_action.hpp"

namespace canaryd::rollout {

OperatorOutcome apply_operator_action(RouteLoop& loop, const std::string& route, OperatorAction action,
                                      std::optional<std::uint32_t> weight_bp, const std::string& actor, double now) {
    auto& machine = *loop.machine;
    OperatorOutcome outcome;
    switch (action) {
        case OperatorAction::rollback: outcome.change = machine.rollback("rolled back by an operator", actor, now); break;
        case OperatorAction::promote: outcome.change = machine.promote(actor, now); break;
        case OperatorAction::pause: outcome.change = machine.pause(actor, now); break;
        case OperatorAction::resume: {
            const bool was_rolled_back = machine.state().state == State::rolled_back;
            outcome.change = machine.resume(actor, now);
            // A rollback's evidence is about the canary before the operator looked: start over.
            if (was_rolled_back && loop.analyzer) {
                loop.analyzer->reset();
                loop.forget_verdict();
                loop.analyzed_step = -1;
            }
            break;
        }
        case OperatorAction::weight:
            if (!weight_bp) return {400, "give the weight as &canary=PERCENT (e.g. 12.5)", {}};
            if (machine.state().state == State::rolled_back)
                return {409, "route " + route + " is rolled back; resume it before setting a weight", {}};
            outcome.change = machine.set_weight(*weight_bp, actor, now);
            break;
    }
    follow_step(loop);
    return outcome;
}

}  // namespace canaryd::rollout
