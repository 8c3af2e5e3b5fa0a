#include "core/routing/decide.hpp"
#include "core/routing/split.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

using namespace canaryd;
using routing::Reason;
using routing::Role;

namespace {

routing::SplitInput random_only(std::uint32_t random_bp) {
    routing::SplitInput input;
    input.random_bp = random_bp;
    return input;
}

}  // namespace

TEST_CASE("weighted pick over 100,000 pinned randoms is within 0.1 point of the weight") {
    // Pinned randoms from a Weyl sequence (frac(i * golden ratio)): evenly spread like a
    // perfect RNG, so any deviation beyond 0.1 point is the pick's fault, not noise.
    const double golden = 0.6180339887498949;
    for (std::uint32_t weight_bp : {1u, 100u, 500u, 1'000u, 2'500u, 5'000u, 9'999u}) {
        int canary = 0;
        const int n = 100'000;
        for (int i = 0; i < n; ++i) {
            const double u = std::fmod(i * golden, 1.0);
            const auto random_bp = static_cast<std::uint32_t>(u * 10'000);
            auto d = routing::choose_version(weight_bp, true, random_only(random_bp));
            CHECK(d.reason == Reason::weighted);
            if (d.role == Role::canary) ++canary;
        }
        const double share_points = 100.0 * canary / n;
        INFO("weight " << weight_bp / 100.0 << " %, observed " << share_points);
        CHECK(std::abs(share_points - weight_bp / 100.0) <= 0.1);
    }
}

TEST_CASE("weighted pick with a seeded generator is within the 99.9 % binomial bound") {
    for (std::uint32_t weight_bp : {100u, 1'000u, 5'000u}) {
        std::mt19937_64 rng(20261126 + weight_bp);
        const int n = 100'000;
        int canary = 0;
        for (int i = 0; i < n; ++i)
            canary += routing::choose_version(weight_bp, true, random_only(static_cast<std::uint32_t>(rng() % 10'000)))
                          .role == Role::canary;
        const double p = weight_bp / 10'000.0;
        INFO("weight " << weight_bp / 100.0 << " %, canary " << canary);
        CHECK(std::abs(canary - n * p) <= 3.29 * std::sqrt(n * p * (1 - p)));
    }
}

TEST_CASE("the weighted pick is exact at the boundaries of the random range") {
    CHECK(routing::choose_version(1'000, true, random_only(999)).role == Role::canary);
    CHECK(routing::choose_version(1'000, true, random_only(1'000)).role == Role::stable);
    CHECK(routing::choose_version(1, true, random_only(0)).role == Role::canary);
    CHECK(routing::choose_version(1, true, random_only(1)).role == Role::stable);
}

TEST_CASE("weight 0 sends nothing to the canary, whatever the request says") {
    for (std::uint32_t r = 0; r < 10'000; r += 7) {
        routing::SplitInput input;
        input.random_bp = r;
        input.override_role = Role::canary;
        input.sticky_bucket = 0;
        auto d = routing::choose_version(0, true, input);
        CHECK(d.role == Role::stable);
        CHECK(d.reason == Reason::no_canary);
    }
}

TEST_CASE("weight 100 sends everything to the canary except an explicit override to stable") {
    for (std::uint32_t r = 0; r < 10'000; r += 7) {
        routing::SplitInput input;
        input.random_bp = r;
        input.sticky_bucket = (r * 13) % 10'000;
        CHECK(routing::choose_version(10'000, true, input).role == Role::canary);
    }
    routing::SplitInput forced;
    forced.override_role = Role::stable;
    CHECK(routing::choose_version(10'000, true, forced).role == Role::stable);
}

TEST_CASE("no canary version means stable") {
    CHECK(routing::choose_version(5'000, false, random_only(0)).role == Role::stable);
}

TEST_CASE("overrides beat stickiness, stickiness beats the random pick") {
    routing::SplitInput input;
    input.random_bp = 0;         // the random pick alone would say canary
    input.sticky_bucket = 9'999;  // the bucket says stable
    auto sticky = routing::choose_version(1'000, true, input);
    CHECK(sticky.role == Role::stable);
    CHECK(sticky.reason == Reason::sticky);
    input.override_role = Role::canary;
    auto forced = routing::choose_version(1'000, true, input);
    CHECK(forced.role == Role::canary);
    CHECK(forced.reason == Reason::override_rule);
}

TEST_CASE("sticky bucketing is monotone as the weight rises (100,000 keys, 1 -> 5 -> 10 -> 50 %)") {
    // Buckets stand in for 100,000 users' hashes; the rule "bucket < weight" is what matters.
    std::mt19937_64 rng(42);
    std::vector<std::uint32_t> buckets(100'000);
    for (auto& b : buckets) b = static_cast<std::uint32_t>(rng() % 10'000);
    std::vector<bool> was_canary(buckets.size(), false);
    int previous_count = 0;
    for (std::uint32_t weight_bp : {100u, 500u, 1'000u, 5'000u}) {
        int count = 0;
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            routing::SplitInput input;
            input.sticky_bucket = buckets[i];
            input.random_bp = static_cast<std::uint32_t>(rng() % 10'000);  // must not matter
            const bool canary = routing::choose_version(weight_bp, true, input).role == Role::canary;
            if (was_canary[i]) CHECK(canary);  // nobody ever leaves the canary on a ramp up
            was_canary[i] = canary;
            count += canary;
        }
        CHECK(count > previous_count);
        CHECK(std::abs(100.0 * count / 100'000 - weight_bp / 100.0) < 0.5);
        previous_count = count;
    }
}

TEST_CASE("bucket from digest: first 8 bytes big-endian modulo 10,000") {
    // sha256("api.user-42") starts with c8250a3d9fffb0ba; 0xc8250a3d9fffb0ba % 10000 = 8554
    // (see the formula in split.hpp; an operator can repeat this with sha256sum).
    std::array<std::uint8_t, 32> digest{0xc8, 0x25, 0x0a, 0x3d, 0x9f, 0xff, 0xb0, 0xba};
    CHECK(routing::bucket_from_digest(digest) == 8554);
    CHECK(routing::sticky_hash_input("api", "user-42") == "api.user-42");
}

TEST_CASE("override rules: first match wins, exact value") {
    std::vector<config::Override> rules{{"x-canary", "always", Role::canary}, {"x-canary", "never", Role::stable}};
    std::map<std::string, std::string> headers;
    auto lookup = [&](std::string_view name) -> std::optional<std::string_view> {
        auto it = headers.find(std::string(name));
        if (it == headers.end()) return std::nullopt;
        return std::string_view(it->second);
    };
    CHECK_FALSE(routing::match_override(rules, lookup));
    headers["x-canary"] = "always";
    CHECK(routing::match_override(rules, lookup) == Role::canary);
    headers["x-canary"] = "never";
    CHECK(routing::match_override(rules, lookup) == Role::stable);
    headers["x-canary"] = "Always";
    CHECK_FALSE(routing::match_override(rules, lookup));
}

TEST_CASE("sticky keys from a header or a cookie") {
    std::map<std::string, std::string> headers{{"x-user-id", "alice"}, {"cookie", "theme=dark; uid=\"u-7\"; x=1"}};
    auto lookup = [&](std::string_view name) -> std::optional<std::string_view> {
        auto it = headers.find(std::string(name));
        if (it == headers.end()) return std::nullopt;
        return std::string_view(it->second);
    };
    config::Sticky by_header{config::Sticky::Source::header, "x-user-id", "api"};
    CHECK(routing::sticky_key(by_header, lookup) == "alice");
    config::Sticky by_cookie{config::Sticky::Source::cookie, "uid", "api"};
    CHECK(routing::sticky_key(by_cookie, lookup) == "u-7");
    config::Sticky missing{config::Sticky::Source::cookie, "session", "api"};
    CHECK_FALSE(routing::sticky_key(missing, lookup));
    headers["x-user-id"] = "";
    CHECK_FALSE(routing::sticky_key(by_header, lookup));  // an empty key is no key
    CHECK(routing::find_cookie("a=1;b=2", "b") == "2");
    CHECK_FALSE(routing::find_cookie("ab=1", "a"));
}

TEST_CASE("decide: overrides, then the sticky bucket, then the random pick, hashing only when it matters") {
    config::Route route;
    route.name = "api";
    route.overrides = {{"x-canary", "always", Role::canary}, {"x-canary", "never", Role::stable}};
    route.sticky = config::Sticky{config::Sticky::Source::header, "x-user-id", "api"};
    const auto head_of = [](const std::string& text) {
        static std::string keep;  // the parsed head's views point into it
        keep = text;
        auto parse = http::parse_request_head(keep, http::HeadLimits{});
        REQUIRE(parse.state == http::HeadState::complete);
        return parse.head;
    };
    int hashed = 0;
    const auto bucket_of = [&](std::string_view salt, std::string_view key) {
        ++hashed;
        CHECK(salt == "api");
        return key == "lucky" ? 10u : 9'990u;
    };

    auto head = head_of("GET / HTTP/1.1\r\nHost: h\r\nX-User-Id: lucky\r\n\r\n");
    auto d = routing::decide(route, true, head, 5'000, 9'999, bucket_of);
    CHECK(d.role == Role::canary);
    CHECK(d.reason == Reason::sticky);
    CHECK(hashed == 1);

    head = head_of("GET / HTTP/1.1\r\nHost: h\r\nX-User-Id: lucky\r\nX-Canary: never\r\n\r\n");
    d = routing::decide(route, true, head, 5'000, 0, bucket_of);
    CHECK(d.role == Role::stable);
    CHECK(d.reason == Reason::override_rule);
    CHECK(hashed == 1);  // the override decided: no hash

    d = routing::decide(route, true, head, 10'000, 0, bucket_of);  // override wins at 100 % too
    CHECK(d.role == Role::stable);
    CHECK(d.reason == Reason::override_rule);

    head = head_of("GET / HTTP/1.1\r\nHost: h\r\nX-User-Id: lucky\r\nX-Canary: always\r\n\r\n");
    d = routing::decide(route, true, head, 0, 0, bucket_of);  // weight 0 is absolute
    CHECK(d.role == Role::stable);
    CHECK(d.reason == Reason::no_canary);

    head = head_of("GET / HTTP/1.1\r\nHost: h\r\nX-User-Id: other\r\n\r\n");
    d = routing::decide(route, true, head, 10'000, 9'999, bucket_of);
    CHECK(d.reason == Reason::all_canary);
    CHECK(hashed == 1);  // 100 %: no hash

    head = head_of("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    d = routing::decide(route, true, head, 5'000, 4'999, bucket_of);
    CHECK(d.role == Role::canary);
    CHECK(d.reason == Reason::weighted);
    d = routing::decide(route, false, head, 5'000, 0, bucket_of);
    CHECK(d.reason == Reason::no_canary);
    CHECK(hashed == 1);
}
