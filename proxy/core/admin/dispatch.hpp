// The whole admin API (SPEC §7) without sockets: one request in, one response out. The
// authentication outcome comes in already decided (the constant-time token comparison
// hashes with OpenSSL, an io concern); what the process knows and does is reached through
// AdminBackend, which io implements over the live process and unit tests implement in memory.
#pragma once

#include "core/rollout/operator_action.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canaryd::admin {

enum class Credentials : std::uint8_t {
    not_required,  // no token configured: mutating calls are open (the listener is loopback)
    operator_token,  // Authorization: Bearer <an operator's token>
    viewer_token,    // Authorization: Bearer <a viewer's token>: reads, never mutates (403)
    invalid,         // tokens are configured and the request carries none of them (401)
};

struct AdminRequest {
    std::string_view method;
    std::string_view target;
    Credentials credentials = Credentials::not_required;
    std::string_view peer;        // the caller's address, for the actor of an operator action
    std::string_view token_name;  // whose token it was ("admin" for token_file)
    // What a browser says about who initiated the call (core/admin/cross_site); empty when
    // absent, as from curl or canaryd ctl.
    std::string_view origin;
    std::string_view host;
    std::string_view fetch_site;  // Sec-Fetch-Site
};

struct AdminResponse {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct ActionRequest {
    rollout::OperatorAction action = rollout::OperatorAction::rollback;
    std::string route;                       // empty: the only route with a canary
    std::optional<std::uint32_t> weight_bp;  // with weight
    std::string actor;
};

struct ActionReply {
    unsigned status = 200;
    std::string body;  // JSON on 200, a sentence otherwise
};

class AdminBackend {
public:
    virtual ~AdminBackend() = default;
    virtual bool draining() const = 0;
    virtual std::string status_json() = 0;
    virtual std::string metrics_text() = 0;
    virtual std::string events_json(std::size_t limit) = 0;
    // GET /series: a route's per-second points (core/admin/series); `route` empty means the
    // only route. 404 for an unknown route, 400 when several routes leave it ambiguous.
    virtual ActionReply series_json(std::string_view route) = 0;
    // nullopt outside --demo (the endpoint then does not exist).
    virtual std::optional<std::string> demo(const std::map<std::string, std::string>& query) = 0;
    virtual ActionReply act(const ActionRequest& request) = 0;
    // GET /fleet (SPEC §9): the fleet object of /status with the replicas etcd lists and the
    // targets Prometheus scrapes; nullopt without `fleet:` (404).
    virtual std::optional<std::string> fleet_json() { return std::nullopt; }
};

AdminResponse dispatch(const AdminRequest& request, AdminBackend& backend);

}  // namespace canaryd::admin
