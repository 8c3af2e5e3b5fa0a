#include "io/admin/process_admin.hpp"

#include "io/admin/admin_auth.hpp"
#include "io/control/rollout_controller.hpp"
#include "io/control/snapshot.hpp"
#include "io/signals/metrics.hpp"
#include "io/signals/signals_aggregator.hpp"

namespace canaryd::io {

ProcessAdmin::ProcessAdmin(Parts parts, std::vector<NamedToken> tokens) : parts_(std::move(parts)), tokens_(std::move(tokens)) {}

admin::AdminResponse ProcessAdmin::handle(const AdminHttpRequest& request) {
    auto credentials = admin::Credentials::not_required;
    std::string_view name;
    if (!tokens_.empty()) {
        const auto* token = match_bearer(request.authorization, tokens_);
        credentials = !token              ? admin::Credentials::invalid
                      : token->may_mutate ? admin::Credentials::operator_token
                                          : admin::Credentials::viewer_token;
        if (token) name = token->name;
    }
    return admin::dispatch({request.method, request.target, credentials, request.peer, name, request.origin,
                            request.host, request.fetch_site},
                           *this);
}

std::string ProcessAdmin::status_json() {
    auto view = parts_.signals.status(*parts_.snapshots.load());
    parts_.rollout.fill_status(view);
    view.draining = parts_.draining;
    view.token_required = token_required();
    return admin::render_status_json(view);
}

admin::ActionReply ProcessAdmin::series_json(std::string_view route) {
    return parts_.signals.series(*parts_.snapshots.load(), route);
}

std::string ProcessAdmin::metrics_text() { return parts_.metrics.serialize(); }

std::string ProcessAdmin::events_json(std::size_t limit) { return parts_.rollout.events_json(limit); }

std::optional<std::string> ProcessAdmin::demo(const std::map<std::string, std::string>& query) {
    if (!parts_.demo_control) return std::nullopt;
    return parts_.demo_control(query);
}

std::optional<std::string> ProcessAdmin::fleet_json() { return parts_.rollout.fleet_json(); }

admin::ActionReply ProcessAdmin::act(const admin::ActionRequest& request) {
    return parts_.rollout.act(*parts_.snapshots.load(), request, parts_.now());
}

}  // namespace canaryd::io
