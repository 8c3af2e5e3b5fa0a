#include "core/admin/admin_request.hpp"
#include "core/admin/status_view.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace canaryd::admin;

TEST_CASE("admin routing: endpoints, methods, query") {
    CHECK(route_admin_request("GET", "/healthz").endpoint == Endpoint::healthz);
    CHECK(route_admin_request("HEAD", "/metrics").endpoint == Endpoint::metrics);
    auto weight = route_admin_request("POST", "/weight?route=api&canary=12.5");
    CHECK(weight.endpoint == Endpoint::weight);
    CHECK(weight.query.at("route") == "api");
    CHECK(weight.query.at("canary") == "12.5");
    auto wrong_method = route_admin_request("GET", "/rollback");
    CHECK(wrong_method.error_status == 405);
    CHECK(wrong_method.allow == "POST");
    CHECK(route_admin_request("POST", "/status").error_status == 405);
    CHECK(route_admin_request("GET", "/nope").error_status == 404);
    CHECK(route_admin_request("GET", "/status/").error_status == 404);
    CHECK(is_mutating_method("POST"));
    CHECK(is_mutating_method("DELETE"));
    CHECK_FALSE(is_mutating_method("GET"));
    auto q = parse_query("route=my%20route&x=a+b&flag&bad=%zz");
    CHECK(q.at("route") == "my route");
    CHECK(q.at("x") == "a b");
    CHECK(q.at("flag").empty());
    CHECK(q.at("bad") == "%zz");
}

TEST_CASE("/status JSON has the documented shape") {
    StatusView view;
    view.config_generation = 3;
    RouteStatus route;
    route.name = "api";
    route.canary_weight = 10;
    route.configured_weight = 10;
    route.stable.release = "v41";
    route.stable.requests = 900;
    route.stable.success_rate = 0.999;
    route.stable.latency_p99_ms = 12.3456;
    route.stable.cpu_cores = 0.5;
    VersionStatus canary;
    canary.release = "v42";
    canary.requests = 100;
    route.canary = canary;
    route.last_decision = DecisionSummary{"2026-11-26T10:00:00Z", "pass", "success_rate", "ok"};
    view.routes.push_back(route);
    const auto json = boost::json::parse(render_status_json(view));
    CHECK(json.at("config_generation").as_int64() == 3);
    const auto& r = json.at("routes").at(0);
    CHECK(r.at("name").as_string() == "api");
    CHECK(r.at("state").as_string() == "steady");
    CHECK(r.at("canary_weight").to_number<double>() == 10.0);
    CHECK(r.at("step").is_null());
    CHECK(r.at("stable").at("release").as_string() == "v41");
    CHECK(r.at("stable").at("requests").as_int64() == 900);
    CHECK(r.at("stable").at("latency_p99_ms").to_number<double>() == doctest::Approx(12.346));
    CHECK(r.at("stable").at("cpu_cores").to_number<double>() == 0.5);
    CHECK(r.at("stable").at("memory_bytes").is_null());
    CHECK(r.at("canary").at("release").as_string() == "v42");
    CHECK(r.at("last_decision").at("verdict").as_string() == "pass");
}
