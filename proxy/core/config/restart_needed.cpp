#include "core/config/restart_needed.hpp"

namespace canaryd::config {

std::vector<RestartNeeded> restart_needed(const Config& running, const Config& next) {
    std::vector<RestartNeeded> out;
    if (running.threads != next.threads) out.push_back({"threads", "the number of worker threads changes on restart"});
    // Tokens are re-read on every reload; only the listener's address needs a restart.
    if (!(running.admin.address == next.admin.address))
        out.push_back({"admin", "the admin listener's address changes on restart"});
    if (running.state_file != next.state_file) out.push_back({"state_file", "the state file changes on restart"});
    if (running.fleet != next.fleet)
        out.push_back({"fleet", "fleet membership (name, Prometheus, etcd) changes on restart"});
    return out;
}

}  // namespace canaryd::config
