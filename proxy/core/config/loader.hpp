// YAML text -> validated Config, or every problem found (SPEC §2). Pure: the caller reads
// the file; nothing here touches the file system, the network or the clock.
#pragma once

#include "core/config/config.hpp"
#include "core/config/config_error.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace canaryd::config {

struct LoadResult {
    std::shared_ptr<const Config> config;  // null when errors is not empty
    std::vector<ConfigError> errors;       // in file order

    bool ok() const { return config != nullptr; }
};

LoadResult load_config(std::string_view yaml_text);

}  // namespace canaryd::config
