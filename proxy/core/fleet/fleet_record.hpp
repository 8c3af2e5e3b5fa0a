// What fleet mode keeps in etcd (SPEC §9), pure: the key layout under `fleet.etcd.prefix`
// and the record of one route's rollout state that every replica applies.
//
//   <prefix><fleet>/leader            the leader's replica id, bound to its lease
//   <prefix><fleet>/replicas/<id>     one key per live replica, bound to its lease
//   <prefix><fleet>/routes/<route>    the route's record (below), written by compare-and-swap
//
// A record carries who decided it and under which leader term, so every replica's events
// (and an operator reading etcd) can say which replica decided what.
#pragma once

#include "core/common/result.hpp"
#include "core/rollout/rollout_machine.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace canaryd::fleet {

struct FleetRecord {
    rollout::RouteState state;
    std::string event;       // the change that wrote it: "rollback", "advance", ..., "start"
    std::string decided_by;  // the deciding replica's id
    std::int64_t term = 0;   // the leader term it was decided under; 0: an operator or a local rollback
    friend bool operator==(const FleetRecord&, const FleetRecord&) = default;
};

std::string render_fleet_record(const FleetRecord& record);
// An error names what is wrong; the caller keeps its state and says so (never guesses).
Result<FleetRecord> parse_fleet_record(std::string_view text);

std::string leader_key(std::string_view prefix, std::string_view fleet);
std::string replicas_prefix(std::string_view prefix, std::string_view fleet);
std::string replica_key(std::string_view prefix, std::string_view fleet, std::string_view replica);
std::string routes_prefix(std::string_view prefix, std::string_view fleet);
std::string route_key(std::string_view prefix, std::string_view fleet, std::string_view route);

}  // namespace canaryd::fleet
