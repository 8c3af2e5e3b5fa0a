// A configuration problem located in the source file (SPEC §1: FILE:LINE:COL: key.path: message).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace canaryd::config {

struct ConfigError {
    int line = 1;    // 1-based
    int column = 1;  // 1-based
    std::string path;  // e.g. "routes[0].canary.endpoints[1]"
    std::string message;
};

// "FILE:LINE:COL: key.path: message", the format of `canaryd --check-config`.
std::string format_error(std::string_view file, const ConfigError& error);

}  // namespace canaryd::config
