// A route with a stable and a canary version plus `extra` YAML, through the real loader.
#pragma once

#include "core/config/loader.hpp"

#include <doctest/doctest.h>

#include <string>

namespace canaryd::test {

inline config::Route route_from(const std::string& extra) {
    auto loaded = config::load_config("listeners: [{address: 127.0.0.1:0}]\nroutes:\n  - name: api\n"
                                      "    stable: {version: v1, endpoints: []}\n    canary: {version: v2, endpoints: []}\n" +
                                      extra);
    for (const auto& e : loaded.errors) INFO(config::format_error("t", e));
    REQUIRE(loaded.ok());
    return loaded.config->routes[0];
}

}  // namespace canaryd::test
