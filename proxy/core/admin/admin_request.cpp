#include "core/admin/admin_request.hpp"

#include "core/http/request_head.hpp"

#include <array>

namespace canaryd::admin {
namespace {

std::string decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size() && http::hex_digit_value(text[i + 1]) >= 0 && http::hex_digit_value(text[i + 2]) >= 0) {
            out += static_cast<char>(http::hex_digit_value(text[i + 1]) * 16 + http::hex_digit_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

struct PathInfo {
    std::string_view path;
    Endpoint endpoint;
    bool mutating;
};

constexpr std::array<PathInfo, 17> kPaths{{
    {"/", Endpoint::dashboard, false},  // the dashboard's page and files (SPEC §10)
    {"/dashboard.js", Endpoint::dashboard, false},
    {"/dashboard.css", Endpoint::dashboard, false},
    {"/favicon.svg", Endpoint::dashboard, false},
    {"/series", Endpoint::series, false},  // the dashboard's charts: per-second points
    {"/healthz", Endpoint::healthz, false},
    {"/readyz", Endpoint::readyz, false},
    {"/status", Endpoint::status, false},
    {"/metrics", Endpoint::metrics, false},
    {"/events", Endpoint::events, false},
    {"/fleet", Endpoint::fleet, false},  // fleet mode: the replicas etcd and Prometheus know
    {"/rollback", Endpoint::rollback, true},
    {"/promote", Endpoint::promote, true},
    {"/pause", Endpoint::pause, true},
    {"/resume", Endpoint::resume, true},
    {"/weight", Endpoint::weight, true},
    {"/demo", Endpoint::demo, true},  // canaryd --demo only: the canary's fault knobs
}};

}  // namespace

bool is_mutating_method(std::string_view method) { return method != "GET" && method != "HEAD"; }

std::map<std::string, std::string> parse_query(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    }
    return out;
}

AdminRoute route_admin_request(std::string_view method, std::string_view target) {
    AdminRoute route;
    const auto question = target.find('?');
    const auto path = target.substr(0, question);
    if (question != std::string_view::npos) route.query = parse_query(target.substr(question + 1));
    for (const auto& info : kPaths) {
        if (info.path != path) continue;
        const bool method_ok = info.mutating ? method == "POST" : (method == "GET" || method == "HEAD");
        if (!method_ok) {
            route.error_status = 405;
            route.allow = info.mutating ? "POST" : "GET, HEAD";
            return route;
        }
        route.endpoint = info.endpoint;
        return route;
    }
    route.error_status = 404;
    return route;
}

}  // namespace canaryd::admin
