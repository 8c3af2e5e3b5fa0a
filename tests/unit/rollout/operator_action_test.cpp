#include "core/rollout/operator_action.hpp"

#include "route_fixture.hpp"

#include <doctest/doctest.h>

using namespace canaryd;
using rollout::OperatorAction;
using rollout::State;

namespace {

rollout::RouteLoop loop_for(const config::Route& route) {
    rollout::RouteLoop loop;
    loop.machine = std::make_unique<rollout::RolloutMachine>(route, 0);
    if (route.analysis) loop.analyzer = std::make_unique<analysis::RouteAnalyzer>(*route.analysis);
    return loop;
}

const char* kStepsAndGuardrail =
    "    rollout: {steps: [{weight: 5, pause: 1m}, {weight: 50, pause: 1m}]}\n"
    "    analysis: {guardrails: [{metric: success_rate, max_drop: 0}]}\n";

}  // namespace

TEST_CASE("operator action: rollback latches, a weight is then refused until resume") {
    auto loop = loop_for(test::route_from(kStepsAndGuardrail));
    auto rollback = rollout::apply_operator_action(loop, "api", OperatorAction::rollback, {}, "token@a", 10);
    CHECK(rollback.status == 200);
    CHECK(rollback.change.changed);
    CHECK(rollback.change.event == "rollback");
    CHECK(loop.machine->state().state == State::rolled_back);
    CHECK(loop.machine->state().weight_bp == 0);
    CHECK(loop.machine->state().actor == "token@a");

    auto weight = rollout::apply_operator_action(loop, "api", OperatorAction::weight, 2000u, "token@a", 11);
    CHECK(weight.status == 409);
    CHECK(weight.error == "route api is rolled back; resume it before setting a weight");
    CHECK_FALSE(weight.change.changed);
    CHECK(loop.machine->state().weight_bp == 0);

    auto missing = rollout::apply_operator_action(loop, "api", OperatorAction::weight, std::nullopt, "token@a", 11);
    CHECK(missing.status == 400);
}

TEST_CASE("operator action: resume after a rollback starts the analysis over") {
    auto loop = loop_for(test::route_from(kStepsAndGuardrail));
    rollout::follow_step(loop);
    CHECK(loop.analyzed_step == 0);
    loop.last_verdict = analysis::Verdict::fail;
    rollout::apply_operator_action(loop, "api", OperatorAction::rollback, {}, "op", 5);
    const auto resume = rollout::apply_operator_action(loop, "api", OperatorAction::resume, {}, "op", 6);
    CHECK(resume.change.changed);
    CHECK(loop.machine->state().state == State::progressing);
    CHECK_FALSE(loop.last_verdict.has_value());
    // The resumed step's passes are counted from now: the analyzer follows the step again.
    CHECK(loop.analyzed_step == loop.machine->state().step);
}

TEST_CASE("operator action: pause keeps the weight, a weight while progressing pauses at it") {
    auto loop = loop_for(test::route_from(kStepsAndGuardrail));
    const auto before = loop.machine->state().weight_bp;
    auto pause = rollout::apply_operator_action(loop, "api", OperatorAction::pause, {}, "op", 1);
    CHECK(pause.change.changed);
    CHECK(loop.machine->state().state == State::paused);
    CHECK(loop.machine->state().weight_bp == before);
    auto weight = rollout::apply_operator_action(loop, "api", OperatorAction::weight, 1234u, "op", 2);
    CHECK(weight.status == 200);
    CHECK(loop.machine->state().weight_bp == 1234u);
}
