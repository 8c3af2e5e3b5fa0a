#include "core/admin/dispatch.hpp"

#include "core/admin/admin_request.hpp"
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
    auto reply = backend.act(call);
    auto response = text(reply.status, std::move(reply.body));
    if (reply.status == 200) response.content_type = "application/json";
    return response;
}

}  // namespace

AdminResponse dispatch(const AdminRequest& request, AdminBackend& backend) {
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
        case Endpoint::demo: {
            auto answer = backend.demo(route.query);
            if (!answer) return text(404, "404 Not Found: /demo exists only in canaryd --demo\n");
            return json(std::move(*answer));
        }
        default: return text(404, "404 Not Found\n");
    }
}

}  // namespace canaryd::admin
