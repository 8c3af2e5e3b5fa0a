// Which version serves a request (SPEC §3): override rules, then sticky bucketing when the
// key is present, then a weighted random pick. Pure: the random number and the sticky
// digest are parameters.
//
// Sticky bucketing, computable by hand:
//     bucket = (first 8 bytes of SHA-256("<salt>.<key>") read big-endian) mod 10000
//     e.g.   printf '%s' 'api.user-42' | sha256sum | cut -c1-16  -> hex H;  bucket = 0xH mod 10000
// A request goes to the canary when bucket < canary weight in basis points. Raising the
// weight therefore only ever moves users from stable to canary (monotone ramps), and every
// replica and restart agrees on each user.
#pragma once

#include "core/config/config.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace canaryd::routing {

using config::Role;

enum class Reason : std::uint8_t {
    override_rule,  // an override header matched
    sticky,         // the sticky key's bucket decided
    weighted,       // the per-request random pick decided
    no_canary,      // weight 0 or no canary version: stable, whatever else the request said
    all_canary,     // weight 100 %
};
const char* to_string(Reason reason);

struct Decision {
    Role role = Role::stable;
    Reason reason = Reason::weighted;
};

struct SplitInput {
    std::optional<Role> override_role;           // from match_override()
    std::optional<std::uint32_t> sticky_bucket;  // 0..9999, from bucket_from_digest()
    std::uint32_t random_bp = 0;                 // uniform in 0..9999
};

// canary_weight_bp is the weight in force (after rollbacks and operator actions), 0..10000.
Decision choose_version(std::uint32_t canary_weight_bp, bool has_canary, const SplitInput& input);

// The bucket of a SHA-256 digest of "<salt>.<key>", as documented above.
std::uint32_t bucket_from_digest(const std::array<std::uint8_t, 32>& sha256_digest);

// The string that is hashed for a sticky key.
std::string sticky_hash_input(std::string_view salt, std::string_view key);

// The first override whose header equals its value. Lookup: (lower-case name) -> optional value.
template <class Lookup>
std::optional<Role> match_override(const std::vector<config::Override>& rules, const Lookup& header) {
    for (const auto& rule : rules) {
        std::optional<std::string_view> value = header(rule.header);
        if (value && *value == rule.value) return rule.to;
    }
    return std::nullopt;
}

// Finds the value of cookie `name` in a Cookie header (RFC 6265 §4.2.1: "a=1; b=2").
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name);

// The sticky key of a request, if it carries one; empty values do not count.
template <class Lookup>
std::optional<std::string_view> sticky_key(const config::Sticky& sticky, const Lookup& header) {
    std::optional<std::string_view> key;
    if (sticky.source == config::Sticky::Source::header) {
        key = header(sticky.name);
    } else if (auto cookies = header("cookie")) {
        key = find_cookie(*cookies, sticky.name);
    }
    if (key && key->empty()) return std::nullopt;
    return key;
}

}  // namespace canaryd::routing
