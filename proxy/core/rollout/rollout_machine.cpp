#include "core/rollout/rollout_machine.hpp"

#include <algorithm>

namespace canaryd::rollout {

const char* to_string(State state) {
    switch (state) {
        case State::steady: return "steady";
        case State::progressing: return "progressing";
        case State::paused: return "paused";
        case State::rolled_back: return "rolled_back";
        case State::promoted: return "promoted";
    }
    return "steady";
}

std::optional<State> state_from_string(std::string_view text) {
    for (State s : {State::steady, State::progressing, State::paused, State::rolled_back, State::promoted})
        if (text == to_string(s)) return s;
    return std::nullopt;
}

RolloutMachine::RolloutMachine(const config::Route& route, double now) {
    if (route.rollout) {
        steps_ = route.rollout->steps;
        max_hold_ = route.rollout->max_hold;
    }
    configured_weight_bp_ = route.canary_weight_bp;
    state_.canary_release = route.canary ? route.canary->release : "";
    state_.actor = "config";
    if (steps_.empty()) {
        state_.state = State::steady;
        state_.weight_bp = configured_weight_bp_;
    } else {
        state_.state = State::progressing;
        state_.step = 0;
        state_.weight_bp = steps_[0].weight_bp;
    }
    step_started_ = now;
}

std::uint32_t RolloutMachine::automatic_weight() const {
    if (steps_.empty()) return configured_weight_bp_;
    const auto step = static_cast<std::size_t>(std::clamp(state_.step, 0, static_cast<int>(steps_.size()) - 1));
    return steps_[step].weight_bp;
}

Change RolloutMachine::set(State state, std::uint32_t weight_bp, int step, std::string reason, std::string actor,
                           std::string event, double now) {
    Change change;
    change.changed = state != state_.state || weight_bp != state_.weight_bp || step != state_.step;
    change.event = std::move(event);
    if (step != state_.step || state != state_.state) step_started_ = now;
    state_.state = state;
    state_.weight_bp = weight_bp;
    state_.step = step;
    state_.reason = std::move(reason);
    state_.actor = std::move(actor);
    return change;
}

void RolloutMachine::restore(const RouteState& persisted, double now) {
    state_ = persisted;
    if (!steps_.empty()) state_.step = std::clamp(state_.step, 0, static_cast<int>(steps_.size()) - 1);
    else state_.step = -1;
    // Automatic states take their weight from the (possibly edited) file; latched and
    // operator-held ones keep the persisted weight.
    if (state_.state == State::progressing || state_.state == State::steady) state_.weight_bp = automatic_weight();
    if (state_.state == State::progressing && steps_.empty()) state_.state = State::steady;
    if (state_.state == State::rolled_back) state_.weight_bp = 0;
    step_started_ = now;  // a step's pause starts over after a restart
}

Change RolloutMachine::on_config(const config::Route& route, double now) {
    steps_ = route.rollout ? route.rollout->steps : std::vector<config::RolloutStep>{};
    max_hold_ = route.rollout ? route.rollout->max_hold : config::Duration{600'000};
    configured_weight_bp_ = route.canary_weight_bp;
    switch (state_.state) {
        case State::rolled_back:
        case State::paused:
        case State::promoted:
            return {};  // latched or held by an operator: a reload changes nothing
        case State::steady:
        case State::progressing: {
            const int step = steps_.empty() ? -1 : std::clamp(std::max(state_.step, 0), 0, static_cast<int>(steps_.size()) - 1);
            const State state = steps_.empty() ? State::steady : State::progressing;
            state_.step = step;
            return set(state, automatic_weight(), step, "configuration reloaded", "config", "config", now);
        }
    }
    return {};
}

Change RolloutMachine::on_evaluation(analysis::Verdict verdict, const std::string& failed, double now) {
    if (state_.state == State::rolled_back) return {};
    if (verdict == analysis::Verdict::fail) return rollback("guardrail " + failed + " failed", "analyzer", now);
    if (state_.state != State::progressing) return {};
    const auto& step = steps_[static_cast<std::size_t>(state_.step)];
    const double elapsed = now - step_started_;
    if (step.gate == config::RolloutStep::Gate::manual) return {};  // an operator opens it
    if (step.gate == config::RolloutStep::Gate::webhook) {
        // The webhook opens it (on_gate_open); one that never answers 2xx asks an operator.
        if (elapsed >= std::chrono::duration<double>(max_hold_).count())
            return set(State::paused, state_.weight_bp, state_.step,
                       "the webhook gate did not open within rollout.max_hold", "analyzer", "hold_timeout", now);
        return {};
    }
    const double pause = std::chrono::duration<double>(step.pause).count();
    if (elapsed < pause) return {};
    if (verdict == analysis::Verdict::pass)
        return advance("step " + std::to_string(state_.step + 1) + " passed its pause", "analyzer", now);
    // Hold: the pause is over but there is not enough evidence yet. Waiting forever would
    // leave a release half-done unnoticed, so after max_hold an operator is asked to decide.
    if (elapsed - pause >= std::chrono::duration<double>(max_hold_).count())
        return set(State::paused, state_.weight_bp, state_.step,
                   "analysis held for longer than rollout.max_hold (too little traffic or a missing signal)", "analyzer",
                   "hold_timeout", now);
    return {};
}

Change RolloutMachine::rollback(std::string reason, std::string actor, double now) {
    if (state_.state == State::rolled_back) return {};
    return set(State::rolled_back, 0, state_.step, std::move(reason), std::move(actor), "rollback", now);
}

Change RolloutMachine::advance(std::string reason, std::string actor, double now) {
    const int last = static_cast<int>(steps_.size()) - 1;
    const int next = state_.step + 1;
    // After the last step, or on reaching a last step of 100 %, the canary is promoted to
    // 100 % (SPEC §6).
    if (state_.step >= last || (next == last && steps_.back().weight_bp == config::kWeightScale))
        return set(State::promoted, config::kWeightScale, last, "every step passed", std::move(actor), "promote", now);
    return set(State::progressing, steps_[static_cast<std::size_t>(next)].weight_bp, next, std::move(reason),
               std::move(actor), "advance", now);
}

const config::RolloutStep* RolloutMachine::waiting_gate() const {
    if (state_.state != State::progressing || state_.step < 0 || state_.step >= static_cast<int>(steps_.size()))
        return nullptr;
    const auto& step = steps_[static_cast<std::size_t>(state_.step)];
    return step.gate == config::RolloutStep::Gate::none ? nullptr : &step;
}

Change RolloutMachine::on_gate_open(std::string actor, double now) {
    const auto* gate = waiting_gate();
    if (!gate) return {};
    const bool manual = gate->gate == config::RolloutStep::Gate::manual;
    return advance("step " + std::to_string(state_.step + 1) + (manual ? " approved" : " opened by its webhook"),
                   std::move(actor), now);
}

Change RolloutMachine::promote(std::string actor, double now) {
    if (const auto* gate = waiting_gate(); gate && gate->gate == config::RolloutStep::Gate::manual)
        return on_gate_open(std::move(actor), now);
    const int last = steps_.empty() ? -1 : static_cast<int>(steps_.size()) - 1;
    return set(State::promoted, config::kWeightScale, last, "promoted by an operator", std::move(actor), "promote", now);
}

Change RolloutMachine::pause(std::string actor, double now) {
    if (state_.state == State::rolled_back) return {};  // a rollback stays a rollback
    return set(State::paused, state_.weight_bp, state_.step, "paused by an operator", std::move(actor), "pause", now);
}

Change RolloutMachine::resume(std::string actor, double now) {
    if (state_.state == State::rolled_back) {
        // Clearing a latched rollback starts the release over.
        const int step = steps_.empty() ? -1 : 0;
        state_.step = step;
        return set(steps_.empty() ? State::steady : State::progressing, automatic_weight(), step,
                   "resumed by an operator after a rollback", std::move(actor), "resume", now);
    }
    if (state_.state != State::paused) return {};
    return set(steps_.empty() ? State::steady : State::progressing, automatic_weight(), state_.step,
               "resumed by an operator", std::move(actor), "resume", now);
}

Change RolloutMachine::set_weight(std::uint32_t weight_bp, std::string actor, double now) {
    // An explicit weight holds until resume; a latched rollback must be resumed first.
    if (state_.state == State::rolled_back) return {};
    return set(State::paused, weight_bp, state_.step, "weight set by an operator", std::move(actor), "weight", now);
}

}  // namespace canaryd::rollout
