#include "core/rollout/route_loop.hpp"

#include "route_fixture.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace canaryd;
using analysis::Verdict;
using rollout::State;

namespace {

using test::route_from;

rollout::RouteLoop loop_for(const config::Route& route) {
    rollout::RouteLoop loop;
    loop.machine = std::make_unique<rollout::RolloutMachine>(route, 0);
    if (route.analysis) loop.analyzer = std::make_unique<analysis::RouteAnalyzer>(*route.analysis);
    return loop;
}

// One second of `rps` requests at `error_rate`, log-normal latencies around 20 ms.
analysis::SecondStats traffic(std::mt19937_64& rng, double rps, double error_rate) {
    analysis::SecondStats s;
    s.requests = std::poisson_distribution<std::uint64_t>(rps)(rng);
    s.failures = s.requests ? std::binomial_distribution<std::uint64_t>(s.requests, error_rate)(rng) : 0;
    std::lognormal_distribution<double> latency(std::log(20'000.0), 0.4);
    for (std::uint64_t i = 0; i < s.requests; ++i) s.latency.add(static_cast<std::uint64_t>(latency(rng)));
    return s;
}

}  // namespace

TEST_CASE("route loop: 600 simulated seconds, steps advance on passes, a regression is rolled back (no socket, no sleep)") {
    const auto route = route_from(
        "    rollout: {steps: [{weight: 5, pause: 100s}, {weight: 20, pause: 100s}, {weight: 50, pause: 10m}, {weight: 100}]}\n"
        "    analysis:\n      interval: 2s\n      min_requests: 50\n      guardrails:\n"
        "        - {metric: success_rate, max_drop: 0}\n        - {metric: latency_p99, max_ratio: 1.25}\n");
    auto loop = loop_for(route);
    std::mt19937_64 rng(600);
    int evaluations = 0, announcements = 0, rollbacks = 0, advances = 0;
    double rolled_back_at = -1;
    const double regression_at = 300;
    for (int t = 1; t <= 600; ++t) {
        const double weight = loop.machine->state().weight_bp / 10'000.0;
        rollout::SecondInput input;
        input.now = t;
        input.stable = traffic(rng, 400 * (1 - weight), 0.001);
        input.canary = traffic(rng, 400 * weight, t >= regression_at ? 0.05 : 0.001);
        const auto effects = rollout::run_second(loop, input);
        evaluations += effects.evaluated;
        announcements += effects.verdict_changed;
        if (effects.evaluated) REQUIRE(effects.shown.has_value());  // every evaluation names a guardrail
        if (effects.change.changed) {
            if (effects.change.event == "advance") ++advances;
            if (effects.change.event == "rollback") {
                ++rollbacks;
                rolled_back_at = t;
                CHECK(effects.evaluation.results[*effects.shown].verdict == Verdict::fail);
                CHECK(effects.evaluation.results[*effects.shown].guardrail == "success_rate");
            }
        }
    }
    CHECK(evaluations == 300);             // interval 2 s
    CHECK(advances == 2);                  // 5 -> 20 -> 50 % by 300 s, each after its pause and passes
    CHECK(rollbacks == 1);                 // latched: one decision
    CHECK(loop.machine->state().state == State::rolled_back);
    CHECK(loop.machine->state().weight_bp == 0);
    INFO("rolled back " << rolled_back_at - regression_at << " s after the onset");
    CHECK(rolled_back_at > regression_at);
    CHECK(rolled_back_at < regression_at + 60);
    CHECK(announcements >= 2);             // hold -> pass, then -> fail: one line per change
    CHECK(announcements < 20);
}

TEST_CASE("route loop: steps without guardrails advance on time alone, each evaluation is a pass") {
    auto loop = loop_for(route_from("    rollout: {steps: [{weight: 10, pause: 30s}, {weight: 100}]}\n"));
    std::mt19937_64 rng(1);
    std::string last_event;
    for (int t = 1; t <= 40; ++t) {
        const auto effects = rollout::run_second(loop, {traffic(rng, 10, 0), traffic(rng, 1, 0), {}, {}, double(t)});
        CHECK(effects.evaluated);
        CHECK(effects.evaluation.verdict == Verdict::pass);
        CHECK_FALSE(effects.verdict_changed);  // nothing to announce without guardrails
        if (effects.change.changed) last_event = effects.change.event;
    }
    CHECK(loop.machine->state().state == State::promoted);
    CHECK(last_event == "promote");
}

TEST_CASE("route loop: fleet authority — rollback_only acts on a failure alone, none never acts") {
    const auto route = route_from("    rollout: {steps: [{weight: 5, pause: 10s}, {weight: 50, pause: 10s}, {weight: 100}]}\n");
    analysis::Evaluation pass;
    pass.verdict = Verdict::pass;
    analysis::Evaluation fail;
    fail.verdict = Verdict::fail;
    analysis::GuardrailResult failed;
    failed.guardrail = "success_rate";
    failed.verdict = Verdict::fail;
    fail.results.push_back(failed);

    rollout::RolloutMachine machine(route, 0);
    CHECK_FALSE(rollout::decide(machine, pass, fleet::Authority::rollback_only, 20).changed);  // due, but may not advance
    CHECK(machine.state().step == 0);
    CHECK_FALSE(rollout::decide(machine, fail, fleet::Authority::none, 21).changed);
    CHECK(machine.state().state == State::progressing);
    CHECK(rollout::decide(machine, pass, fleet::Authority::full, 22).event == "advance");
    CHECK(machine.state().step == 1);
    const auto rolled = rollout::decide(machine, fail, fleet::Authority::rollback_only, 23);
    CHECK(rolled.event == "rollback");
    CHECK(machine.state().state == State::rolled_back);
    CHECK(machine.state().reason.find("success_rate") != std::string::npos);
}
