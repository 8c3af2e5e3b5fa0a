#include "config/config.hpp"

namespace canaryd::config {

const char* to_string(Role role) { return role == Role::canary ? "canary" : "stable"; }

const Route* Config::find_route(std::string_view name) const {
    for (const auto& route : routes)
        if (route.name == name) return &route;
    return nullptr;
}

}  // namespace canaryd::config
