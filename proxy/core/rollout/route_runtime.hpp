// The mutable state of one route, shared by every worker thread and every config snapshot
// that names the route. Lives outside the immutable config (ARCHITECTURE rule 2).
#pragma once

#include "core/analysis/recorder.hpp"
#include "core/config/config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace canaryd::rollout {

class RouteRuntime {
public:
    RouteRuntime(std::string route_name, unsigned workers)
        : name(std::move(route_name)),
          workers_(workers == 0 ? 1 : workers),
          recorders_(std::make_unique<analysis::VersionRecorder[]>(workers_ * 2)) {}

    const std::string name;
    // The weight in force, in basis points. Written by the control thread (reload, analyzer,
    // operator), read by every request with acquire so that no request routed after a
    // rollback is published can still see the old weight.
    std::atomic<std::uint32_t> canary_weight_bp{0};

    // The recorder that worker `worker` (and only it) writes for `role`.
    analysis::VersionRecorder& recorder(unsigned worker, config::Role role) {
        return recorders_[static_cast<std::size_t>(worker % workers_) * 2 + static_cast<std::size_t>(role)];
    }
    // Cumulative totals of `role` over every worker.
    analysis::VersionTotals totals(config::Role role) const {
        analysis::VersionTotals out;
        for (unsigned w = 0; w < workers_; ++w) recorders_[w * 2 + static_cast<std::size_t>(role)].collect(out);
        return out;
    }

private:
    unsigned workers_;
    std::unique_ptr<analysis::VersionRecorder[]> recorders_;
};

}  // namespace canaryd::rollout
