#include "io/control/rollout_controller.hpp"

#include "core/json/json_text.hpp"
#include "io/control/read_file.hpp"
#include "io/control/state_store.hpp"
#include "io/log/log.hpp"
#include "io/server/app.hpp"

#include <boost/json.hpp>

#include <cerrno>

namespace canaryd::io {

namespace {

constexpr std::size_t kEventsKept = 256;

using config::Role;

boost::json::object result_json(const analysis::GuardrailResult& r) {
    boost::json::object o;
    o["guardrail"] = r.guardrail;
    o["verdict"] = analysis::to_string(r.verdict);
    if (r.dry_run) o["dry_run"] = true;
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
    const auto file = read_file(state_file_);
    if (!file && file.error().code == ENOENT) return;  // first start: nothing to continue
    if (!file) throw StartupError("state_file: " + file.message());
    auto parsed = rollout::parse_state_file(*file);
    if (!parsed)
        throw StartupError("state_file " + state_file_ + " is corrupt (" + parsed.message() +
                           "); refusing to start rather than forget a rollback. Inspect it, then fix or remove it.");
    persisted_ = std::move(parsed).value();
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
        // Every rollback series exists from the start, at 0, so that an alert on increase()
        // fires on the first rollback (a series born at 1 has no increase to see).
        metrics_.rollbacks.Add({{"route", route.name}, {"guardrail", "operator"}});
        if (route.analysis)
            for (const auto& label : route.analysis->guardrail_labels())
                metrics_.rollbacks.Add({{"route", route.name}, {"guardrail", label}});
        RouteControl control;
        auto old = routes_.find(route.name);
        const bool same_release = old != routes_.end() && old->second.loop.machine &&
                                  old->second.loop.machine->state().canary_release == route.canary->release;
        if (same_release) {
            control = std::move(old->second);
            const auto change = control.loop.machine->on_config(route, now);
            if (change.changed) log::info("rollout_config", {{"route", route.name}, {"state", rollout::to_string(control.loop.machine->state().state)}});
        } else {
            // A route seen for the first time, or a new canary release: a fresh rollout,
            // unless the state file holds this very release (a restart).
            control.loop.machine = std::make_unique<rollout::RolloutMachine>(route, now);
            auto saved = persisted_.find(route.name);
            if (saved != persisted_.end() && saved->second.canary_release == route.canary->release) {
                control.loop.machine->restore(saved->second, now);
                if (control.loop.machine->state().state == rollout::State::rolled_back)
                    log::warn("rollback_latched", {{"route", route.name},
                                                   {"canary_release", route.canary->release},
                                                   {"reason", saved->second.reason}});
            } else if (saved != persisted_.end()) {
                persisted_.erase(saved);  // the state of an older release no longer applies
                persisted_changed = true;
            }
        }
        if (!same_release) {
            // A new release: its fleet record is yet to be read (or written by the leader).
            control.fleet_revision = 0;
            control.pending_rollback = false;
        }
        prepare_analysis(route, control, same_release);
        rollout::follow_step(control.loop);
        rollout::follow_step(control.fleet_loop, *control.loop.machine);
        control.runtime = compiled.runtime;
        store_weight(control);
        next.emplace(route.name, std::move(control));
    }
    for (auto& [name, control] : routes_)
        if (!next.contains(name)) drop_series(name, control, {});
    routes_ = std::move(next);
    if (persisted_changed) persist();
}

void RolloutController::prepare_analysis(const config::Route& route, RouteControl& control, bool same_release) {
    const bool fleet_signals = fleet_ && fleet_->signals;
    if (!route.analysis) {
        drop_series(route.name, control, {});
        control.loop.analyzer.reset();
        control.fleet_loop.analyzer.reset();
        control.analysis_config.reset();
        return;
    }
    if (!control.loop.analyzer || !same_release) {
        // Evidence is about one release: a new one starts the analysis over.
        drop_series(route.name, control, {});
        control.loop.analyzer = std::make_unique<analysis::RouteAnalyzer>(*route.analysis);
        control.analysis_config = route.analysis;
        control.loop.forget_verdict();
        control.loop.analyzed_step = -1;
        rollout::follow_step(control.loop);
        control.fleet_loop = {};
        if (fleet_signals) {
            // The same guardrails judged on the fleet's sums: one block per Prometheus reading.
            auto per_block = *route.analysis;
            per_block.interval = config::Duration(1000);
            control.fleet_loop.analyzer = std::make_unique<analysis::RouteAnalyzer>(per_block);
            rollout::follow_step(control.fleet_loop, *control.loop.machine);
        }
        return;
    }
    // The same release with an edited analysis section: unchanged guardrails keep their
    // evidence, edited and new ones start over (SPEC §6), and the log says which.
    const auto& old = *control.analysis_config;
    const auto& now = *route.analysis;
    auto restarted = control.loop.analyzer->reconfigure(now);
    if (control.fleet_loop.analyzer) {
        auto per_block = now;
        per_block.interval = config::Duration(1000);
        control.fleet_loop.analyzer->reconfigure(per_block);
        control.fleet_loop.forget_verdict();
    }
    bool dry_run_changed = false;
    for (const auto& g : now.guardrails)
        for (const auto& o : old.guardrails)
            if (g.same_test(o) && g.dry_run != o.dry_run) dry_run_changed = true;
    const bool settings_changed =
        old.interval != now.interval || old.confidence != now.confidence || old.min_requests != now.min_requests ||
        old.horizon != now.horizon;
    if (!restarted.empty() || settings_changed || dry_run_changed) {
        boost::json::array started_over, removed;
        for (const auto& label : restarted) {
            if (label.starts_with('-')) removed.emplace_back(label.substr(1));
            else started_over.emplace_back(label);
        }
        log::info("analysis_reconfigured", {{"route", route.name},
                                            {"guardrails_started_over", std::move(started_over)},
                                            {"guardrails_removed", std::move(removed)},
                                            {"interval_ms", now.interval.count()},
                                            {"confidence", now.confidence},
                                            {"min_requests", now.min_requests},
                                            {"horizon_s", std::chrono::duration_cast<std::chrono::seconds>(now.horizon).count()}});
        control.loop.forget_verdict();
    }
    drop_series(route.name, control, now.guardrail_labels());
    control.analysis_config = route.analysis;
}

void RolloutController::export_evaluation(const std::string& route, RouteControl& control,
                                          const analysis::Evaluation& evaluation, const analysis::RouteAnalyzer& analyzer) {
    control.guardrails.clear();
    for (const auto& r : evaluation.results)
        control.guardrails.push_back({r.guardrail, std::string(analysis::to_string(r.verdict)), r.dry_run, r.statistic,
                                      r.threshold, r.canary_value, r.stable_value});
    for (const auto& r : evaluation.results) {
        auto it = control.series.find(r.guardrail);
        if (it == control.series.end()) {
            GuardrailSeries series;
            series.evidence = &metrics_.guardrail_evidence.Add({{"route", route}, {"guardrail", r.guardrail}});
            for (auto v : {analysis::Verdict::pass, analysis::Verdict::fail, analysis::Verdict::hold})
                series.verdict[static_cast<std::size_t>(v)] = &metrics_.guardrail_verdict.Add(
                    {{"route", route}, {"guardrail", r.guardrail}, {"verdict", analysis::to_string(v)}});
            it = control.series.emplace(r.guardrail, series).first;
        }
        it->second.evidence->Set(r.statistic);
        for (std::size_t v = 0; v < it->second.verdict.size(); ++v)
            it->second.verdict[v]->Set(v == static_cast<std::size_t>(r.verdict) ? 1 : 0);
    }
    if (analyzer.clamped_blocks() != control.clamped_logged) {
        control.clamped_logged = analyzer.clamped_blocks();
        log::warn("analysis_counts_clamped",
                  {{"route", route},
                   {"seconds", control.clamped_logged},
                   {"detail", "more failures or slow requests than requests were counted; clamped to the requests"}});
    }
}

void RolloutController::drop_series(const std::string& route, RouteControl& control,
                                    const std::vector<std::string>& keep) {
    (void)route;
    std::erase_if(control.guardrails, [&](const admin::GuardrailStatus& g) {
        return std::find(keep.begin(), keep.end(), g.guardrail) == keep.end();
    });
    for (auto it = control.series.begin(); it != control.series.end();) {
        if (std::find(keep.begin(), keep.end(), it->first) != keep.end()) {
            ++it;
            continue;
        }
        metrics_.guardrail_evidence.Remove(it->second.evidence);
        for (auto* g : it->second.verdict) metrics_.guardrail_verdict.Remove(g);
        it = control.series.erase(it);
    }
}

void RolloutController::tick(const Snapshot& snapshot, double now) {
    check_signals_fresh(now);
    const auto allowed = authorities();
    for (const auto& compiled : snapshot.routes) {
        auto it = routes_.find(compiled.config->name);
        if (it == routes_.end()) continue;
        auto& control = it->second;
        const auto& name = compiled.config->name;
        rollout::SecondInput input;
        input.now = now;
        input.stable = signals_.last_second(name, Role::stable);
        input.canary = signals_.last_second(name, Role::canary);
        input.stable_backend = backend_sample(signals_.backend(name, Role::stable), compiled.versions[0].endpoint_ids.size());
        input.canary_backend = backend_sample(signals_.backend(name, Role::canary), compiled.versions[1].endpoint_ids.size());
        auto effects = rollout::analyze_second(control.loop, input);
        if (decides()) poll_gate(name, control, now);
        if (!effects.evaluated) continue;
        // Without guardrails there is nothing to analyse fleet-wide: steps advance on time
        // wherever rollouts are decided.
        auto authority = allowed.local_analysis;
        if (!control.loop.analyzer && allowed.fleet_analysis == fleet::Authority::full) authority = fleet::Authority::full;
        const auto before = control.loop.machine->state();
        effects.change = rollout::decide(*control.loop.machine, effects.evaluation, authority, now);
        rollout::follow_step(control.loop);
        rollout::follow_step(control.fleet_loop, *control.loop.machine);
        // The fleet analysis is what operators see wherever it runs; the local one otherwise.
        if (control.loop.analyzer && (!control.fleet_loop.analyzer || allowed.fleet_analysis == fleet::Authority::none))
            show_evaluation(name, control, effects, *control.loop.analyzer);
        if (effects.change.changed) commit(name, control, before, effects.change, &effects.evaluation, 0, now);
    }
}

void RolloutController::show_evaluation(const std::string& name, RouteControl& control,
                                        const rollout::SecondEffects& effects, const analysis::RouteAnalyzer& analyzer) {
    const auto& evaluation = effects.evaluation;
    admin::DecisionSummary summary;
    summary.time = log::now_rfc3339();
    summary.verdict = analysis::to_string(evaluation.verdict);
    if (effects.shown) {
        summary.guardrail = evaluation.results[*effects.shown].guardrail;
        summary.detail = evaluation.results[*effects.shown].detail;
    }
    control.last_decision = summary;
    export_evaluation(name, control, evaluation, analyzer);
    if (effects.verdict_changed) {
        boost::json::array results;
        for (const auto& r : evaluation.results) results.push_back(result_json(r));
        log::write(evaluation.verdict == analysis::Verdict::fail ? log::Level::warn : log::Level::info, "analysis",
                   {{"route", name}, {"verdict", summary.verdict}, {"guardrails", std::move(results)}});
    }
}

void RolloutController::poll_gate(const std::string& route, RouteControl& control, double now) {
    const auto* gate = control.loop.machine ? control.loop.machine->waiting_gate() : nullptr;
    if (!gate || gate->gate != config::RolloutStep::Gate::webhook || !gate_poll_ || control.gate_poll_in_flight) return;
    const double interval =
        control.analysis_config ? std::chrono::duration<double>(control.analysis_config->interval).count() : 1.0;
    if (now - control.gate_polled_at < interval) return;
    control.gate_poll_in_flight = true;
    control.gate_polled_at = now;
    const auto release = control.loop.machine->state().canary_release;
    const int step = control.loop.machine->state().step;
    gate_poll_(gate->webhook, [this, route, release, step](bool opened, std::string why) {
        auto it = routes_.find(route);
        if (it == routes_.end()) return;
        auto& c = it->second;
        c.gate_poll_in_flight = false;
        c.gate_reply = std::move(why);
        // Only for the gate it was asked about: a reload, a rollback or an operator may have
        // moved the rollout on meanwhile.
        const auto& state = c.loop.machine->state();
        if (!opened || state.canary_release != release || state.step != step || !c.loop.machine->waiting_gate()) return;
        c.gate_reply.clear();  // this gate is done; the next one has not been asked yet
        const auto before = c.loop.machine->state();
        const auto change = c.loop.machine->on_gate_open("webhook", c.gate_polled_at);
        if (change.changed) commit(route, c, before, change, nullptr, fleet_health_.term, c.gate_polled_at);
    });
}

void RolloutController::apply(const std::string& route, RouteControl& control, const rollout::Change& change,
                              const analysis::Evaluation* evaluation) {
    auto state = control.loop.machine->state();
    // 1. The weight in force: every worker sees it on its next request.
    store_weight(control);
    // 2. The state file, durably, before anyone is told.
    state.time = log::now_rfc3339();
    persisted_[route] = state;
    persist();
    // 3. The announcement.
    auto event = event_json(route, change.event, state, state.time);
    if (fleet_) event["decided_by"] = fleet_->id;
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
    // 4. Notifications, last: the state they announce is already persisted.
    if (event_sink_) event_sink_(event);
    record_event(std::move(event));
}

boost::json::object RolloutController::event_json(const std::string& route, const std::string& event_name,
                                                  const rollout::RouteState& state, const std::string& time) {
    boost::json::object event;
    event["time"] = time;
    event["route"] = route;
    event["event"] = event_name;
    event["actor"] = state.actor;
    event["state"] = rollout::to_string(state.state);
    event["canary_release"] = state.canary_release;
    event["canary_weight"] = state.weight_bp / 100.0;
    event["step"] = state.step;
    event["reason"] = state.reason;
    return event;
}

void RolloutController::persist() {
    if (state_file_.empty()) return;
    if (auto written = write_file_atomically(state_file_, rollout::render_state_file(persisted_)); !written)
        log::error("state_file_write_failed", {{"error", written.message()}});
}

void RolloutController::record_event(boost::json::object event) {
    events_.push_back(std::move(event));
    if (events_.size() > kEventsKept) events_.pop_front();
}

admin::ActionReply RolloutController::act(const Snapshot& snapshot, const admin::ActionRequest& request, double now) {
    std::string name = request.route;
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
    // In a fleet another replica may have acted a moment ago: a conflict re-reads the
    // fleet's state and the action is tried again on it (a few times, then 409).
    rollout::OperatorOutcome outcome;
    Committed committed;
    for (int attempt = 0; attempt < 3; ++attempt) {
        const auto before = control.loop.machine->state();
        outcome = rollout::apply_operator_action(control.loop, name, request.action, request.weight_bp, request.actor, now);
        if (outcome.status != 200) {
            const char* phrase = outcome.status == 409 ? "Conflict" : "Bad Request";
            return {outcome.status, std::to_string(outcome.status) + " " + phrase + ": " + outcome.error + "\n"};
        }
        if (!outcome.change.changed) break;
        rollout::follow_step(control.fleet_loop, *control.loop.machine);
        committed = commit(name, control, before, outcome.change, nullptr, 0, now);
        if (committed.status != 409) break;
    }
    if (committed.status != 200) {
        const char* phrase = committed.status == 409 ? "Conflict" : "Service Unavailable";
        return {committed.status, std::to_string(committed.status) + " " + phrase + ": " + committed.error + "\n"};
    }
    const auto& state = control.loop.machine->state();
    boost::json::object body;
    body["route"] = name;
    body["changed"] = outcome.change.changed;
    if (fleet_) body["decided_by"] = fleet_->id;
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
        const auto& state = it->second.loop.machine->state();
        route.state = rollout::to_string(state.state);
        if (state.step >= 0) route.step = state.step;
        route.last_decision = it->second.last_decision;
        route.guardrails = it->second.guardrails;
        route.state_reason = state.reason;
        // While a gate waits, that is what the rollout is doing (SPEC §6).
        if (const auto* gate = it->second.loop.machine->waiting_gate()) {
            const bool manual = gate->gate == config::RolloutStep::Gate::manual;
            route.state_reason = manual ? "waiting for approval" : "waiting for webhook";
            if (!manual && !it->second.gate_reply.empty()) route.state_reason += " (last answer: " + it->second.gate_reply + ")";
        }
    }
    if (!fleet_) return;
    admin::FleetStatus f;
    f.name = fleet_->config.name;
    f.id = fleet_->id;
    if (fleet_->state) {
        f.role = fleet_health_.leader ? "leader" : "follower";
        f.state = fleet_health_.etcd_ok ? "ok" : "degraded";
        f.leader = fleet_health_.leader_id;
        f.replicas = fleet_health_.replicas;
        if (!fleet_health_.etcd_ok) f.error = fleet_health_.etcd_error;
        else if (!fleet_health_.state_read) f.error = "the fleet's state has not been read yet";
    } else {
        f.role = "standalone";
        f.replicas = fleet_health_.prometheus_replicas;
    }
    if (fleet_->signals) {
        const bool reading = !fleet_->state || fleet_health_.leader;
        f.signals = !reading ? "leader" : fleet_health_.prometheus_ok ? "ok" : "holding";
        if (reading && !fleet_health_.prometheus_ok) f.signals_error = fleet_health_.prometheus_error;
        if (!fleet_->state || fleet_health_.leader) f.replicas = std::max(f.replicas, fleet_health_.prometheus_replicas);
    }
    view.fleet = std::move(f);
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
