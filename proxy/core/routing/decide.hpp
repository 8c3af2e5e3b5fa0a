// Where a request gets its version (SPEC §3): the one call io makes once a route matched.
// Inputs are the route, the parsed request head, the weight in force, a uniform random
// number and a way to bucket a sticky key (SHA-256 lives in io); the output is the version
// and why (the reason goes to the access log). Pure: io draws the random number and owns
// the hash, so every rule here is tested without a socket.
#pragma once

#include "core/config/config.hpp"
#include "core/http/request_head.hpp"
#include "core/routing/split.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace canaryd::routing {

// `bucket_of(salt, key)` returns the key's sticky bucket (0..9999, split.hpp's formula); it
// is called only when the bucket can change the outcome (a canary, a weight strictly between
// 0 and 100 %, no matching override), so requests at 0 or 100 % pay no hash.
template <class BucketOf>
Decision decide(const config::Route& route, bool has_canary, const http::RequestHead& head,
                std::uint32_t canary_weight_bp, std::uint32_t random_bp, const BucketOf& bucket_of) {
    auto header = [&](std::string_view name) -> std::optional<std::string_view> {
        if (!head.has(name)) return std::nullopt;
        return head.find(name);
    };
    SplitInput input;
    input.random_bp = random_bp;
    // Weight 0 is absolute: nothing about the request matters then.
    if (has_canary && canary_weight_bp > 0) {
        input.override_role = match_override(route.overrides, header);  // applies at 100 % too
        if (!input.override_role && route.sticky && canary_weight_bp < config::kWeightScale)
            if (auto key = sticky_key(*route.sticky, header)) input.sticky_bucket = bucket_of(route.sticky->salt, *key);
    }
    return choose_version(canary_weight_bp, has_canary, input);
}

}  // namespace canaryd::routing
