// The admin API's view of the running process: implements core/admin's AdminBackend over
// the live snapshot, signals, rollout controller and metrics, and turns an HTTP request from
// the admin listener into core's dispatch call (the bearer token is checked here, in
// constant time, because that hashes with OpenSSL). Control thread only.
#pragma once

#include "io/admin/admin_auth.hpp"

#include "core/admin/dispatch.hpp"
#include "io/admin/admin_server.hpp"

#include <functional>
#include <map>
#include <string>

namespace canaryd::io {

class RolloutController;
class SignalsAggregator;
class SnapshotHolder;
struct Metrics;

class ProcessAdmin final : public admin::AdminBackend {
public:
    using DemoControl = std::function<std::string(const std::map<std::string, std::string>& query)>;
    struct Parts {
        const SnapshotHolder& snapshots;
        SignalsAggregator& signals;
        RolloutController& rollout;
        Metrics& metrics;
        const bool& draining;
        std::function<double()> now;  // the control loop's clock, seconds
        DemoControl demo_control;      // empty outside --demo
    };

    // `tokens` empty: mutating calls need no token (the admin listener is loopback).
    ProcessAdmin(Parts parts, std::vector<NamedToken> tokens);

    admin::AdminResponse handle(const AdminHttpRequest& request);
    bool token_required() const { return !tokens_.empty(); }
    // A reload's tokens (control thread, as handle()).
    void set_tokens(std::vector<NamedToken> tokens) { tokens_ = std::move(tokens); }

    bool draining() const override { return parts_.draining; }
    std::string status_json() override;
    std::string metrics_text() override;
    std::string events_json(std::size_t limit) override;
    admin::ActionReply series_json(std::string_view route) override;
    std::optional<std::string> demo(const std::map<std::string, std::string>& query) override;
    admin::ActionReply act(const admin::ActionRequest& request) override;
    std::optional<std::string> fleet_json() override;

private:
    Parts parts_;
    std::vector<NamedToken> tokens_;
};

}  // namespace canaryd::io
