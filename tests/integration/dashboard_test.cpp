// The dashboard's side of the admin listener end to end (SPEC §10): the page and its files
// come from the binary with a policy that forbids every other source, /series carries the
// per-second points the charts draw, and a page of another site cannot make the operator's
// browser change a rollout even when the browser holds the token. (The page itself is driven
// in a real Chromium by tests/browser.)
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <unistd.h>

using namespace canaryd::test;

namespace {

std::string two_routes(const Upstream& stable, const Upstream& canary, const std::string& admin) {
    return config_with_routes("  - name: api\n    match: {path_prefix: /api}\n"
                              "    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"
                              "    canary: {version: v2, endpoints: [" + canary.address() + "]}\n"
                              "    canary_weight: 50\n"
                              "  - name: web\n    stable: {version: w1, endpoints: [" + stable.address() + "]}\n",
                              admin);
}

std::uint64_t requests_in(const boost::json::value& version) {
    std::uint64_t total = 0;
    for (const auto& point : version.at("points").as_array()) total += point.at("requests").to_number<std::uint64_t>();
    return total;
}

}  // namespace

TEST_CASE("dashboard: GET / serves the embedded page under a policy that allows only this listener") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(two_routes(stable, canary, "admin: {address: 127.0.0.1:0}\n"));
    Client admin(proxy.app().admin_port());
    const auto page = admin.get("/");
    CHECK(page.result_int() == 200);
    CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
    CHECK(page.body().find("/dashboard.js") != std::string::npos);
    const std::string policy(page["Content-Security-Policy"]);
    CHECK(policy.find("default-src 'none'") != std::string::npos);
    CHECK(policy.find("connect-src 'self'") != std::string::npos);
    CHECK(page["X-Content-Type-Options"] == "nosniff");
    for (const auto* file : {"/dashboard.js", "/dashboard.css", "/favicon.svg"}) {
        CAPTURE(file);
        const auto response = admin.get(file);
        CHECK(response.result_int() == 200);
        CHECK_FALSE(response.body().empty());
    }
    CHECK(admin.get("/dashboard.jsx").result_int() == 404);
    // The page learns from /status whether its buttons need a token.
    CHECK(admin_status(proxy.app().admin_port()).at("token_required").as_bool() == false);
}

TEST_CASE("dashboard: /series gives each version's requests per second over the window") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(two_routes(stable, canary, "admin: {address: 127.0.0.1:0}\n"));
    Client client(proxy.port());
    constexpr int kSent = 200;
    for (int i = 0; i < kSent; ++i) REQUIRE(client.get("/api/x?i=" + std::to_string(i)).result_int() == 200);
    Client admin(proxy.app().admin_port());
    // The aggregator ticks once a second: wait (generously) for the points to cover them all.
    boost::json::value series;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    do {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto response = admin.get("/series?route=api");
        REQUIRE(response.result_int() == 200);
        series = boost::json::parse(response.body());
    } while (requests_in(series.at("stable")) + requests_in(series.at("canary")) < kSent &&
             std::chrono::steady_clock::now() < deadline);
    CHECK(series.at("route").as_string() == "api");
    CHECK(series.at("stable").at("release").as_string() == "v1");
    CHECK(series.at("canary").at("release").as_string() == "v2");
    const auto stable_requests = requests_in(series.at("stable"));
    const auto canary_requests = requests_in(series.at("canary"));
    CHECK(stable_requests + canary_requests == kSent);
    CHECK(stable_requests > 50);  // a 50 % split of 200
    CHECK(canary_requests > 50);
    const auto window = series.at("window_seconds").to_number<std::int64_t>();
    for (const auto& point : series.at("canary").at("points").as_array()) {
        const auto age = point.at("age").to_number<std::int64_t>();
        CHECK(age >= 0);
        CHECK(age < window);
        if (point.at("requests").to_number<int>() > 0) {
            CHECK(point.at("success_rate").to_number<double>() == 1.0);
            CHECK(point.at("p99_ms").to_number<double>() > 0);
        }
    }
    // A route without a canary has no canary series; an unknown or unnamed route is refused.
    CHECK(boost::json::parse(admin.get("/series?route=web").body()).at("canary").is_null());
    CHECK(admin.get("/series?route=nope").result_int() == 404);
    CHECK(admin.get("/series").result_int() == 400);  // two routes: which one?
}

TEST_CASE("dashboard: another site's page cannot roll back through the operator's browser (CSRF)") {
    Upstream stable("stable");
    Upstream canary("canary");
    const std::string token_file = "/tmp/canaryd-test-" + std::to_string(getpid()) + "-dashboard-token";
    std::ofstream(token_file) << "ops-token\n";
    Proxy proxy(two_routes(stable, canary, "admin: {address: 127.0.0.1:0, token_file: " + token_file + "}\n"));
    const auto port = proxy.app().admin_port();
    const std::string host = "127.0.0.1:" + std::to_string(port);
    Client admin(port);
    CHECK(admin_status(port).at("token_required").as_bool());
    // Even with the right token (a browser may attach it), a cross-site call changes nothing.
    const auto forged = admin.request(http::verb::post, "/rollback?route=api",
                                      {{"authorization", "Bearer ops-token"}, {"host", host},
                                       {"origin", "https://evil.example"}, {"sec-fetch-site", "cross-site"}});
    CHECK(forged.result_int() == 403);
    CHECK(forged.body().find("cross-site") != std::string::npos);
    CHECK(admin_status(port).at("routes").at(0).at("state").as_string() != "rolled_back");
    // The dashboard's own call (same origin) goes through, as does curl's (no Origin at all).
    const auto own = admin.request(http::verb::post, "/rollback?route=api",
                                   {{"authorization", "Bearer ops-token"}, {"host", host},
                                    {"origin", "http://" + host}, {"sec-fetch-site", "same-origin"}});
    CHECK(own.result_int() == 200);
    CHECK(admin_status(port).at("routes").at(0).at("state").as_string() == "rolled_back");
    CHECK(admin.request(http::verb::post, "/resume?route=api", {{"authorization", "Bearer ops-token"}}).result_int() == 200);
    // Without the token the dashboard's call is refused as any other.
    CHECK(admin.request(http::verb::post, "/pause?route=api",
                        {{"host", host}, {"origin", "http://" + host}, {"sec-fetch-site", "same-origin"}})
              .result_int() == 401);
    std::remove(token_file.c_str());
}
