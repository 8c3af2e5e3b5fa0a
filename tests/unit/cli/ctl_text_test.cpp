#include "core/cli/ctl_text.hpp"

#include <doctest/doctest.h>

using namespace canaryd::cli;

namespace {

constexpr const char* kStatus = R"({"config_generation":3,"canaryd_version":"0.1.0","draining":false,"window_seconds":60,
 "routes":[{"name":"api","state":"progressing","state_reason":"step 2 passed its pause","canary_weight":10,
  "configured_weight":0,"step":1,
  "stable":{"release":"v41","endpoints":2,"addresses":["10.0.0.1:80"],"requests":4512,"success_rate":0.9998,
   "latency_p50_ms":0.28,"latency_p90_ms":0.4,"latency_p99_ms":0.51,"traffic_share":90.0,"in_flight":0,
   "upstream_errors":{},"cpu_cores":0.125,"memory_bytes":47290368},
  "canary":{"release":"v42","endpoints":1,"addresses":["10.0.0.3:80"],"requests":501,"success_rate":1,
   "latency_p50_ms":0.29,"latency_p90_ms":0.41,"latency_p99_ms":0.55,"traffic_share":10.0,"in_flight":0,
   "upstream_errors":{},"cpu_cores":null,"memory_bytes":null},
  "last_decision":{"time":"2026-12-04T19:50:01.000Z","verdict":"pass","guardrail":"","detail":""},
  "guardrails":[{"guardrail":"success_rate","verdict":"hold","dry_run":false,"statistic":2.3,"threshold":4.6,
                 "canary_value":1,"stable_value":0.9998},
                {"guardrail":"latency_p90","verdict":"pass","dry_run":true,"statistic":0,"threshold":4.6,
                 "canary_value":0.41,"stable_value":0.4}]},
  {"name":"web","state":"steady","canary_weight":0,"configured_weight":0,"step":null,
   "stable":{"release":"v9","endpoints":1,"requests":0,"success_rate":1,"latency_p50_ms":0,"latency_p90_ms":0,
    "latency_p99_ms":0,"traffic_share":0,"in_flight":0,"upstream_errors":{},"cpu_cores":null,"memory_bytes":null},
   "canary":null,"last_decision":null,"guardrails":[]}]})";

}  // namespace

TEST_CASE("ctl status: one screen per route, versions side by side, guardrails against their threshold") {
    auto text = status_text(kStatus);
    REQUIRE(text.ok());
    const auto& t = *text;
    INFO(t);
    CHECK(t.find("canaryd 0.1.0, config generation 3, window 60 s\n") == 0);
    CHECK(t.find("route api: progressing at step 1, canary weight 10.00 % (configured 0.00 %)\n") != std::string::npos);
    CHECK(t.find("  why: step 2 passed its pause\n") != std::string::npos);
    // Columns line up: the header and both rows start their "requests" cell at one column.
    const auto header = t.find("  version");
    const auto stable = t.find("  stable");
    const auto canary = t.find("  canary ");
    REQUIRE(header != std::string::npos);
    REQUIRE(stable != std::string::npos);
    REQUIRE(canary != std::string::npos);
    const auto column = [&](std::size_t line_start, const std::string& cell) { return t.find(cell, line_start) - line_start; };
    CHECK(column(header, "requests") == column(stable, "4512"));
    CHECK(column(header, "requests") == column(canary, "501"));
    CHECK(t.find("99.980 %") != std::string::npos);
    CHECK(t.find("45.1 MiB") != std::string::npos);
    CHECK(t.find("0.125") != std::string::npos);
    CHECK(t.find("|#####-----| 50 %") != std::string::npos);  // 2.3 of 4.6 nats
    CHECK(t.find("latency_p90 (dry run)") != std::string::npos);
    CHECK(t.find("last decision 2026-12-04T19:50:01.000Z: pass\n") != std::string::npos);
    CHECK(t.find("route web: steady, canary weight 0.00 %") != std::string::npos);
}

TEST_CASE("ctl events and actions: one line each, and JSON that is not what ctl expects is an error") {
    auto events = events_text(R"({"events":[{"time":"2026-12-04T19:50:01.000Z","route":"api","event":"rollback",
        "actor":"alice@10.0.0.7","canary_weight":0,"reason":"rolled back by an operator"}]})");
    REQUIRE(events.ok());
    CHECK(events->find("alice@10.0.0.7") != std::string::npos);
    CHECK(events->find("rollback") != std::string::npos);
    CHECK(events->find("0.00 %") != std::string::npos);
    CHECK(*events_text(R"({"events":[]})") == "no events yet\n");

    auto action = action_text(R"({"route":"api","changed":true,"state":"rolled_back","canary_weight":0,"step":1,"reason":"rolled back by an operator"})");
    REQUIRE(action.ok());
    CHECK(*action == "api: rolled_back, canary weight 0.00 % (rolled back by an operator)\n");
    auto same = action_text(R"({"route":"api","changed":false,"state":"paused","canary_weight":5,"step":0,"reason":""})");
    CHECK(*same == "api: paused, canary weight 5.00 %; it already was: nothing changed\n");

    CHECK_FALSE(status_text("not json").ok());
    CHECK_FALSE(status_text(R"({"no":"routes"})").ok());
    CHECK_FALSE(events_text(R"([1,2])").ok());
}
