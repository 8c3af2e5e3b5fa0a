#include "core/admin/dispatch.hpp"

#include "core/admin/admin_request.hpp"
#include "core/admin/cross_site.hpp"
#include "core/admin/dashboard_assets.hpp"
#include "core/config/units.hpp"

#include <algorithm>
#include <charconv>

namespace canaryd::admin {

namespace {

AdminResponse text(unsigned status, std::string body) {
    AdminResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

AdminResponse json(std::string body) {
    auto response = text(200, std::move(body));
    response.content_type = "application/json";
    return response;
}

AdminResponse reply(ActionReply answer) {
    auto response = text(answer.status, std::move(answer.body));
    if (answer.status == 200) response.content_type = "application/json";
    return response;
}

std::string query_value(const AdminRoute& route, const char* name) {
    const auto it = route.query.find(name);
    return it == route.query.end() ? std::string() : it->second;
}

// ?limit=N for /events, read like atoi (leading digits; none is 0), clamped to 1..256;
// absent: 100.
std::size_t events_limit(const AdminRoute& route) {
    const auto value = query_value(route, "limit");
    if (value.empty()) return 100;
    long limit = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), limit);
    if (parsed.ec == std::errc::result_out_of_range) limit = value.front() == '-' ? 1 : 256;
    return static_cast<std::size_t>(std::clamp(limit, 1L, 256L));
}

std::optional<rollout::OperatorAction> operator_action(Endpoint endpoint) {
    switch (endpoint) {
        case Endpoint::rollback: return rollout::OperatorAction::rollback;
        case Endpoint::promote: return rollout::OperatorAction::promote;
        case Endpoint::pause: return rollout::OperatorAction::pause;
        case Endpoint::resume: return rollout::OperatorAction::resume;
        case Endpoint::weight: return rollout::OperatorAction::weight;
        default: return std::nullopt;
    }
}

AdminResponse act(const AdminRequest& request, const AdminRoute& route, rollout::OperatorAction action,
                  AdminBackend& backend) {
    ActionRequest call;
    call.action = action;
    call.route = query_value(route, "route");
    if (action == rollout::OperatorAction::weight) {
        if (!route.query.contains("canary")) return text(400, "400 Bad Request: give the weight as &canary=PERCENT\n");
        auto parsed = config::parse_weight_bp(query_value(route, "canary"));
        if (!parsed) return text(400, "400 Bad Request: canary: " + parsed.message() + "\n");
        call.weight_bp = *parsed;
    }
    // Who acted, for /events and the log: the token's name and where they called from.
    call.actor = (request.credentials == Credentials::operator_token ? std::string(request.token_name) : "operator") + "@" +
                 std::string(request.peer);
    return reply(backend.act(call));
}

AdminResponse dashboard_file(std::string_view target) {
    const auto* asset = find_dashboard_asset(target.substr(0, target.find('?')));
    if (!asset) return text(404, "404 Not Found\n");
    auto response = text(200, std::string(asset->body));
    response.content_type = std::string(asset->content_type);
    return response;
}

AdminResponse route_call(const AdminRequest& request, AdminBackend& backend) {
    // A page of another site may not drive the operator's browser into an action (CSRF),
    // whatever its credentials: checked first, like the token.
    if (is_mutating_method(request.method))
        if (auto refusal = cross_site_refusal(request.origin, request.host, request.fetch_site))
            return text(403, std::move(*refusal));
    // Every mutating call is authenticated before its path is even looked at (SPEC §7).
    if (is_mutating_method(request.method) && request.credentials == Credentials::invalid) {
        auto response = text(401, "401 Unauthorized: this call needs Authorization: Bearer <admin token>\n");
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"canaryd\"");
        return response;
    }
    if (is_mutating_method(request.method) && request.credentials == Credentials::viewer_token)
        return text(403, "403 Forbidden: token '" + std::string(request.token_name) + "' is a viewer: it reads, never acts\n");
    const auto route = route_admin_request(request.method, request.target);
    if (route.error_status == 405) {
        auto response = text(405, "405 Method Not Allowed: use " + route.allow + "\n");
        response.headers.emplace_back("Allow", route.allow);
        return response;
    }
    if (route.error_status != 0)
        return text(404, "404 Not Found: no admin endpoint " + std::string(request.target) + "\n");
    if (const auto action = operator_action(route.endpoint)) return act(request, route, *action, backend);
    switch (route.endpoint) {
        case Endpoint::healthz: return text(200, "ok\n");
        case Endpoint::readyz: return backend.draining() ? text(503, "draining\n") : text(200, "ready\n");
        case Endpoint::status: return json(backend.status_json());
        case Endpoint::metrics: {
            auto response = text(200, backend.metrics_text());
            response.content_type = "text/plain; version=0.0.4; charset=utf-8";
            return response;
        }
        case Endpoint::events: return json(backend.events_json(events_limit(route)));
        case Endpoint::series: return reply(backend.series_json(query_value(route, "route")));
        case Endpoint::fleet: {
            auto answer = backend.fleet_json();
            if (!answer) return text(404, "404 Not Found: /fleet exists only in fleet mode (fleet: in the config)\n");
            return json(std::move(*answer));
        }
        case Endpoint::dashboard: return dashboard_file(request.target);
        case Endpoint::demo: {
            auto answer = backend.demo(route.query);
            if (!answer) return text(404, "404 Not Found: /demo exists only in canaryd --demo\n");
            return json(std::move(*answer));
        }
        default: return text(404, "404 Not Found\n");
    }
}

}  // namespace

AdminResponse dispatch(const AdminRequest& request, AdminBackend& backend) {
    auto response = route_call(request, backend);
    // Every answer, the dashboard's files and the API alike: no content sniffing, nothing
    // loaded or framed from elsewhere, no inline script or style (so an injected string can
    // never run), no referrer leaving the listener.
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    response.headers.emplace_back("X-Frame-Options", "DENY");
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
    return response;
}

}  // namespace canaryd::admin
