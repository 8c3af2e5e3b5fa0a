// Admin API request routing (SPEC §7), without sockets: method + target in, which endpoint
// and its parameters out. The token check happens in the I/O layer before this runs for
// every mutating method, so an unauthenticated POST gets 401 whatever its path.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace canaryd::admin {

enum class Endpoint {
    healthz, readyz, status, metrics, events, series, dashboard, fleet,
    rollback, promote, pause, resume, weight, demo, not_found
};

struct AdminRoute {
    Endpoint endpoint = Endpoint::not_found;
    unsigned error_status = 0;  // 404 or 405 when the request cannot be served
    std::string allow;          // with 405: the methods the path takes
    std::map<std::string, std::string> query;  // percent-decoded
};

// True for methods that change state (everything but GET and HEAD).
bool is_mutating_method(std::string_view method);

AdminRoute route_admin_request(std::string_view method, std::string_view target);

// "a=1&b=x%20y" -> {a: 1, b: "x y"}; malformed escapes are kept literally.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace canaryd::admin
