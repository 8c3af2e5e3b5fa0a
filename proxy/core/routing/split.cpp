#include "core/routing/split.hpp"

#include "core/text/trim.hpp"

namespace canaryd::routing {

const char* to_string(Reason reason) {
    switch (reason) {
        case Reason::override_rule: return "override";
        case Reason::sticky: return "sticky";
        case Reason::weighted: return "weighted";
        case Reason::no_canary: return "no_canary";
        case Reason::all_canary: return "all_canary";
    }
    return "weighted";
}

Decision choose_version(std::uint32_t canary_weight_bp, bool has_canary, const SplitInput& input) {
    // Weight 0 is absolute (SPEC §3): neither an override nor stickiness reaches the canary.
    if (!has_canary || canary_weight_bp == 0) return {Role::stable, Reason::no_canary};
    if (input.override_role) return {*input.override_role, Reason::override_rule};
    if (canary_weight_bp >= config::kWeightScale) return {Role::canary, Reason::all_canary};
    if (input.sticky_bucket)
        return {*input.sticky_bucket < canary_weight_bp ? Role::canary : Role::stable, Reason::sticky};
    return {input.random_bp < canary_weight_bp ? Role::canary : Role::stable, Reason::weighted};
}

std::uint32_t bucket_from_digest(const std::array<std::uint8_t, 32>& sha256_digest) {
    std::uint64_t prefix = 0;
    for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | sha256_digest[static_cast<std::size_t>(i)];
    return static_cast<std::uint32_t>(prefix % config::kWeightScale);
}

std::string sticky_hash_input(std::string_view salt, std::string_view key) {
    std::string input;
    input.reserve(salt.size() + 1 + key.size());
    input.append(salt).append(".").append(key);
    return input;
}

std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name) {
    constexpr auto trim = text::trim_ows;
    while (!cookie_header.empty()) {
        auto semi = cookie_header.find(';');
        std::string_view pair = trim(cookie_header.substr(0, semi));
        cookie_header = semi == std::string_view::npos ? std::string_view{} : cookie_header.substr(semi + 1);
        auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        if (trim(pair.substr(0, eq)) != name) continue;
        std::string_view value = trim(pair.substr(eq + 1));
        // RFC 6265 §4.1.1: a cookie value may be wrapped in double quotes.
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        return value;
    }
    return std::nullopt;
}

}  // namespace canaryd::routing
