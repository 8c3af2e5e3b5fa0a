// An operator's action on one route (SPEC §7: rollback, promote, pause, resume, weight),
// decided without I/O: which machine transition it is, when it is refused, and what a resume
// after a rollback does to the analyzer. io carries out the returned change (store the weight,
// persist, announce) exactly as it does for the analyzer's own decisions.
#pragma once

#include "core/rollout/route_loop.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace canaryd::rollout {

enum class OperatorAction : std::uint8_t { rollback, promote, pause, resume, weight };

struct OperatorOutcome {
    unsigned status = 200;  // 400 or 409 when refused; `error` says why
    std::string error;
    Change change;          // when status is 200
};

OperatorOutcome apply_operator_action(RouteLoop& loop, const std::string& route, OperatorAction action,
                                      std::optional<std::uint32_t> weight_bp, const std::string& actor, double now);

}  // namespace canaryd::rollout
