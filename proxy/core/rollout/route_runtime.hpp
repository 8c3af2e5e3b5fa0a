// The mutable state of one route, shared by every worker thread and every config snapshot
// that names the route. Lives outside the immutable config (ARCHITECTURE rule 2).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace canaryd::rollout {

struct RouteRuntime {
    explicit RouteRuntime(std::string route_name) : name(std::move(route_name)) {}

    const std::string name;
    // The weight in force, in basis points. Read by every request (relaxed: a request that
    // races a change may take either value; each later request sees the new one).
    std::atomic<std::uint32_t> canary_weight_bp{0};
};

}  // namespace canaryd::rollout
