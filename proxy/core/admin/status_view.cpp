#include "core/admin/status_view.hpp"

#include "core/analysis/outcome.hpp"
#include "core/json/json_text.hpp"

#include <boost/json.hpp>

namespace canaryd::admin {
namespace {

boost::json::value version_json(const VersionStatus& v) {
    boost::json::object o;
    o["release"] = v.release;
    o["endpoints"] = v.endpoints;
    boost::json::array addresses;
    for (const auto& a : v.addresses) addresses.emplace_back(a);
    o["addresses"] = std::move(addresses);
    o["requests"] = v.requests;
    o["success_rate"] = json::rounded(v.success_rate, 1e-6);
    o["latency_p50_ms"] = json::rounded(v.latency_p50_ms, 1e-3);
    o["latency_p90_ms"] = json::rounded(v.latency_p90_ms, 1e-3);
    o["latency_p99_ms"] = json::rounded(v.latency_p99_ms, 1e-3);
    o["traffic_share"] = json::rounded(v.traffic_share, 1e-3);
    o["in_flight"] = v.in_flight;
    boost::json::object errors;
    for (std::size_t i = 0; i < v.upstream_errors.size(); ++i)
        errors[analysis::to_string(static_cast<analysis::ErrorKind>(i))] = v.upstream_errors[i];
    o["upstream_errors"] = std::move(errors);
    o["cpu_cores"] = v.cpu_cores ? boost::json::value(json::rounded(*v.cpu_cores, 1e-4)) : boost::json::value(nullptr);
    o["memory_bytes"] = v.memory_bytes ? boost::json::value(*v.memory_bytes) : boost::json::value(nullptr);
    if (!v.signal_error.empty()) o["signal_error"] = v.signal_error;
    return o;
}

}  // namespace

std::string render_status_json(const StatusView& view) {
    boost::json::object root;
    root["config_generation"] = view.config_generation;
    root["canaryd_version"] = view.version;
    root["draining"] = view.draining;
    root["token_required"] = view.token_required;
    root["window_seconds"] = view.window_seconds;
    boost::json::array routes;
    for (const auto& r : view.routes) {
        boost::json::object o;
        o["name"] = r.name;
        o["state"] = r.state;
        if (!r.state_reason.empty()) o["state_reason"] = r.state_reason;
        o["canary_weight"] = json::rounded(r.canary_weight, 0.01);
        o["configured_weight"] = json::rounded(r.configured_weight, 0.01);
        o["step"] = r.step ? boost::json::value(*r.step) : boost::json::value(nullptr);
        o["stable"] = version_json(r.stable);
        o["canary"] = r.canary ? version_json(*r.canary) : boost::json::value(nullptr);
        if (r.last_decision) {
            boost::json::object d;
            d["time"] = r.last_decision->time;
            d["verdict"] = r.last_decision->verdict;
            d["guardrail"] = r.last_decision->guardrail;
            d["detail"] = r.last_decision->detail;
            o["last_decision"] = std::move(d);
        } else {
            o["last_decision"] = nullptr;
        }
        boost::json::array guardrails;
        for (const auto& g : r.guardrails)
            guardrails.push_back(boost::json::object{{"guardrail", g.guardrail},
                                                     {"verdict", g.verdict},
                                                     {"dry_run", g.dry_run},
                                                     {"statistic", json::rounded(g.statistic, 1e-3)},
                                                     {"threshold", json::rounded(g.threshold, 1e-3)},
                                                     {"canary_value", g.canary_value},
                                                     {"stable_value", g.stable_value}});
        o["guardrails"] = std::move(guardrails);
        routes.push_back(std::move(o));
    }
    root["routes"] = std::move(routes);
    if (view.fleet) {
        const auto& f = *view.fleet;
        boost::json::object fleet{{"name", f.name},         {"id", f.id},
                                  {"role", f.role},         {"state", f.state},
                                  {"replicas", f.replicas}, {"signals", f.signals}};
        if (f.leader.empty()) fleet["leader"] = nullptr;
        else fleet["leader"] = f.leader;
        if (!f.error.empty()) fleet["error"] = f.error;
        if (!f.signals_error.empty()) fleet["signals_error"] = f.signals_error;
        root["fleet"] = std::move(fleet);
    }
    return json::to_text(root) + "\n";
}

}  // namespace canaryd::admin
