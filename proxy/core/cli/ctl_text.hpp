// What `canaryd ctl` prints by default (SPEC §1): the admin API's JSON as tables a person
// reads on a release day — one screen for `ctl status` with each guardrail's evidence
// against its threshold, one line per event, one line for an action's outcome. `--json`
// prints the API's JSON as it came. Pure: JSON text in, text out.
#pragma once

#include "core/common/result.hpp"

#include <string>
#include <string_view>

namespace canaryd::cli {

// GET /status
Result<std::string> status_text(std::string_view json);
// GET /events
Result<std::string> events_text(std::string_view json);
// GET /fleet (ctl status --fleet)
Result<std::string> fleet_text(std::string_view json);
// The reply of rollback, promote, pause, resume, weight (the route's state afterwards).
Result<std::string> action_text(std::string_view json);

}  // namespace canaryd::cli
