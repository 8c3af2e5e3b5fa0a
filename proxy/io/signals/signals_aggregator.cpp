#include "io/signals/signals_aggregator.hpp"

#include "core/grpc/grpc_status.hpp"

#include "io/log/log.hpp"

#include <algorithm>

namespace canaryd::io {

namespace {

using config::Role;

prometheus::Labels version_labels(const std::string& route, Role role, const std::string& release) {
    return {{"route", route}, {"version", config::to_string(role)}, {"release", release}};
}

// Which canaryd_request_duration_seconds bucket each fine latency bucket falls in (by its
// midpoint); the last index is +Inf.
const std::array<std::uint8_t, analysis::kLatencyBuckets>& coarse_bucket_of() {
    static const auto table = [] {
        std::array<std::uint8_t, analysis::kLatencyBuckets> t{};
        const auto& bounds = Metrics::duration_buckets();
        for (unsigned b = 0; b < analysis::kLatencyBuckets; ++b) {
            const auto range = analysis::latency_bucket_range(b);
            const double mid_seconds = (range.lower + range.width / 2) / 1e6;
            std::size_t i = 0;
            while (i < bounds.size() && mid_seconds > bounds[i]) ++i;
            t[b] = static_cast<std::uint8_t>(i);
        }
        return t;
    }();
    return table;
}

}  // namespace

SignalsAggregator::VersionState& SignalsAggregator::version_state(RouteState& route, const std::string& name,
                                                                  Role role, const std::string& release,
                                                                  unsigned window_seconds) {
    auto& slot = route.versions[static_cast<std::size_t>(role)];
    // A new release (a new canary) or a new window length starts a fresh window: numbers of
    // the previous release must not judge this one.
    if (slot && (slot->release != release || slot->window.length() != window_seconds)) {
        drop_series(*slot);
        slot.reset();
    }
    if (!slot) {
        slot.emplace(window_seconds);
        auto& s = *slot;
        s.release = release;
        const auto labels = version_labels(name, role, release);
        s.duration = &metrics_.duration.Add(labels, Metrics::duration_buckets());
        s.in_flight = &metrics_.in_flight.Add(labels);
        s.weight = &metrics_.weight.Add(labels);
        s.share = &metrics_.traffic_share.Add(labels);
        for (std::size_t k = 0; k < analysis::kErrorKinds; ++k) {
            auto with_kind = labels;
            with_kind["kind"] = std::string(analysis::to_string(static_cast<analysis::ErrorKind>(k)));
            s.errors[k] = &metrics_.upstream_errors.Add(with_kind);
        }
    }
    return *slot;
}

void SignalsAggregator::drop_series(VersionState& state) {
    for (auto& [code, counter] : state.requests_by_code) metrics_.requests.Remove(counter);
    for (auto& [code, counter] : state.requests_by_grpc_status) metrics_.requests.Remove(counter);
    for (auto* counter : state.errors) metrics_.upstream_errors.Remove(counter);
    metrics_.duration.Remove(state.duration);
    metrics_.in_flight.Remove(state.in_flight);
    metrics_.weight.Remove(state.weight);
    metrics_.traffic_share.Remove(state.share);
    if (state.cpu) metrics_.backend_cpu.Remove(state.cpu);
    if (state.memory) metrics_.backend_memory.Remove(state.memory);
}

void SignalsAggregator::prepare(const Snapshot& snapshot) {
    const unsigned window_seconds =
        static_cast<unsigned>(snapshot.config->defaults.signals.window.count() / 1000);
    for (const auto& compiled : snapshot.routes) {
        auto& route = routes_[compiled.config->name];
        for (Role role : {Role::stable, Role::canary}) {
            if (role == Role::canary && !compiled.has_canary) continue;
            const auto& release = compiled.versions[static_cast<std::size_t>(role)].config->release;
            auto& state = version_state(route, compiled.config->name, role, release, window_seconds);
            if (!state.has_last) {
                state.last = compiled.runtime->totals(role);
                state.has_last = true;
            }
        }
    }
}

void SignalsAggregator::tick(std::int64_t now_second, const Snapshot& snapshot) {
    last_tick_ = now_second;
    const unsigned window_seconds =
        static_cast<unsigned>(snapshot.config->defaults.signals.window.count() / 1000);
    for (const auto& compiled : snapshot.routes) {
        const auto& name = compiled.config->name;
        auto& route = routes_[name];
        const double canary_percent =
            compiled.runtime->canary_weight_bp.load(std::memory_order_acquire) / 100.0;
        analysis::WindowStats windows[2];
        for (Role role : {Role::stable, Role::canary}) {
            if (role == Role::canary && !compiled.has_canary) continue;
            const auto& release = compiled.versions[static_cast<std::size_t>(role)].config->release;
            auto& state = version_state(route, name, role, release, window_seconds);
            const auto totals = compiled.runtime->totals(role);
            state.last_second = analysis::SecondStats{};
            if (state.has_last) {
                const auto second = analysis::difference(totals, state.last);
                state.window.add(now_second, second);
                state.last_second = second;
                for (unsigned code = 0; code < analysis::kStatusCodes; ++code) {
                    const auto delta = totals.codes[code] - state.last.codes[code];
                    if (delta == 0) continue;
                    auto& counter = state.requests_by_code[code];
                    if (!counter) {
                        auto labels = version_labels(name, role, release);
                        labels["code"] = std::to_string(code);
                        counter = &metrics_.requests.Add(labels);
                    }
                    counter->Increment(static_cast<double>(delta));
                }
                // gRPC calls: one series per grpc-status (their HTTP status is 200), and a
                // grpc_status label only on these (README: Metrics).
                for (unsigned code = 0; code < analysis::kGrpcStatuses; ++code) {
                    const auto delta = totals.grpc_codes[code] - state.last.grpc_codes[code];
                    if (delta == 0) continue;
                    auto& counter = state.requests_by_grpc_status[code];
                    if (!counter) {
                        auto labels = version_labels(name, role, release);
                        labels["code"] = "200";
                        labels["grpc_status"] = grpc::status_name(static_cast<int>(code));
                        counter = &metrics_.requests.Add(labels);
                    }
                    counter->Increment(static_cast<double>(delta));
                }
                for (std::size_t k = 0; k < analysis::kErrorKinds; ++k)
                    if (auto d = totals.errors[k] - state.last.errors[k]; d > 0) state.errors[k]->Increment(static_cast<double>(d));
                if (second.requests > 0) {
                    std::vector<double> increments(Metrics::duration_buckets().size() + 1, 0.0);
                    const auto& coarse = coarse_bucket_of();
                    for (unsigned b = 0; b < analysis::kLatencyBuckets; ++b)
                        if (auto n = second.latency.count(b)) increments[coarse[b]] += n;
                    const double sum_seconds =
                        static_cast<double>(totals.latency_sum_us - state.last.latency_sum_us) / 1e6;
                    state.duration->ObserveMultiple(increments, sum_seconds);
                }
            }
            // A version first seen here (not prepared) starts from the current totals, so no
            // request is ever counted twice.
            state.last = totals;
            state.has_last = true;
            state.in_flight_now = totals.in_flight;
            state.series.add({now_second, state.last_second.requests, state.last_second.failures,
                              state.last_second.latency.quantile(0.50) / 1000.0,
                              state.last_second.latency.quantile(0.99) / 1000.0, state.backend.cpu_cores,
                              state.backend.memory_bytes});
            windows[static_cast<std::size_t>(role)] = state.window.sum(now_second);
        }
        const std::uint64_t route_requests = windows[0].requests + windows[1].requests;
        for (Role role : {Role::stable, Role::canary}) {
            auto& slot = route.versions[static_cast<std::size_t>(role)];
            if (!slot || (role == Role::canary && !compiled.has_canary)) continue;
            const double weight = role == Role::canary ? canary_percent : 100.0 - canary_percent;
            update_gauges(*slot, weight, windows[static_cast<std::size_t>(role)], route_requests);
        }
    }
}

void SignalsAggregator::update_gauges(VersionState& state, double weight_percent, const analysis::WindowStats& window,
                                      std::uint64_t route_requests) {
    state.in_flight->Set(static_cast<double>(state.in_flight_now));
    state.weight->Set(weight_percent);
    state.share->Set(route_requests == 0 ? 0.0 : 100.0 * static_cast<double>(window.requests) / static_cast<double>(route_requests));
}

void SignalsAggregator::set_backend(const std::string& route, Role role, const std::string& source,
                                    BackendReading reading) {
    auto it = routes_.find(route);
    if (it == routes_.end() || !it->second.versions[static_cast<std::size_t>(role)]) return;
    auto& state = *it->second.versions[static_cast<std::size_t>(role)];
    const bool was_failing = !state.backend.error.empty();
    const bool failing = !reading.error.empty();
    const prometheus::Labels labels = version_labels(route, role, state.release);
    if (failing) {
        metrics_.signal_errors.Add({{"route", route}, {"version", config::to_string(role)}, {"source", source}}).Increment();
        if (!was_failing)  // once per state change, not once a second
            log::warn("backend_signal_failed", {{"route", route}, {"version", config::to_string(role)},
                                                {"source", source}, {"error", reading.error}});
    } else if (was_failing) {
        log::info("backend_signal_recovered", {{"route", route}, {"version", config::to_string(role)}, {"source", source}});
    }
    // A missing signal is absent from /metrics rather than a stale or made-up number.
    if (reading.cpu_cores) {
        if (!state.cpu) state.cpu = &metrics_.backend_cpu.Add(labels);
        state.cpu->Set(*reading.cpu_cores);
    } else if (state.cpu) {
        metrics_.backend_cpu.Remove(state.cpu);
        state.cpu = nullptr;
    }
    if (reading.memory_bytes) {
        if (!state.memory) state.memory = &metrics_.backend_memory.Add(labels);
        state.memory->Set(*reading.memory_bytes);
    } else if (state.memory) {
        metrics_.backend_memory.Remove(state.memory);
        state.memory = nullptr;
    }
    state.backend = std::move(reading);
}

analysis::SecondStats SignalsAggregator::last_second(const std::string& route, Role role) const {
    auto it = routes_.find(route);
    if (it == routes_.end() || !it->second.versions[static_cast<std::size_t>(role)]) return {};
    return it->second.versions[static_cast<std::size_t>(role)]->last_second;
}

analysis::WindowStats SignalsAggregator::window(const std::string& route, Role role) const {
    auto it = routes_.find(route);
    if (it == routes_.end() || !it->second.versions[static_cast<std::size_t>(role)]) return {};
    return it->second.versions[static_cast<std::size_t>(role)]->window.sum(last_tick_);
}

std::optional<BackendReading> SignalsAggregator::backend(const std::string& route, Role role) const {
    auto it = routes_.find(route);
    if (it == routes_.end() || !it->second.versions[static_cast<std::size_t>(role)]) return std::nullopt;
    return it->second.versions[static_cast<std::size_t>(role)]->backend;
}

admin::StatusView SignalsAggregator::status(const Snapshot& snapshot) const {
    admin::StatusView view;
    view.config_generation = snapshot.generation;
    view.version = CANARYD_VERSION;
    view.window_seconds = static_cast<unsigned>(snapshot.config->defaults.signals.window.count() / 1000);
    for (const auto& compiled : snapshot.routes) {
        admin::RouteStatus r;
        r.name = compiled.config->name;
        r.canary_weight = compiled.runtime->canary_weight_bp.load(std::memory_order_acquire) / 100.0;
        r.configured_weight = compiled.has_canary ? compiled.config->canary_weight_bp / 100.0 : 0.0;
        analysis::WindowStats windows[2] = {window(r.name, Role::stable), window(r.name, Role::canary)};
        const auto route_requests = windows[0].requests + windows[1].requests;
        auto fill = [&](Role role) {
            admin::VersionStatus v;
            const auto& version = compiled.versions[static_cast<std::size_t>(role)];
            const auto& w = windows[static_cast<std::size_t>(role)];
            v.release = version.config->release;
            v.endpoints = version.endpoint_ids.size();
            for (auto id : version.endpoint_ids) v.addresses.push_back(endpoint_text(snapshot.endpoints[id].address));
            v.requests = w.requests;
            v.success_rate = w.success_rate();
            v.latency_p50_ms = w.latency.quantile(0.50) / 1000.0;
            v.latency_p90_ms = w.latency.quantile(0.90) / 1000.0;
            v.latency_p99_ms = w.latency.quantile(0.99) / 1000.0;
            v.traffic_share = route_requests == 0 ? 0.0 : 100.0 * static_cast<double>(w.requests) / static_cast<double>(route_requests);
            v.upstream_errors = w.errors;
            auto it = routes_.find(r.name);
            if (it != routes_.end() && it->second.versions[static_cast<std::size_t>(role)]) {
                const auto& state = *it->second.versions[static_cast<std::size_t>(role)];
                v.in_flight = state.in_flight_now;
                v.cpu_cores = state.backend.cpu_cores;
                v.memory_bytes = state.backend.memory_bytes;
                v.signal_error = state.backend.error;
            }
            return v;
        };
        r.stable = fill(Role::stable);
        if (compiled.has_canary) r.canary = fill(Role::canary);
        view.routes.push_back(std::move(r));
    }
    return view;
}

admin::ActionReply SignalsAggregator::series(const Snapshot& snapshot, std::string_view route) const {
    std::string name(route);
    if (name.empty()) {
        // ?route= is optional when there is exactly one route.
        if (snapshot.routes.size() != 1)
            return {400, "400 Bad Request: name the route with ?route=NAME (" + std::to_string(snapshot.routes.size()) +
                             " routes)\n"};
        name = snapshot.routes.front().config->name;
    }
    const auto compiled = std::find_if(snapshot.routes.begin(), snapshot.routes.end(),
                                       [&](const auto& r) { return r.config->name == name; });
    const auto it = routes_.find(name);
    if (compiled == snapshot.routes.end() || it == routes_.end()) return {404, "404 Not Found: no route " + name + "\n"};
    admin::RouteSeries out;
    out.route = name;
    out.window_seconds = static_cast<unsigned>(snapshot.config->defaults.signals.window.count() / 1000);
    out.now = last_tick_;
    auto version = [&](Role role) {
        admin::VersionSeries v;
        v.release = compiled->versions[static_cast<std::size_t>(role)].config->release;
        if (const auto& state = it->second.versions[static_cast<std::size_t>(role)]) v.points = state->series.points(last_tick_);
        return v;
    };
    out.stable = version(Role::stable);
    if (compiled->has_canary) out.canary = version(Role::canary);
    return {200, admin::render_series_json(out)};
}

}  // namespace canaryd::io
