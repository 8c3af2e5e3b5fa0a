#include "core/fleet/authority.hpp"
#include "core/fleet/counter_increments.hpp"
#include "core/fleet/fleet_blocks.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace canaryd;
using fleet::Authority;

namespace {

fleet::Series requests(const std::string& instance, const std::string& version, const std::string& release,
                       const std::string& code, double value, const std::string& route = "api") {
    return {{{"instance", instance}, {"job", "canaryd"}, {"route", route}, {"version", version}, {"release", release}, {"code", code}},
            value};
}

fleet::Series bucket(const std::string& instance, const std::string& version, const std::string& release,
                     const std::string& le, double value) {
    return {{{"instance", instance}, {"route", "api"}, {"version", version}, {"release", release}, {"le", le}}, value};
}

std::map<std::string, fleet::RouteSeriesFilter> api_filter() {
    return {{"api", {"v1", "v2", analysis::FailureStatuses{}}}};
}

}  // namespace

TEST_CASE("counter increments: growth, restarts, joins, a failed scrape, and nothing invented") {
    fleet::CounterIncrements counters(60);
    CHECK(counters.advance({{"a", 100}, {"b", 50}}, 0).empty());  // the first read is a baseline
    auto step = counters.advance({{"a", 130}, {"b", 50}}, 1);
    CHECK(step.size() == 1);
    CHECK(step["a"] == 30);
    step = counters.advance({{"a", 5}, {"b", 60}}, 2);  // a restarted: its counter began again
    CHECK(step["a"] == 5);
    CHECK(step["b"] == 10);
    step = counters.advance({{"a", 8}, {"b", 60}, {"c", 7}}, 3);  // c joined: counted from 0
    CHECK(step["c"] == 7);
    CHECK(step["a"] == 3);
    step = counters.advance({{"a", 9}, {"c", 9}}, 4);  // b's scrape failed: nothing for b
    CHECK_FALSE(step.contains("b"));
    step = counters.advance({{"a", 9}, {"b", 64}, {"c", 9}}, 5);  // b is back: continues, not counted again
    CHECK(step["b"] == 4);
    step = counters.advance({{"a", 9}, {"c", 9}}, 6);
    step = counters.advance({{"a", 9}, {"b", 70}, {"c", 9}}, 100);  // b forgotten after 60 s: a new series
    CHECK(step["b"] == 70);
    step = counters.advance({{"a", std::nan("")}, {"c", -1}}, 101);  // not counters: ignored
    CHECK(step.empty());
}

TEST_CASE("fleet blocks: requests and failures summed over replicas, per version and release") {
    fleet::FleetBlockBuilder builder;
    auto first = builder.build({requests("r1", "stable", "v1", "200", 1000), requests("r1", "canary", "v2", "200", 100)}, {},
                               api_filter(), 0);
    CHECK(first.at("api").stable.requests == 0);  // baseline

    auto block = builder.build({requests("r1", "stable", "v1", "200", 1090), requests("r1", "canary", "v2", "200", 108),
                                requests("r1", "canary", "v2", "503", 2), requests("r2", "stable", "v1", "200", 45),
                                requests("r2", "stable", "v1", "500", 5), requests("r2", "canary", "v2", "200", 10),
                                requests("r2", "canary", "v1", "200", 99),  // an old canary release: not counted
                                requests("r2", "stable", "v1", "404", 3), requests("r3", "stable", "v1", "200", 7, "other")},
                               {}, api_filter(), 1);
    const auto& api = block.at("api");
    CHECK(api.stable.requests == 90 + 45 + 5 + 3);
    CHECK(api.stable.failures == 5);  // 404 is not a failure, 500 is
    CHECK(api.canary.requests == 8 + 2 + 10);
    CHECK(api.canary.failures == 2);
    CHECK_FALSE(block.contains("other"));  // not a configured route
}

TEST_CASE("fleet blocks: latency from histogram buckets, placed at the bucket's upper bound") {
    fleet::FleetBlockBuilder builder;
    auto at = [](double seconds) {
        return analysis::latency_bucket(static_cast<std::uint64_t>(std::llround(seconds * 1e6)));
    };
    const std::vector<fleet::Series> before{bucket("r1", "canary", "v2", "0.01", 0), bucket("r1", "canary", "v2", "0.02", 0),
                                            bucket("r1", "canary", "v2", "+Inf", 0), bucket("r2", "canary", "v2", "0.01", 0),
                                            bucket("r2", "canary", "v2", "0.02", 0), bucket("r2", "canary", "v2", "+Inf", 0)};
    builder.build({}, before, api_filter(), 0);
    // r1: 6 requests <= 10 ms, 3 in (10, 20] ms, 1 above; r2: 2 <= 10 ms, 2 in (10, 20].
    const std::vector<fleet::Series> after{bucket("r1", "canary", "v2", "0.01", 6), bucket("r1", "canary", "v2", "0.02", 9),
                                           bucket("r1", "canary", "v2", "+Inf", 10), bucket("r2", "canary", "v2", "0.01", 2),
                                           bucket("r2", "canary", "v2", "0.02", 4), bucket("r2", "canary", "v2", "+Inf", 4)};
    const auto blocks = builder.build({}, after, api_filter(), 1);
    const auto& canary = blocks.at("api").canary;
    CHECK(canary.latency.total() == 14);
    CHECK(canary.latency.count(at(0.01)) == 8);
    CHECK(canary.latency.count(at(0.02)) == 5);
    CHECK(canary.latency.count(at(0.04)) == 1);  // above the largest bound: at twice it
    // The median of 14 is at the 10 ms bound (the bucket's values are snapped to it).
    CHECK(canary.latency.quantile(0.5) == doctest::Approx(10'000).epsilon(0.04));
}

namespace {
// etcd, prometheus, leader, etcd_ok, prometheus_ok
fleet::Situation situation(bool etcd, bool prometheus, bool leader, bool etcd_ok = true, bool prometheus_ok = true) {
    fleet::Situation s;
    s.etcd = etcd;
    s.prometheus = prometheus;
    s.leader = leader;
    s.etcd_ok = etcd_ok;
    s.prometheus_ok = prometheus_ok;
    return s;
}
}  // namespace

TEST_CASE("fleet authority: one decider per fleet, degraded replicas only roll back") {
    using fleet::Situation;
    auto a = fleet::authorities(Situation{});
    CHECK(a.local_analysis == Authority::full);  // standalone
    CHECK(a.fleet_analysis == Authority::none);

    a = fleet::authorities(situation(true, false, true));
    CHECK(a.local_analysis == Authority::full);  // etcd only: the leader decides on what it sees
    a = fleet::authorities(situation(true, false, false));
    CHECK(a.local_analysis == Authority::none);
    a = fleet::authorities(situation(true, false, false, false));
    CHECK(a.local_analysis == Authority::rollback_only);
    CHECK(a.fleet_analysis == Authority::none);

    a = fleet::authorities(situation(true, true, true));
    CHECK(a.fleet_analysis == Authority::full);
    CHECK(a.local_analysis == Authority::none);
    a = fleet::authorities(situation(true, true, true, true, false));
    CHECK(a.local_analysis == Authority::rollback_only);  // the fleet analysis holds, the local one guards
    a = fleet::authorities(situation(true, true, false));
    CHECK(a.fleet_analysis == Authority::none);
    CHECK(a.local_analysis == Authority::none);
    a = fleet::authorities(situation(true, true, true, false));
    CHECK(a.fleet_analysis == Authority::none);  // never advances while etcd is away
    CHECK(a.local_analysis == Authority::rollback_only);

    a = fleet::authorities(situation(false, true, false));
    CHECK(a.fleet_analysis == Authority::full);  // no shared state: each replica on the fleet's numbers
    CHECK(a.local_analysis == Authority::none);
}

TEST_CASE("fleet blocks: a gRPC series is judged by its grpc_status label") {
    fleet::FleetBlockBuilder builder;
    auto grpc_series = [](const std::string& status, double value) {
        return fleet::Series{{{"instance", "r1"}, {"route", "api"}, {"version", "canary"}, {"release", "v2"},
                              {"code", "200"}, {"grpc_status", status}},
                             value};
    };
    builder.build({grpc_series("OK", 0), grpc_series("UNAVAILABLE", 0), grpc_series("NOT_FOUND", 0)}, {}, api_filter(), 0);
    const auto blocks =
        builder.build({grpc_series("OK", 90), grpc_series("UNAVAILABLE", 4), grpc_series("NOT_FOUND", 6)}, {}, api_filter(), 1);
    const auto& canary = blocks.at("api").canary;
    CHECK(canary.requests == 100);
    CHECK(canary.failures == 4);  // UNAVAILABLE fails by default; NOT_FOUND is an answer
}
