// The rollout state machine of one route (SPEC §6): progressing through rollout.steps,
// paused, rolled back (latched), promoted, or steady (no steps: the configured weight,
// guarded by the analyzer). Pure: time is a parameter; the caller applies the weight,
// persists the state and announces the change, in that order.
#pragma once

#include "core/analysis/analyzer.hpp"
#include "core/config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace canaryd::rollout {

enum class State : std::uint8_t { steady, progressing, paused, rolled_back, promoted };
const char* to_string(State state);
std::optional<State> state_from_string(std::string_view text);

// What is persisted per route (and shown in /status).
struct RouteState {
    std::string canary_release;  // the state belongs to this canary only
    State state = State::steady;
    std::uint32_t weight_bp = 0;
    int step = -1;               // index into rollout.steps; -1 without steps
    std::string reason;          // why the last change happened
    std::string actor;           // "analyzer", "config", or the operator (token / peer)
    std::string time;            // RFC 3339, set by the I/O layer

    friend bool operator==(const RouteState&, const RouteState&) = default;
};

struct Change {
    bool changed = false;
    std::string event;  // "rollback", "advance", "promote", "pause", "resume", "weight", "hold_timeout", "config"
};

class RolloutMachine {
public:
    // A fresh rollout for `route` (which has a canary).
    RolloutMachine(const config::Route& route, double now);

    // Continues a persisted state of the same canary release (restart or reload).
    void restore(const RouteState& persisted, double now);
    // The config changed but names the same canary release: keep latches, pauses and the
    // step; follow the file where the state is automatic.
    Change on_config(const config::Route& route, double now);
    // An analyzer verdict. `failed` names the guardrail when the verdict is fail.
    Change on_evaluation(analysis::Verdict verdict, const std::string& failed, double now);

    // Operator actions (also the analyzer's rollback).
    Change rollback(std::string reason, std::string actor, double now);
    // At a manual gate, an operator's promote approves the gate: the next step (or promoted
    // at the last); elsewhere it promotes the canary to 100 %.
    Change promote(std::string actor, double now);
    // A webhook gate's URL answered 2xx: past the gate, as if its pause had passed.
    Change on_gate_open(std::string actor, double now);
    // The gate the rollout waits at now, or none (not progressing, or a pause step).
    const config::RolloutStep* waiting_gate() const;
    Change pause(std::string actor, double now);
    Change resume(std::string actor, double now);
    Change set_weight(std::uint32_t weight_bp, std::string actor, double now);

    const RouteState& state() const { return state_; }
    bool has_steps() const { return !steps_.empty(); }

private:
    Change set(State state, std::uint32_t weight_bp, int step, std::string reason, std::string actor, std::string event,
               double now);
    std::uint32_t automatic_weight() const;
    // The step after the current one, or promoted after the last (SPEC §6).
    Change advance(std::string reason, std::string actor, double now);

    std::vector<config::RolloutStep> steps_;
    std::uint32_t configured_weight_bp_ = 0;
    config::Duration max_hold_{600'000};
    RouteState state_;
    double step_started_ = 0;  // when the current step (or pause) began
};

}  // namespace canaryd::rollout
