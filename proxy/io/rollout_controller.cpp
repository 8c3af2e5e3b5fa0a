#include "io/rollout_controller.hpp"

#include "io/app.hpp"
#include "io/log.hpp"
#include "io/state_store.hpp"
#include "json/json_text.hpp"

#include <boost/json.hpp>

namespace canaryd::io {

namespace {

constexpr std::size_t kEventsKept = 256;

using config::Role;

boost::json::object result_json(const analysis::GuardrailResult& r) {
    boost::json::object o;
    o["guardrail"] = r.guardrail;
    o["verdict"] = analysis::to_string(r.verdict);
    o["canary_value"] = r.canary_value;
    o["stable_value"] = r.stable_value;
    o["canary_samples"] = r.canary_samples;
    o["stable_samples"] = r.stable_samples;
    o["statistic"] = r.statistic;
    o["threshold"] = r.threshold;
    o["detail"] = r.detail;
    return o;
}

analysis::BackendSample backend_sample(const std::optional<BackendReading>& reading, std::size_t endpoints) {
    analysis::BackendSample sample;
    sample.endpoints = endpoints;
    if (reading) {
        sample.cpu_cores = reading->cpu_cores;
        sample.memory_bytes = reading->memory_bytes;
    }
    return sample;
}

}  // namespace

RolloutController::RolloutController(Metrics& metrics, SignalsAggregator& signals)
    : metrics_(metrics), signals_(signals) {}

void RolloutController::load_state(const std::string& state_file) {
    state_file_ = state_file;
    if (state_file_.empty()) return;
    const auto file = read_whole_file(state_file_);
    if (!file.error.empty()) throw StartupError("state_file: " + file.error);
    if (!file.exists) return;  // first start: nothing to continue
    auto parsed = rollout::parse_state_file(file.content);
    if (!parsed.error.empty())
        throw StartupError("state_file " + state_file_ + " is corrupt (" + parsed.error +
                           "); refusing to start rather than forget a rollback. Inspect it, then fix or remove it.");
    persisted_ = std::move(parsed.routes);
    for (const auto& [route, state] : persisted_)
        log::info("state_loaded", {{"route", route},
                                   {"canary_release", state.canary_release},
                                   {"state", rollout::to_string(state.state)},
                                   {"weight", state.weight_bp / 100.0}});
}

void RolloutController::prepare(const Snapshot& snapshot, double now) {
    std::map<std::string, RouteControl, std::less<>> next;
    bool persisted_changed = false;
    for (const auto& compiled : snapshot.routes) {
        const auto& route = *compiled.config;
        if (!compiled.has_canary) {
            compiled.runtime->canary_weight_bp.store(0, std::memory_order_release);
            continue;
        }
        RouteControl control;
        auto old = routes_.find(route.name);
        const bool same_release = old != routes_.end() && old->second.machine &&
                                  old->second.machine->state().canary_release == route.canary->release;
        if (same_release) {
            control = std::move(old->second);
            const auto change = control.machine->on_config(route, now);
            if (change.changed) log::info("rollout_config", {{"route", route.name}, {"state", rollout::to_string(control.machine->state().state)}});
        } else {
            // A route seen for the first time, or a new canary release: a fresh rollout,
            // unless the state file holds this very release (a restart).
            control.machine = std::make_unique<rollout::RolloutMachine>(route, now);
            auto saved = persisted_.find(route.name);
            if (saved != persisted_.end() && saved->second.canary_release == route.canary->release) {
                control.machine->restore(saved->second, now);
                if (control.machine->state().state == rollout::State::rolled_back)
                    log::warn("rollback_latched", {{"route", route.name},
                                                   {"canary_release", route.canary->release},
                                                   {"reason", saved->second.reason}});
            } else if (saved != persisted_.end()) {
                persisted_.erase(saved);  // the state of an older release no longer applies
                persisted_changed = true;
            }
        }
        // Evidence is about one release under one set of guardrails: a change of either
        // starts the analysis over.
        if (!route.analysis) {
            control.analyzer.reset();
            control.analysis_config.reset();
        } else if (!control.analyzer || !same_release || !control.analysis_config ||
                   control.analysis_config->guardrails.size() != route.analysis->guardrails.size() ||
                   control.analysis_config->confidence != route.analysis->confidence ||
                   control.analysis_config->min_requests != route.analysis->min_requests) {
            control.analyzer = std::make_unique<analysis::RouteAnalyzer>(*route.analysis);
            control.analysis_config = route.analysis;
            control.last_verdict.reset();
        }
        control.runtime = compiled.runtime;
        control.runtime->canary_weight_bp.store(control.machine->state().weight_bp, std::memory_order_release);
        next.emplace(route.name, std::move(control));
    }
    routes_ = std::move(next);
    if (persisted_changed) persist();
}

void RolloutController::tick(const Snapshot& snapshot, double now) {
    for (const auto& compiled : snapshot.routes) {
        auto it = routes_.find(compiled.config->name);
        if (it == routes_.end()) continue;
        auto& control = it->second;
        const auto& name = compiled.config->name;
        analysis::Evaluation evaluation;
        bool evaluated = false;
        if (control.analyzer) {
            control.analyzer->observe_second(signals_.last_second(name, Role::stable), signals_.last_second(name, Role::canary));
            const auto interval = control.analyzer->config().interval.count() / 1000;
            if (++control.seconds_since_evaluation >= interval) {
                control.seconds_since_evaluation = 0;
                evaluation = control.analyzer->evaluate(
                    now, backend_sample(signals_.backend(name, Role::stable), compiled.versions[0].endpoint_ids.size()),
                    backend_sample(signals_.backend(name, Role::canary), compiled.versions[1].endpoint_ids.size()));
                evaluated = true;
            }
        } else {
            // Steps without guardrails advance on time alone.
            evaluation.verdict = analysis::Verdict::pass;
            evaluated = true;
        }
        if (!evaluated) continue;
        const auto* failure = evaluation.first_failure();
        if (control.analyzer) {
            admin::DecisionSummary summary;
            summary.time = log::now_rfc3339();
            summary.verdict = analysis::to_string(evaluation.verdict);
            const analysis::GuardrailResult* shown = failure;
            if (!shown)
                for (const auto& r : evaluation.results)
                    if (r.verdict == evaluation.verdict) {
                        shown = &r;
                        break;
                    }
            if (shown) {
                summary.guardrail = shown->guardrail;
                summary.detail = shown->detail;
            }
            control.last_decision = summary;
            if (control.last_verdict != evaluation.verdict) {
                // One line per change of verdict, not one per second.
                boost::json::array results;
                for (const auto& r : evaluation.results) results.push_back(result_json(r));
                log::write(evaluation.verdict == analysis::Verdict::fail ? log::Level::warn : log::Level::info,
                           "analysis", {{"route", name}, {"verdict", summary.verdict}, {"guardrails", std::move(results)}});
                control.last_verdict = evaluation.verdict;
            }
        }
        const auto change = control.machine->on_evaluation(evaluation.verdict, failure ? failure->guardrail : "", now);
        if (change.changed) apply(name, control, change, &evaluation);
    }
}

void RolloutController::apply(const std::string& route, RouteControl& control, const rollout::Change& change,
                              const analysis::Evaluation* evaluation) {
    auto state = control.machine->state();
    // 1. The weight in force: every worker sees it on its next request.
    control.runtime->canary_weight_bp.store(state.weight_bp, std::memory_order_release);
    // 2. The state file, durably, before anyone is told.
    state.time = log::now_rfc3339();
    persisted_[route] = state;
    persist();
    // 3. The announcement.
    boost::json::object event;
    event["time"] = state.time;
    event["route"] = route;
    event["event"] = change.event;
    event["actor"] = state.actor;
    event["state"] = rollout::to_string(state.state);
    event["canary_release"] = state.canary_release;
    event["canary_weight"] = state.weight_bp / 100.0;
    event["step"] = state.step;
    event["reason"] = state.reason;
    if (evaluation && change.event == "rollback") {
        if (const auto* failed = evaluation->first_failure()) {
            event["guardrail"] = failed->guardrail;
            event["decision"] = result_json(*failed);
            metrics_.rollbacks.Add({{"route", route}, {"guardrail", failed->guardrail}}).Increment();
        }
    } else if (change.event == "rollback") {
        metrics_.rollbacks.Add({{"route", route}, {"guardrail", "operator"}}).Increment();
    }
    boost::json::object fields = event;
    fields.erase("time");
    log::write(change.event == "rollback" ? log::Level::warn : log::Level::info, "rollout_" + change.event,
               std::move(fields));
    record_event(std::move(event));
}

void RolloutController::persist() {
    if (state_file_.empty()) return;
    if (auto error = write_file_atomically(state_file_, rollout::render_state_file(persisted_)); !error.empty())
        log::error("state_file_write_failed", {{"error", error}});
}

void RolloutController::record_event(boost::json::object event) {
    events_.push_back(std::move(event));
    if (events_.size() > kEventsKept) events_.pop_front();
}

ActionResult RolloutController::act(const Snapshot& snapshot, OperatorAction action, const std::string& route_name,
                                    std::optional<std::uint32_t> weight_bp, const std::string& actor, double now) {
    std::string name = route_name;
    if (name.empty()) {
        // ?route= is optional when there is exactly one route with a canary.
        if (routes_.size() != 1)
            return {400, "400 Bad Request: name the route with ?route=NAME (" + std::to_string(routes_.size()) +
                             " routes have a canary)\n"};
        name = routes_.begin()->first;
    }
    auto it = routes_.find(name);
    if (it == routes_.end()) {
        const bool exists = snapshot.config->find_route(name) != nullptr;
        return {404, exists ? "404 Not Found: route " + name + " has no canary version\n"
                            : "404 Not Found: no route " + name + "\n"};
    }
    auto& control = it->second;
    auto& machine = *control.machine;
    rollout::Change change;
    switch (action) {
        case OperatorAction::rollback: change = machine.rollback("rolled back by an operator", actor, now); break;
        case OperatorAction::promote: change = machine.promote(actor, now); break;
        case OperatorAction::pause: change = machine.pause(actor, now); break;
        case OperatorAction::resume: {
            const bool was_rolled_back = machine.state().state == rollout::State::rolled_back;
            change = machine.resume(actor, now);
            // A rollback's evidence is about the canary before the operator looked: start over.
            if (was_rolled_back && control.analyzer) {
                control.analyzer->reset();
                control.last_verdict.reset();
            }
            break;
        }
        case OperatorAction::weight:
            if (!weight_bp) return {400, "400 Bad Request: give the weight as &canary=PERCENT (e.g. 12.5)\n"};
            if (machine.state().state == rollout::State::rolled_back)
                return {409, "409 Conflict: route " + name + " is rolled back; resume it before setting a weight\n"};
            change = machine.set_weight(*weight_bp, actor, now);
            break;
    }
    if (change.changed) apply(name, control, change, nullptr);
    const auto& state = machine.state();
    boost::json::object body;
    body["route"] = name;
    body["changed"] = change.changed;
    body["state"] = rollout::to_string(state.state);
    body["canary_weight"] = state.weight_bp / 100.0;
    body["step"] = state.step;
    body["reason"] = state.reason;
    return {200, json::to_text(body) + "\n"};
}

void RolloutController::fill_status(admin::StatusView& view) const {
    for (auto& route : view.routes) {
        auto it = routes_.find(route.name);
        if (it == routes_.end()) continue;
        const auto& state = it->second.machine->state();
        route.state = rollout::to_string(state.state);
        if (state.step >= 0) route.step = state.step;
        route.last_decision = it->second.last_decision;
        route.state_reason = state.reason;
    }
}

std::string RolloutController::events_json(std::size_t limit) const {
    boost::json::array list;
    const std::size_t start = events_.size() > limit ? events_.size() - limit : 0;
    for (std::size_t i = start; i < events_.size(); ++i) list.push_back(events_[i]);
    boost::json::object root;
    root["events"] = std::move(list);
    return json::to_text(root) + "\n";
}

}  // namespace canaryd::io
