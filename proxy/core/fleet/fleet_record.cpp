#include "core/fleet/fleet_record.hpp"

#include "core/json/json_text.hpp"
#include "core/rollout/state_file.hpp"

#include <boost/json.hpp>

namespace canaryd::fleet {

std::string render_fleet_record(const FleetRecord& record) {
    boost::json::object root;
    root["format"] = 1;
    root["route_state"] = rollout::route_state_json(record.state);
    root["event"] = record.event;
    root["decided_by"] = record.decided_by;
    root["term"] = record.term;
    return json::to_text(root);
}

Result<FleetRecord> parse_fleet_record(std::string_view text) {
    boost::system::error_code ec;
    const auto root = boost::json::parse(text, ec);
    if (ec) return Error{"not valid JSON: " + ec.message()};
    const auto* object = root.if_object();
    if (!object) return Error{"expected a JSON object"};
    const auto* format = object->if_contains("format");
    if (!format || !format->is_int64() || format->as_int64() != 1)
        return Error{"unknown or missing \"format\" (expected 1): written by another version of canaryd?"};
    const auto* state = object->if_contains("route_state");
    if (!state || !state->is_object()) return Error{"missing \"route_state\" object"};
    auto parsed = rollout::route_state_from_json(state->as_object());
    if (!parsed) return Error{"route_state: " + parsed.message()};
    FleetRecord record;
    record.state = std::move(parsed).value();
    if (const auto* e = object->if_contains("event"); e && e->is_string()) record.event = std::string(e->as_string());
    if (const auto* d = object->if_contains("decided_by"); d && d->is_string())
        record.decided_by = std::string(d->as_string());
    if (const auto* t = object->if_contains("term"); t && t->is_int64()) record.term = t->as_int64();
    return record;
}

namespace {
std::string join(std::string_view prefix, std::string_view fleet, std::string_view tail) {
    std::string key;
    key.reserve(prefix.size() + fleet.size() + tail.size() + 1);
    key.append(prefix).append(fleet).append("/").append(tail);
    return key;
}
}  // namespace

std::string leader_key(std::string_view prefix, std::string_view fleet) { return join(prefix, fleet, "leader"); }
std::string replicas_prefix(std::string_view prefix, std::string_view fleet) { return join(prefix, fleet, "replicas/"); }
std::string replica_key(std::string_view prefix, std::string_view fleet, std::string_view replica) {
    return replicas_prefix(prefix, fleet) + std::string(replica);
}
std::string routes_prefix(std::string_view prefix, std::string_view fleet) { return join(prefix, fleet, "routes/"); }
std::string route_key(std::string_view prefix, std::string_view fleet, std::string_view route) {
    return routes_prefix(prefix, fleet) + std::string(route);
}

}  // namespace canaryd::fleet
