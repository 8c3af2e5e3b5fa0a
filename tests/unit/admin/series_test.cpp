#include "core/admin/series.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace canaryd;

namespace {

admin::SeriesPoint point(std::int64_t second, std::uint64_t requests, std::uint64_t failures) {
    admin::SeriesPoint p;
    p.second = second;
    p.requests = requests;
    p.failures = failures;
    p.p50_ms = 4.25;
    p.p99_ms = 20.5;
    return p;
}

}  // namespace

TEST_CASE("series: keeps the last `length` seconds, oldest first, gaps stay gaps") {
    admin::Series series(3);
    series.add(point(10, 5, 0));
    series.add(point(11, 6, 0));
    series.add(point(13, 8, 1));  // second 12 had no tick
    auto points = series.points(13);
    REQUIRE(points.size() == 2);  // (10, 13]: 11 and 13
    CHECK(points[0].second == 11);
    CHECK(points[1].second == 13);
    series.add(point(14, 9, 0));
    points = series.points(14);
    REQUIRE(points.size() == 2);  // 13 and 14; 11 has left the window
    CHECK(points[0].second == 13);
    // Asked about a later second without new points, the old ones age out.
    CHECK(series.points(16).size() == 1);
    CHECK(series.points(17).empty());
}

TEST_CASE("series: a point for a second already seen is dropped") {
    admin::Series series(60);
    series.add(point(5, 1, 0));
    series.add(point(5, 99, 99));
    series.add(point(4, 99, 99));
    const auto points = series.points(5);
    REQUIRE(points.size() == 1);
    CHECK(points[0].requests == 1);
}

TEST_CASE("series: JSON gives each point's age, and no success rate for a second without requests") {
    admin::RouteSeries route;
    route.route = "api";
    route.window_seconds = 60;
    route.now = 100;
    route.stable = admin::VersionSeries{"v1", {point(98, 200, 2), point(100, 0, 0)}};
    route.stable.points[0].cpu_cores = 0.123456;
    route.stable.points[0].memory_bytes = 1048576.4;
    const auto parsed = boost::json::parse(admin::render_series_json(route)).as_object();
    CHECK(parsed.at("route").as_string() == "api");
    CHECK(parsed.at("window_seconds").to_number<int>() == 60);
    CHECK(parsed.at("canary").is_null());
    const auto& points = parsed.at("stable").at("points").as_array();
    REQUIRE(points.size() == 2);
    const auto& first = points[0].as_object();
    CHECK(first.at("age").to_number<int>() == 2);
    CHECK(first.at("requests").to_number<int>() == 200);
    CHECK(first.at("failures").to_number<int>() == 2);
    CHECK(first.at("success_rate").to_number<double>() == doctest::Approx(0.99));
    CHECK(first.at("p99_ms").to_number<double>() == doctest::Approx(20.5));
    CHECK(first.at("cpu_cores").to_number<double>() == doctest::Approx(0.1235));
    CHECK(first.at("memory_bytes").to_number<double>() == doctest::Approx(1048576));
    const auto& idle = points[1].as_object();
    CHECK(idle.at("age").to_number<int>() == 0);
    CHECK(idle.at("success_rate").is_null());
    CHECK(idle.at("cpu_cores").is_null());

    route.canary = admin::VersionSeries{"v2", {point(99, 20, 20)}};
    const auto with_canary = boost::json::parse(admin::render_series_json(route)).as_object();
    const auto& canary = with_canary.at("canary").as_object();
    CHECK(canary.at("release").as_string() == "v2");
    CHECK(canary.at("points").as_array()[0].at("success_rate").to_number<double>() == 0.0);
}
