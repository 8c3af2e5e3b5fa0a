#include "core/routing/endpoint_health.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace canaryd::routing;
using namespace std::chrono_literals;

TEST_CASE("round-robin over available endpoints") {
    EndpointHealthTable table;
    std::vector<std::uint32_t> ids{3, 5, 8};
    std::uint32_t cursor = 0;
    const TimePoint now{};
    std::vector<int> picks;
    for (int i = 0; i < 6; ++i) picks.push_back(table.pick(ids, cursor, now));
    CHECK(picks == std::vector<int>{3, 5, 8, 3, 5, 8});
    CHECK(table.pick(std::vector<std::uint32_t>{}, cursor, now) == -1);
}

TEST_CASE("the excluded endpoint is skipped for a retry") {
    EndpointHealthTable table;
    std::vector<std::uint32_t> ids{1, 2};
    std::uint32_t cursor = 0;
    for (int i = 0; i < 4; ++i) CHECK(table.pick(ids, cursor, TimePoint{}, 1) == 2);
    std::vector<std::uint32_t> single{1};
    CHECK(table.pick(single, cursor, TimePoint{}, 1) == -1);
}

TEST_CASE("consecutive failures eject for a growing period, then re-admit") {
    EjectionPolicy policy;
    policy.consecutive_failures = 3;
    policy.base_ejection = 10s;
    policy.max_ejection = 25s;
    EndpointHealthTable table(policy);
    std::vector<std::uint32_t> ids{0, 1};
    TimePoint t{};
    CHECK_FALSE(table.report_failure(0, ids, t));
    CHECK_FALSE(table.report_failure(0, ids, t));
    table.report_success(0);  // a success resets the streak
    CHECK_FALSE(table.report_failure(0, ids, t));
    CHECK_FALSE(table.report_failure(0, ids, t));
    CHECK(table.report_failure(0, ids, t));  // third in a row
    std::uint32_t cursor = 0;
    for (int i = 0; i < 4; ++i) CHECK(table.pick(ids, cursor, t + 5s) == 1);
    CHECK(table.health(0).available(t + 10s));  // re-admitted after 10 s

    // Second ejection lasts twice as long; the third is capped at max_ejection.
    t += 10s;
    for (int i = 0; i < 3; ++i) table.report_failure(0, ids, t);
    CHECK_FALSE(table.health(0).available(t + 19s));
    CHECK(table.health(0).available(t + 20s));
    t += 20s;
    for (int i = 0; i < 3; ++i) table.report_failure(0, ids, t);
    CHECK_FALSE(table.health(0).available(t + 24s));
    CHECK(table.health(0).available(t + 25s));
}

TEST_CASE("the last available endpoint of a version is never ejected") {
    EjectionPolicy policy;
    policy.consecutive_failures = 1;
    EndpointHealthTable table(policy);
    std::vector<std::uint32_t> ids{0, 1};
    TimePoint t{};
    CHECK(table.report_failure(0, ids, t));
    CHECK_FALSE(table.report_failure(1, ids, t));  // 0 is out: 1 must stay
    std::uint32_t cursor = 0;
    CHECK(table.pick(ids, cursor, t) == 1);
    std::vector<std::uint32_t> only{7};
    CHECK_FALSE(table.report_failure(7, only, t));
    CHECK(table.pick(only, cursor, t) == 7);
}
