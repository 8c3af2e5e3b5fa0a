#include "config/config.hpp"

namespace canaryd::config {

const char* to_string(Role role) { return role == Role::canary ? "canary" : "stable"; }

const char* to_string(BackendSignals::Source source) {
    switch (source) {
        case BackendSignals::Source::none: return "none";
        case BackendSignals::Source::pid_file: return "pid_file";
        case BackendSignals::Source::cgroup: return "cgroup";
        case BackendSignals::Source::scrape: return "scrape";
        case BackendSignals::Source::scrape_path: return "scrape_path";
    }
    return "none";
}

const Route* Config::find_route(std::string_view name) const {
    for (const auto& route : routes)
        if (route.name == name) return &route;
    return nullptr;
}

}  // namespace canaryd::config
