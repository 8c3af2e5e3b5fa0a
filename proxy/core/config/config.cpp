#include "core/config/config.hpp"

#include <algorithm>

namespace canaryd::config {

const char* to_string(Role role) { return role == Role::canary ? "canary" : "stable"; }

const char* to_string(BackendSignals::Source source) {
    switch (source) {
        case BackendSignals::Source::none: return "none";
        case BackendSignals::Source::pid_file: return "pid_file";
        case BackendSignals::Source::cgroup: return "cgroup";
        case BackendSignals::Source::scrape: return "scrape";
        case BackendSignals::Source::scrape_path: return "scrape_path";
    }
    return "none";
}

std::string Guardrail::name() const {
    switch (metric) {
        case Metric::success_rate: return "success_rate";
        case Metric::latency_p50: return "latency_p50";
        case Metric::latency_p90: return "latency_p90";
        case Metric::latency_p99: return "latency_p99";
        case Metric::cpu_per_request: return "cpu_per_request";
        case Metric::memory: return "memory";
    }
    return "success_rate";
}

std::string Guardrail::bound_name() const {
    if (max_drop_points) return "max_drop";
    if (min_percent) return "min";
    if (max_ratio) return "max_ratio";
    if (max_ms) return "max_ms";
    return "max_bytes";
}

bool Guardrail::same_test(const Guardrail& o) const {
    return metric == o.metric && max_drop_points == o.max_drop_points && min_percent == o.min_percent &&
           max_ratio == o.max_ratio && max_ms == o.max_ms && max_bytes == o.max_bytes && persistence == o.persistence;
}

std::vector<std::string> Analysis::guardrail_labels() const {
    std::vector<std::string> labels;
    for (const auto& g : guardrails) {
        const auto same_metric = std::count_if(guardrails.begin(), guardrails.end(),
                                               [&](const Guardrail& other) { return other.metric == g.metric; });
        labels.push_back(same_metric > 1 ? g.name() + "." + g.bound_name() : g.name());
    }
    return labels;
}

double Guardrail::latency_quantile() const {
    switch (metric) {
        case Metric::latency_p50: return 0.5;
        case Metric::latency_p90: return 0.9;
        case Metric::latency_p99: return 0.99;
        default: return 0.0;
    }
}

bool Guardrail::is_latency() const {
    return metric == Metric::latency_p50 || metric == Metric::latency_p90 || metric == Metric::latency_p99;
}

const Route* Config::find_route(std::string_view name) const {
    for (const auto& route : routes)
        if (route.name == name) return &route;
    return nullptr;
}

}  // namespace canaryd::config
