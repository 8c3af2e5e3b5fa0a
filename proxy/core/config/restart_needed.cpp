#include "core/config/restart_needed.hpp"

namespace canaryd::config {

std::vector<RestartNeeded> restart_needed(const Config& running, const Config& next) {
    std::vector<RestartNeeded> out;
    if (running.threads != next.threads) out.push_back({"threads", "the number of worker threads changes on restart"});
    if (!(running.admin.address == next.admin.address) || running.admin.token_file != next.admin.token_file)
        out.push_back({"admin", "the admin listener and token change on restart"});
    if (running.state_file != next.state_file) out.push_back({"state_file", "the state file changes on restart"});
    return out;
}

}  // namespace canaryd::config
