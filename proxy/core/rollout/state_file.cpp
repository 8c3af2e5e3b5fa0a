#include "core/rollout/state_file.hpp"

#include "core/json/json_text.hpp"

#include <boost/json.hpp>

namespace canaryd::rollout {

Result<RouteState> route_state_from_json(const boost::json::object& r) {
    auto field = [&](const char* key) { return r.if_contains(key); };
    const auto* release = field("canary_release");
    const auto* state = field("state");
    const auto* weight = field("weight_bp");
    const auto* step = field("step");
    if (!release || !release->is_string() || !state || !state->is_string() || !weight || !weight->is_int64() || !step ||
        !step->is_int64()) {
        return Error{"missing or mistyped canary_release, state, weight_bp or step"};
    }
    RouteState s;
    s.canary_release = std::string(release->as_string());
    auto parsed_state = state_from_string(state->as_string());
    if (!parsed_state) return Error{"unknown state \"" + std::string(state->as_string()) + "\""};
    s.state = *parsed_state;
    if (weight->as_int64() < 0 || weight->as_int64() > 10'000) return Error{"weight_bp out of range 0..10000"};
    s.weight_bp = static_cast<std::uint32_t>(weight->as_int64());
    if (step->as_int64() < -1 || step->as_int64() > 1'000) return Error{"step out of range"};
    s.step = static_cast<int>(step->as_int64());
    if (const auto* reason = field("reason"); reason && reason->is_string()) s.reason = std::string(reason->as_string());
    if (const auto* actor = field("actor"); actor && actor->is_string()) s.actor = std::string(actor->as_string());
    if (const auto* time = field("time"); time && time->is_string()) s.time = std::string(time->as_string());
    return s;
}

boost::json::object route_state_json(const RouteState& s) {
    boost::json::object r;
    r["canary_release"] = s.canary_release;
    r["state"] = to_string(s.state);
    r["weight_bp"] = s.weight_bp;
    r["step"] = s.step;
    r["reason"] = s.reason;
    r["actor"] = s.actor;
    r["time"] = s.time;
    return r;
}

Result<StateMap> parse_state_file(std::string_view text) {
    StateMap states;
    boost::system::error_code ec;
    const auto root = boost::json::parse(text, ec);
    if (ec) {
        return Error{"not valid JSON: " + ec.message()};
    }
    const auto* object = root.if_object();
    if (!object) {
        return Error{"expected a JSON object"};
    }
    const auto* format = object->if_contains("format");
    if (!format || !format->is_int64() || format->as_int64() != 1) {
        return Error{"unknown or missing \"format\" (expected 1)"};
    }
    const auto* routes = object->if_contains("routes");
    if (!routes || !routes->is_object()) {
        return Error{"missing \"routes\" object"};
    }
    for (const auto& [name, value] : routes->as_object()) {
        const std::string route(name);
        const auto* r = value.if_object();
        if (!r) return Error{"route \"" + route + "\": expected an object"};
        auto s = route_state_from_json(*r);
        if (!s) return Error{"route \"" + route + "\": " + s.message()};
        states.emplace(route, std::move(s).value());
    }
    return states;
}

std::string render_state_file(const StateMap& routes) {
    boost::json::object root;
    root["format"] = 1;
    boost::json::object by_route;
    for (const auto& [name, s] : routes) by_route[name] = route_state_json(s);
    root["routes"] = std::move(by_route);
    return json::to_text(root) + "\n";
}

}  // namespace canaryd::rollout
