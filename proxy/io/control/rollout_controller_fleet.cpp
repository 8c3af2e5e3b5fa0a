// The RolloutController's fleet mode (SPEC §9): what a replica does with the fleet's shared
// state in etcd and with the fleet-wide signals from Prometheus. Which analysis may act is
// core/fleet/authority; what to do with a record read from etcd is core/fleet/reconcile; here
// they are carried out, on the control thread.
#include "io/control/rollout_controller.hpp"

#include "core/fleet/reconcile.hpp"
#include "io/fleet/fleet_signals.hpp"
#include "io/fleet/fleet_state.hpp"
#include "io/log/log.hpp"

#include <boost/json.hpp>

namespace canaryd::io {

namespace {

// After this long without a reading, the fleet analysis is holding and the local one guards.
constexpr double kSignalsStaleAfter = 5;

// Who Prometheus scrapes, as GET /fleet lists them: instance and whether it is up.
std::vector<std::pair<std::string, bool>> targets_of(const FleetReading& reading) {
    std::vector<std::pair<std::string, bool>> out;
    for (const auto& t : reading.targets) {
        auto instance = t.labels.find("instance");
        out.emplace_back(instance == t.labels.end() ? std::string("?") : instance->second, t.value == 1);
    }
    return out;
}

}  // namespace

void RolloutController::enable_fleet(FleetContext context) {
    fleet_ = std::move(context);
    metrics_.fleet_up.Add({}).Set(0);
    metrics_.fleet_leader.Add({}).Set(0);
    for (const char* kind : {"etcd", "etcd_write", "prometheus", "prometheus_empty", "prometheus_lagging"})
        metrics_.fleet_query_errors.Add({{"kind", kind}});
    // Without etcd there is no shared state to wait for.
    fleet_health_.state_read = !fleet_->state;
    fleet_health_.etcd_ok = !fleet_->state;
}

fleet::Authorities RolloutController::authorities() const {
    if (!fleet_) return {};
    fleet::Situation s;
    s.etcd = fleet_->state != nullptr;
    s.prometheus = fleet_->signals != nullptr;
    s.leader = fleet_health_.leader;
    s.etcd_ok = fleet_health_.etcd_ok && fleet_health_.state_read;
    s.prometheus_ok = fleet_health_.prometheus_ok;
    return fleet::authorities(s);
}

bool RolloutController::decides() const {
    const auto a = authorities();
    return a.local_analysis == fleet::Authority::full || a.fleet_analysis == fleet::Authority::full;
}

void RolloutController::store_weight(RouteControl& control) const {
    // Until the fleet's state has been read, this replica does not know whether the canary
    // was rolled back elsewhere: it sends it nothing (SPEC §9).
    const bool known = !fleet_ || fleet_health_.state_read;
    control.runtime->canary_weight_bp.store(known ? control.loop.machine->state().weight_bp : 0, std::memory_order_release);
}

RolloutController::Committed RolloutController::commit(const std::string& route, RouteControl& control,
                                                       const rollout::RouteState& before, const rollout::Change& change,
                                                       const analysis::Evaluation* evaluation, std::int64_t term,
                                                       double now) {
    if (!fleet_ || !fleet_->state) {
        apply(route, control, change, evaluation);
        return {};
    }
    auto& machine = *control.loop.machine;
    if (change.event == "rollback") {
        // Never wait for etcd to stop sending traffic to a bad canary.
        apply(route, control, change, evaluation);
        control.pending_rollback = true;
        if (fleet_health_.etcd_ok) publish_rollback(route, control);
        return {};
    }
    auto undo = [&] {
        machine.restore(before, now);
        rollout::follow_step(control.loop);
        rollout::follow_step(control.fleet_loop, machine);
    };
    if (!fleet_health_.etcd_ok || !fleet_health_.state_read) {
        undo();
        return {503, "the fleet's state (etcd) is unreachable: only a rollback can be made now (" +
                         fleet_health_.etcd_error + ")"};
    }
    auto written = write_record(route, control, change.event, term);
    if (written && *written > 0) {
        apply(route, control, change, evaluation);
        return {};
    }
    undo();
    if (!written) {
        set_etcd_health(false, written.message());
        return {503, "the fleet's state (etcd) is unreachable: " + written.message()};
    }
    // Another replica wrote first (or this one is no longer the leader): take what is there.
    auto current = fleet_->state->read_route(route);
    if (current && current->has_value()) {
        if (auto record = fleet::parse_fleet_record((*current)->value))
            adopt(route, control, *record, (*current)->mod_revision, now);
    }
    return {409, "another replica changed route " + route + " first; it is now " +
                     rollout::to_string(machine.state().state) + " (try again if still wanted)"};
}

Result<std::int64_t> RolloutController::write_record(const std::string& route, RouteControl& control,
                                                     const std::string& event, std::int64_t term) {
    fleet::FleetRecord record;
    record.state = control.loop.machine->state();
    record.state.time = log::now_rfc3339();
    record.event = event;
    record.decided_by = fleet_->id;
    record.term = term;
    auto written = fleet_->state->write_route(route, fleet::render_fleet_record(record), control.fleet_revision, term);
    if (!written) {
        metrics_.fleet_query_errors.Add({{"kind", "etcd_write"}}).Increment();
        return written;
    }
    if (*written > 0) {
        control.fleet_revision = *written;
        log::info("fleet_state_written", {{"route", route},
                                          {"change", event},
                                          {"state", rollout::to_string(record.state.state)},
                                          {"revision", *written},
                                          {"replica", fleet_->id}});
    }
    return written;
}

void RolloutController::publish_rollback(const std::string& route, RouteControl& control) {
    const auto& release = control.loop.machine->state().canary_release;
    for (int attempt = 0; attempt < 3 && control.pending_rollback; ++attempt) {
        auto written = write_record(route, control, "rollback", 0);
        if (!written) {
            set_etcd_health(false, written.message());
            return;  // still pending: written when etcd answers again
        }
        if (*written > 0) {
            control.pending_rollback = false;
            return;
        }
        // Someone wrote in between: a rollback already there stands; anything else of this
        // release is overwritten on the next attempt.
        auto current = fleet_->state->read_route(route);
        if (!current) return;
        control.fleet_revision = current->has_value() ? (*current)->mod_revision : 0;
        if (!current->has_value()) continue;
        auto record = fleet::parse_fleet_record((*current)->value);
        if (record && record->state.canary_release == release && record->state.state == rollout::State::rolled_back)
            control.pending_rollback = false;
        else if (record && record->state.canary_release != release)
            return;  // another release's record: not ours to overwrite (reconcile decides)
    }
}

void RolloutController::adopt(const std::string& route, RouteControl& control, const fleet::FleetRecord& record,
                              std::int64_t revision, double now) {
    auto& machine = *control.loop.machine;
    const auto before = machine.state();
    machine.restore(record.state, now);
    control.fleet_revision = revision;
    const auto& after = machine.state();
    if (after.state == rollout::State::rolled_back) control.pending_rollback = false;
    // A resume after a rollback starts the analysis over, as an operator's resume does here.
    if (before.state == rollout::State::rolled_back && after.state != rollout::State::rolled_back) {
        if (control.loop.analyzer) control.loop.analyzer->reset();
        if (control.fleet_loop.analyzer) control.fleet_loop.analyzer->reset();
        control.loop.forget_verdict();
        control.fleet_loop.forget_verdict();
    }
    rollout::follow_step(control.loop);
    rollout::follow_step(control.fleet_loop, machine);
    store_weight(control);
    if (before.state == after.state && before.weight_bp == after.weight_bp && before.step == after.step) return;
    // Applied here as decided there: the weight (above), the local state file, the event.
    auto persisted = after;
    persisted.time = record.state.time;
    persisted_[route] = persisted;
    persist();
    const std::string name = record.event.empty() ? std::string("fleet") : record.event;
    auto event = event_json(route, name, after, log::now_rfc3339());
    event["decided_by"] = record.decided_by;
    event["applied_by"] = fleet_->id;
    boost::json::object fields = event;
    fields.erase("time");
    log::write(record.event == "rollback" ? log::Level::warn : log::Level::info, "rollout_" + name,
               std::move(fields));
    record_event(std::move(event));  // no notification: the deciding replica sent it
}

void RolloutController::apply_records(const std::vector<EtcdKeyValue>& records, bool may_publish, double now) {
    std::map<std::string, const EtcdKeyValue*> by_route;
    for (const auto& kv : records) {
        auto name = fleet_->state->route_name_of(kv.key);
        if (!name.empty()) by_route[name] = &kv;
    }
    for (auto& [route, control] : routes_) {
        auto found = by_route.find(route);
        const EtcdKeyValue* kv = found == by_route.end() ? nullptr : found->second;
        const std::int64_t revision = kv ? kv->mod_revision : 0;
        if (revision == control.fleet_revision && !control.pending_rollback && (kv || !may_publish)) continue;
        std::optional<fleet::FleetRecord> record;
        if (kv) {
            auto parsed = fleet::parse_fleet_record(kv->value);
            if (!parsed) {
                if (revision != control.fleet_revision)
                    log::error("fleet_record_invalid", {{"route", route}, {"key", kv->key}, {"error", parsed.message()}});
                control.fleet_revision = revision;  // said once; a leader's next write replaces it
                continue;
            }
            record = std::move(parsed).value();
        }
        fleet::ReconcileInput in;
        in.record = record ? &*record : nullptr;
        in.configured_release = control.loop.machine->state().canary_release;
        in.local = &control.loop.machine->state();
        in.may_publish = may_publish;
        in.pending_rollback = control.pending_rollback;
        switch (fleet::reconcile(in)) {
            case fleet::Reconcile::nothing:
                control.fleet_revision = revision;
                break;
            case fleet::Reconcile::adopt:
                adopt(route, control, *record, revision, now);
                break;
            case fleet::Reconcile::publish:
                control.fleet_revision = revision;
                (void)write_record(route, control, "start", fleet_health_.term);  // a conflict: the next round re-reads
                break;
            case fleet::Reconcile::publish_rollback:
                control.fleet_revision = revision;
                publish_rollback(route, control);
                break;
        }
    }
}

bool RolloutController::read_fleet_state(double now) {
    if (!fleet_ || !fleet_->state) return true;
    auto records = fleet_->state->read_routes();
    if (!records) {
        set_etcd_health(false, records.message());
        log::warn("fleet_state_unread", {{"error", records.message()},
                                         {"detail", "canary weights stay at 0 until the fleet's state can be read"}});
        return false;
    }
    fleet_health_.state_read = true;
    set_etcd_health(true, "");
    apply_records(*records, false, now);
    for (auto& [route, control] : routes_) store_weight(control);
    return true;
}

void RolloutController::set_etcd_health(bool ok, const std::string& error) {
    if (!fleet_ || !fleet_->state) return;
    if (!ok) metrics_.fleet_query_errors.Add({{"kind", "etcd"}}).Increment();
    const bool was_ok = fleet_health_.etcd_ok;
    fleet_health_.etcd_ok = ok;
    fleet_health_.etcd_error = error;
    metrics_.fleet_up.Add({}).Set(ok ? 1 : 0);
    if (!ok) {
        fleet_health_.leader = false;
        metrics_.fleet_leader.Add({}).Set(0);
    }
    if (was_ok == ok) return;
    if (ok) {
        log::info("fleet_recovered", {{"fleet", fleet_->config.name}, {"replica", fleet_->id}});
        return;
    }
    log::warn("fleet_degraded", {{"fleet", fleet_->config.name},
                                 {"replica", fleet_->id},
                                 {"error", error},
                                 {"detail", "keeping the last state; no step advances; local rollbacks still act"}});
    boost::json::object event;
    event["time"] = log::now_rfc3339();
    event["route"] = "";
    event["event"] = "fleet_degraded";
    event["actor"] = fleet_->id;
    event["reason"] = "the fleet's state (etcd) is unreachable: " + error;
    event["decided_by"] = fleet_->id;
    if (event_sink_) event_sink_(event);
    record_event(std::move(event));
}

void RolloutController::on_fleet_view(const FleetView& view, double now) {
    if (!fleet_ || !fleet_->state) return;
    if (!view.reachable) {
        set_etcd_health(false, view.error);
        return;
    }
    const bool first = !fleet_health_.state_read;
    fleet_health_.state_read = true;
    set_etcd_health(true, "");
    if (fleet_health_.leader != view.leader)
        log::info(view.leader ? "fleet_leader" : "fleet_follower",
                  {{"fleet", fleet_->config.name}, {"replica", fleet_->id}, {"leader", view.leader_id}, {"term", view.term}});
    fleet_health_.leader = view.leader;
    fleet_health_.leader_id = view.leader_id;
    fleet_health_.term = view.term;
    fleet_health_.replicas = view.replicas;
    fleet_health_.replica_ids = view.replica_ids;
    metrics_.fleet_leader.Add({}).Set(view.leader ? 1 : 0);
    if (fleet_->signals) fleet_->signals->set_active(view.leader);
    apply_records(view.routes, decides(), now);
    if (first)
        for (auto& [route, control] : routes_) store_weight(control);
}

void RolloutController::check_signals_fresh(double now) {
    if (!fleet_ || !fleet_->signals || !fleet_health_.prometheus_ok) return;
    if (now - fleet_health_.last_reading_at <= kSignalsStaleAfter) return;
    fleet_health_.prometheus_ok = false;
    fleet_health_.prometheus_error = "no complete new second from Prometheus for " +
                                     std::to_string(static_cast<int>(now - fleet_health_.last_reading_at)) + " s";
    log::warn("fleet_signals_holding", {{"kind", "stale"}, {"error", fleet_health_.prometheus_error}});
}

void RolloutController::on_fleet_reading(const FleetReading& reading, const Snapshot& snapshot, double now) {
    if (!fleet_ || !fleet_->signals) return;
    if (reading.targets_only) {
        // Not deciding: only who Prometheus scrapes (GET /fleet); the analysis is the leader's.
        if (!reading.ok) return;
        fleet_health_.prometheus_replicas = reading.replicas;
        fleet_health_.targets = targets_of(reading);
        return;
    }
    if (!reading.ok) {
        metrics_.fleet_query_errors.Add({{"kind", reading.error_kind}}).Increment();
        if (fleet_health_.prometheus_ok || fleet_health_.prometheus_error != reading.error)
            log::warn("fleet_signals_holding", {{"kind", reading.error_kind}, {"error", reading.error}});
        fleet_health_.prometheus_ok = false;
        fleet_health_.prometheus_error = reading.error;
        return;
    }
    if (!fleet_health_.prometheus_ok) log::info("fleet_signals_ok", {{"replicas", reading.replicas}});
    fleet_health_.prometheus_ok = true;
    fleet_health_.prometheus_error.clear();
    fleet_health_.last_reading_at = now;
    fleet_health_.prometheus_replicas = reading.replicas;
    fleet_health_.targets = targets_of(reading);

    std::map<std::string, fleet::RouteSeriesFilter> filters;
    for (const auto& compiled : snapshot.routes) {
        if (!compiled.has_canary) continue;
        const auto& route = *compiled.config;
        fleet::RouteSeriesFilter f;
        f.stable_release = route.stable.release;
        f.canary_release = route.canary->release;
        f.failure_statuses = snapshot.config->defaults.signals.failure_statuses;
        f.stable_endpoints = compiled.versions[0].endpoint_ids.size();
        f.canary_endpoints = compiled.versions[1].endpoint_ids.size();
        filters.emplace(route.name, std::move(f));
    }
    const bool baseline = !fleet_blocks_.has_baseline();
    auto blocks = fleet_blocks_.build(reading.requests, reading.buckets, filters, reading.at);
    if (baseline) return;  // the first reading only sets where counting starts
    auto backends = fleet::fleet_backend(reading.cpu, reading.memory, filters);
    const auto allowed = authorities();
    for (auto& [name, control] : routes_) {
        if (!control.fleet_loop.analyzer) continue;
        auto block = blocks.find(name);
        if (block == blocks.end()) continue;
        rollout::SecondInput input;
        input.now = now;
        input.stable = block->second.stable;
        input.canary = block->second.canary;
        if (auto b = backends.find(name); b != backends.end()) {
            input.stable_backend = b->second.stable;
            input.canary_backend = b->second.canary;
        }
        auto effects = rollout::analyze_second(control.fleet_loop, input);
        if (!effects.evaluated) continue;
        const auto before = control.loop.machine->state();
        effects.change = rollout::decide(*control.loop.machine, effects.evaluation, allowed.fleet_analysis, now);
        rollout::follow_step(control.loop);
        rollout::follow_step(control.fleet_loop, *control.loop.machine);
        if (allowed.fleet_analysis != fleet::Authority::none)
            show_evaluation(name, control, effects, *control.fleet_loop.analyzer);
        if (effects.change.changed) commit(name, control, before, effects.change, &effects.evaluation, fleet_health_.term, now);
    }
}

std::optional<std::string> RolloutController::fleet_json() const {
    if (!fleet_) return std::nullopt;
    admin::StatusView view;
    fill_status(view);
    boost::json::object root;
    auto status = boost::json::parse(admin::render_status_json(view)).as_object();
    root["fleet"] = status["fleet"];
    boost::json::array replicas;
    for (const auto& id : fleet_health_.replica_ids) replicas.emplace_back(id);
    root["replicas"] = std::move(replicas);  // etcd's view (empty without etcd)
    boost::json::array targets;
    for (const auto& [instance, up] : fleet_health_.targets) targets.push_back(boost::json::object{{"instance", instance}, {"up", up}});
    root["targets"] = std::move(targets);  // Prometheus's view, from the last reading (empty without Prometheus)
    return boost::json::serialize(root) + "\n";
}

}  // namespace canaryd::io
