// The state file (SPEC §6): every route's rollout state, keyed by route and canary
// release, so a rollback survives reloads, crashes and restarts. JSON via Boost.JSON:
//   {"format": 1, "routes": {"api": {"canary_release": "v42", "state": "rolled_back",
//    "weight_bp": 0, "step": 1, "reason": "...", "actor": "analyzer", "time": "..."}}}
// Pure: text in, text out; the I/O layer writes it atomically (write, fsync, rename).
#pragma once

#include "core/common/result.hpp"

#include "core/rollout/rollout_machine.hpp"

#include <boost/json/object.hpp>

#include <map>
#include <string>
#include <string_view>

namespace canaryd::rollout {

using StateMap = std::map<std::string, RouteState>;  // by route name

// An error: the file is corrupt; refuse to start rather than forget a rollback.
Result<StateMap> parse_state_file(std::string_view text);
std::string render_state_file(const StateMap& routes);

// One route's state as a JSON object, and back (also the body of fleet mode's etcd record).
boost::json::object route_state_json(const RouteState& state);
Result<RouteState> route_state_from_json(const boost::json::object& object);

}  // namespace canaryd::rollout
