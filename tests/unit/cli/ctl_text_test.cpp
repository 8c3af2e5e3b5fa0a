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

TEST_CASE("ctl in a fleet: the fleet line in status, who decided each event and action, the replicas of status --fleet") {
    auto status = status_text(R"({"canaryd_version":"0.1.0","config_generation":1,"window_seconds":60,"draining":false,"routes":[],
        "fleet":{"name":"checkout","id":"pod-b-1-aa","role":"follower","state":"degraded","leader":"pod-a-1-bb","replicas":3,
                 "signals":"off","error":"etcd http://etcd:2379/v3/kv/range: Connection refused"}})");
    REQUIRE(status.ok());
    CHECK(status->find("fleet checkout: replica pod-b-1-aa is follower, degraded, leader pod-a-1-bb, 3 replicas") != std::string::npos);
    CHECK(status->find("why: etcd http://etcd:2379/v3/kv/range: Connection refused") != std::string::npos);

    auto events = events_text(R"({"events":[{"time":"t","route":"api","event":"rollback","actor":"analyzer","canary_weight":0,
        "reason":"guardrail success_rate failed","decided_by":"pod-a-1-bb"}]})");
    REQUIRE(events.ok());
    CHECK(events->find("decided by") != std::string::npos);
    CHECK(events->find("pod-a-1-bb") != std::string::npos);

    auto action = action_text(R"({"route":"api","changed":true,"state":"rolled_back","canary_weight":0,"reason":"rolled back by an operator","decided_by":"pod-b-1-aa"})");
    CHECK(action->find("; decided by replica pod-b-1-aa") != std::string::npos);

    auto fleet = fleet_text(R"({"fleet":{"name":"checkout","id":"pod-b-1-aa","role":"follower","state":"ok","leader":"pod-a-1-bb",
        "replicas":2,"signals":"leader"},"replicas":["pod-a-1-bb","pod-b-1-aa"],
        "targets":[{"instance":"10.0.0.1:9901","up":true},{"instance":"10.0.0.2:9901","up":false}]})");
    REQUIRE(fleet.ok());
    auto line_with = [&](const std::string& a, const std::string& b) {
        std::size_t start = 0;
        while (start < fleet->size()) {
            const auto end = fleet->find('\n', start);
            const auto line = fleet->substr(start, end - start);
            if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
            if (end == std::string::npos) break;
            start = end + 1;
        }
        return false;
    };
    CHECK(line_with("pod-a-1-bb", "leader"));
    CHECK(line_with("pod-b-1-aa", "follower"));
    CHECK(line_with("10.0.0.2:9901", "no"));
    CHECK(fleet->find("10.0.0.2:9901") != std::string::npos);
    CHECK_FALSE(fleet_text(R"({"routes":[]})").ok());
}
