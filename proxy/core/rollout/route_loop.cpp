#include "core/rollout/route_loop.hpp"

namespace canaryd::rollout {

SecondEffects analyze_second(RouteLoop& loop, const SecondInput& input) {
    SecondEffects out;
    if (loop.analyzer) {
        loop.analyzer->observe_second(input.stable, input.canary);
        const auto interval = loop.analyzer->config().interval.count() / 1000;
        if (++loop.seconds_since_evaluation < interval) return out;
        loop.seconds_since_evaluation = 0;
        out.evaluation = loop.analyzer->evaluate(input.now, input.stable_backend, input.canary_backend);
    } else {
        out.evaluation.verdict = analysis::Verdict::pass;
    }
    out.evaluated = true;
    const auto& results = out.evaluation.results;
    const auto* failure = out.evaluation.first_failure();
    if (loop.analyzer) {
        if (failure) out.shown = static_cast<std::size_t>(failure - results.data());
        for (std::size_t i = 0; !out.shown && i < results.size(); ++i)
            if (results[i].verdict == out.evaluation.verdict) out.shown = i;
        out.verdict_changed = loop.last_verdict != out.evaluation.verdict;
        loop.last_verdict = out.evaluation.verdict;
    }
    return out;
}

Change decide(RolloutMachine& machine, const analysis::Evaluation& evaluation, fleet::Authority authority, double now) {
    if (authority == fleet::Authority::none) return {};
    if (authority == fleet::Authority::rollback_only && evaluation.verdict != analysis::Verdict::fail) return {};
    const auto* failure = evaluation.first_failure();
    return machine.on_evaluation(evaluation.verdict, failure ? failure->guardrail : "", now);
}

SecondEffects run_second(RouteLoop& loop, const SecondInput& input, fleet::Authority authority) {
    auto out = analyze_second(loop, input);
    if (!out.evaluated || !loop.machine) return out;
    out.change = decide(*loop.machine, out.evaluation, authority, input.now);
    follow_step(loop);
    return out;
}

void follow_step(RouteLoop& loop) {
    if (loop.machine) follow_step(loop, *loop.machine);
}

void follow_step(RouteLoop& loop, const RolloutMachine& machine) {
    if (!loop.analyzer || !machine.has_steps()) return;
    const auto& state = machine.state();
    if (state.state != State::progressing || state.step == loop.analyzed_step) return;
    loop.analyzed_step = state.step;
    loop.analyzer->begin_step();
}

}  // namespace canaryd::rollout
