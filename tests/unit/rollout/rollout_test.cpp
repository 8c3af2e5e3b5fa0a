#include "core/rollout/rollout_machine.hpp"
#include "core/rollout/state_file.hpp"

#include "route_fixture.hpp"

#include <doctest/doctest.h>

using namespace canaryd;
using analysis::Verdict;
using rollout::State;

namespace {

using test::route_from;

const std::string kSteps = "    rollout: {steps: [{weight: 1, pause: 30s}, {weight: 10, pause: 60s}, {weight: 50, pause: 60s}, {weight: 100}], max_hold: 5m}\n";

}  // namespace

TEST_CASE("without steps: steady at the configured weight, rolled back on a failure") {
    rollout::RolloutMachine m(route_from("    canary_weight: 10\n"), 0);
    CHECK(m.state().state == State::steady);
    CHECK(m.state().weight_bp == 1'000);
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 100).changed);
    CHECK_FALSE(m.on_evaluation(Verdict::hold, "", 101).changed);
    auto c = m.on_evaluation(Verdict::fail, "success_rate", 102);
    CHECK(c.changed);
    CHECK(c.event == "rollback");
    CHECK(m.state().state == State::rolled_back);
    CHECK(m.state().weight_bp == 0);
    CHECK(m.state().reason.find("success_rate") != std::string::npos);
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 200).changed);  // latched
}

TEST_CASE("steps advance after each pause only on pass, and promote at the end") {
    rollout::RolloutMachine m(route_from(kSteps), 0);
    CHECK(m.state().state == State::progressing);
    CHECK(m.state().weight_bp == 100);
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 29).changed);  // pause not over
    CHECK_FALSE(m.on_evaluation(Verdict::hold, "", 31).changed);  // hold waits
    auto c = m.on_evaluation(Verdict::pass, "", 32);
    CHECK(c.event == "advance");
    CHECK(m.state().step == 1);
    CHECK(m.state().weight_bp == 1'000);
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 91).changed);  // 59 s into a 60 s pause
    CHECK(m.on_evaluation(Verdict::pass, "", 92).event == "advance");
    CHECK(m.state().weight_bp == 5'000);
    auto promote = m.on_evaluation(Verdict::pass, "", 152);
    CHECK(promote.event == "promote");
    CHECK(m.state().state == State::promoted);
    CHECK(m.state().weight_bp == 10'000);
}

TEST_CASE("a step that holds longer than max_hold pauses for an operator, never promotes") {
    rollout::RolloutMachine m(route_from(kSteps), 0);
    CHECK_FALSE(m.on_evaluation(Verdict::hold, "", 100).changed);
    auto c = m.on_evaluation(Verdict::hold, "", 30 + 300);
    CHECK(c.event == "hold_timeout");
    CHECK(m.state().state == State::paused);
    CHECK(m.state().weight_bp == 100);  // unchanged
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 1000).changed);  // paused: no advancing
    CHECK(m.on_evaluation(Verdict::fail, "latency_p99", 1001).event == "rollback");  // still guarded
}

TEST_CASE("operator actions") {
    rollout::RolloutMachine m(route_from(kSteps), 0);
    CHECK(m.pause("ops@10.0.0.1", 1).event == "pause");
    CHECK(m.state().actor == "ops@10.0.0.1");
    CHECK(m.resume("ops", 2).event == "resume");
    CHECK(m.state().state == State::progressing);
    CHECK(m.set_weight(2'500, "ops", 3).changed);
    CHECK(m.state().state == State::paused);
    CHECK(m.state().weight_bp == 2'500);
    CHECK(m.rollback("rolled back by an operator", "ops", 4).changed);
    CHECK(m.state().weight_bp == 0);
    CHECK_FALSE(m.set_weight(1'000, "ops", 5).changed);  // resume first
    CHECK_FALSE(m.pause("ops", 5).changed);
    auto resumed = m.resume("ops", 6);
    CHECK(resumed.changed);
    CHECK(m.state().state == State::progressing);
    CHECK(m.state().step == 0);  // a cleared rollback starts over
    CHECK(m.state().weight_bp == 100);
    CHECK(m.promote("ops", 7).changed);
    CHECK(m.state().weight_bp == 10'000);
}

TEST_CASE("config reloads keep latches, pauses and steps, automatic states follow the file") {
    auto route = route_from("    canary_weight: 10\n");
    rollout::RolloutMachine steady(route, 0);
    auto edited = route_from("    canary_weight: 20\n");
    CHECK(steady.on_config(edited, 1).changed);
    CHECK(steady.state().weight_bp == 2'000);
    steady.rollback("x", "analyzer", 2);
    CHECK_FALSE(steady.on_config(edited, 3).changed);
    CHECK(steady.state().weight_bp == 0);

    rollout::RolloutMachine stepped(route_from(kSteps), 0);
    stepped.on_evaluation(Verdict::pass, "", 31);  // step 1
    CHECK_FALSE(stepped.on_config(route_from(kSteps), 40).changed);
    CHECK(stepped.state().step == 1);
}

TEST_CASE("restore: a latched rollback survives, automatic weights follow the file") {
    rollout::RouteState saved;
    saved.canary_release = "v2";
    saved.state = State::rolled_back;
    saved.weight_bp = 0;
    saved.reason = "guardrail success_rate failed";
    rollout::RolloutMachine m(route_from("    canary_weight: 10\n"), 0);
    m.restore(saved, 5);
    CHECK(m.state().state == State::rolled_back);
    CHECK(m.state().weight_bp == 0);
    saved.state = State::steady;
    saved.weight_bp = 500;
    rollout::RolloutMachine n(route_from("    canary_weight: 10\n"), 0);
    n.restore(saved, 5);
    CHECK(n.state().weight_bp == 1'000);
}

TEST_CASE("state file round trip, and corrupt files are refused") {
    rollout::StateMap routes;
    rollout::RouteState s;
    s.canary_release = "v42";
    s.state = State::rolled_back;
    s.weight_bp = 0;
    s.step = 1;
    s.reason = "guardrail \"success_rate\" failed";
    s.actor = "analyzer";
    s.time = "2026-11-26T10:00:00.000Z";
    routes["api"] = s;
    const auto text = rollout::render_state_file(routes);
    auto parsed = rollout::parse_state_file(text);
    REQUIRE(parsed.ok());
    CHECK(parsed->at("api") == s);
    for (const char* bad : {"", "{", "[]", "{\"format\": 2, \"routes\": {}}", "{\"format\": 1}",
                            "{\"format\": 1, \"routes\": {\"api\": {\"state\": \"rolled_back\"}}}",
                            "{\"format\": 1, \"routes\": {\"api\": {\"canary_release\": \"v1\", \"state\": \"gone\", \"weight_bp\": 0, \"step\": 0}}}",
                            "{\"format\": 1, \"routes\": {\"api\": {\"canary_release\": \"v1\", \"state\": \"steady\", \"weight_bp\": 20000, \"step\": 0}}}"}) {
        INFO(bad);
        auto p = rollout::parse_state_file(bad);
        CHECK_FALSE(p.ok());  // and so no routes: a failure carries none
        CHECK_FALSE(p.message().empty());
    }
}

TEST_CASE("a manual gate waits for an operator's promote, which opens it and no more") {
    rollout::RolloutMachine m(
        route_from("    rollout: {steps: [{weight: 5, pause: 10s}, {weight: 20, gate: manual}, {weight: 50, pause: 10s}, {weight: 100}]}\n"),
        0);
    CHECK(m.on_evaluation(Verdict::pass, "", 11).event == "advance");
    REQUIRE(m.state().step == 1);
    REQUIRE(m.waiting_gate() != nullptr);
    CHECK(m.waiting_gate()->gate == config::RolloutStep::Gate::manual);
    // However long and however healthy: it waits.
    for (double t = 12; t < 100'000; t += 5'000) CHECK_FALSE(m.on_evaluation(Verdict::pass, "", t).changed);
    CHECK(m.state().weight_bp == 2'000);
    // A guardrail still guards a waiting gate.
    rollout::RolloutMachine failing(route_from("    rollout: {steps: [{weight: 20, gate: manual}, {weight: 100}]}\n"), 0);
    CHECK(failing.on_evaluation(Verdict::fail, "success_rate", 5).event == "rollback");
    CHECK(failing.waiting_gate() == nullptr);

    // promote approves the gate: the next step, not 100 %.
    const auto approved = m.promote("alice@10.0.0.7", 100'001);
    CHECK(approved.event == "advance");
    CHECK(m.state().step == 2);
    CHECK(m.state().weight_bp == 5'000);
    CHECK(m.state().actor == "alice@10.0.0.7");
    CHECK(m.state().reason == "step 2 approved");
    CHECK(m.waiting_gate() == nullptr);
    // Away from a gate, promote is a full promote as before.
    CHECK(m.promote("alice@10.0.0.7", 100'002).event == "promote");
    CHECK(m.state().weight_bp == 10'000);
}

TEST_CASE("a webhook gate opens on the webhook, pauses after max_hold, and a last gated step promotes") {
    rollout::RolloutMachine m(
        route_from("    rollout: {steps: [{weight: 10, gate: {webhook: 'http://ci.internal/ok'}}, {weight: 50, pause: 10s}], max_hold: 5m}\n"),
        0);
    REQUIRE(m.waiting_gate() != nullptr);
    CHECK(m.waiting_gate()->webhook == "http://ci.internal/ok");
    CHECK_FALSE(m.on_evaluation(Verdict::pass, "", 60).changed);  // the pause of a pause step is not the gate
    const auto opened = m.on_gate_open("webhook", 61);
    CHECK(opened.event == "advance");
    CHECK(m.state().step == 1);
    CHECK(m.state().reason == "step 1 opened by its webhook");
    CHECK_FALSE(m.on_gate_open("webhook", 62).changed);  // no gate any more

    rollout::RolloutMachine silent(route_from("    rollout: {steps: [{weight: 10, gate: {webhook: 'http://ci/'}}, {weight: 100}], max_hold: 5m}\n"), 0);
    CHECK_FALSE(silent.on_evaluation(Verdict::pass, "", 299).changed);
    const auto timed_out = silent.on_evaluation(Verdict::hold, "", 300);
    CHECK(timed_out.event == "hold_timeout");
    CHECK(silent.state().state == State::paused);
    CHECK(silent.state().weight_bp == 1'000);
    CHECK(silent.waiting_gate() == nullptr);

    rollout::RolloutMachine last(route_from("    rollout: {steps: [{weight: 10, pause: 1s}, {weight: 60, gate: manual}]}\n"), 0);
    CHECK(last.on_evaluation(Verdict::pass, "", 2).event == "advance");
    CHECK(last.promote("op", 3).event == "promote");  // the last step's gate: promoted
    CHECK(last.state().weight_bp == 10'000);
}
