#include "core/routing/split.hpp"
#include "io/session/sticky_hash.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

TEST_CASE("sticky bucket matches the documented formula (known answer)") {
    // printf '%s' 'api.user-42' | sha256sum -> c8250a3d9fffb0ba...; 0xc8250a3d9fffb0ba % 10000 = 8554
    CHECK(canaryd::io::sticky_bucket("api", "user-42") == 8554);
}

TEST_CASE("bucketing with real SHA-256 keys is monotone across ramps (100,000 keys, 1 -> 5 -> 10 -> 50 %)") {
    std::vector<std::uint32_t> buckets;
    buckets.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) buckets.push_back(canaryd::io::sticky_bucket("api", "user-" + std::to_string(i)));
    std::vector<bool> canary(buckets.size(), false);
    for (std::uint32_t weight_bp : {100u, 500u, 1'000u, 5'000u}) {
        int count = 0;
        int left = 0;
        int not_sticky = 0;
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            // Through the routing decision itself (a random pick that would say "stable", so
            // only the sticky bucket can send the key to the canary).
            const auto decision = canaryd::routing::choose_version(
                weight_bp, true, {std::nullopt, buckets[i], 9'999});
            not_sticky += decision.reason != canaryd::routing::Reason::sticky;
            const bool now = decision.role == canaryd::config::Role::canary;
            left += canary[i] && !now;
            canary[i] = now;
            count += now;
        }
        CHECK(left == 0);
        CHECK(not_sticky == 0);
        INFO("weight " << weight_bp / 100.0 << " %: " << count << " keys");
        CHECK(std::abs(100.0 * count / 100'000 - weight_bp / 100.0) < 0.5);
    }
}
