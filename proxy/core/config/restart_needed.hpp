// Which settings a reload cannot change (SPEC §8): the worker threads, the admin listener
// and its token, the state file. A reload applies everything else and names these, so an
// operator is told that the file and the process now disagree.
#pragma once

#include "core/config/config.hpp"

#include <string>
#include <vector>

namespace canaryd::config {

struct RestartNeeded {
    std::string key;
    std::string message;
};

std::vector<RestartNeeded> restart_needed(const Config& running, const Config& next);

}  // namespace canaryd::config
