#include "io/session/sticky_hash.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

using namespace canaryd::test;

namespace {

std::string split_route(const Upstream& stable, const Upstream& canary, const std::string& weight,
                        const std::string& extra = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                              "]}\n    canary: {version: v2, endpoints: [" + canary.address() +
                              "]}\n    canary_weight: " + weight + "\n" + extra);
}

const std::string kOverrides =
    "    overrides:\n      - {header: x-canary, value: always, to: canary}\n"
    "      - {header: x-canary, value: never, to: stable}\n";

}  // namespace

TEST_CASE("a 10 % split over 5,000 requests is within the 99.9 % binomial bound") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "10"));
    Client client(proxy.port());
    const int n = 5'000;
    int to_canary = 0;
    for (int i = 0; i < n; ++i) {
        auto response = client.get("/");
        REQUIRE(response.result_int() == 200);
        to_canary += response.body() == "canary";
    }
    // Two-sided 99.9 %: |X - np| <= 3.29 * sqrt(np(1-p)) = 3.29 * 21.2 = 69.8
    const double bound = 3.29 * std::sqrt(n * 0.1 * 0.9);
    INFO("canary got " << to_canary << " of " << n);
    CHECK(std::abs(to_canary - n * 0.1) <= bound);
    CHECK(canary.requests() == static_cast<std::uint64_t>(to_canary));
}

TEST_CASE("a sticky key always lands on the version its bucket names") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "30", "    sticky: {header: x-user-id}\n"));
    Client client(proxy.port());
    int canary_users = 0;
    for (int user = 0; user < 200; ++user) {
        const std::string key = "user-" + std::to_string(user);
        const std::string expected = canaryd::io::sticky_bucket("api", key) < 3'000 ? "canary" : "stable";
        canary_users += expected == "canary";
        for (int repeat = 0; repeat < 5; ++repeat) {
            INFO(key);
            CHECK(client.get("/", {{"x-user-id", key}}).body() == expected);
        }
    }
    CHECK(canary_users > 20);  // the keys really do spread over both versions
    CHECK(canary_users < 110);
}

TEST_CASE("a sticky cookie with an explicit salt") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "50", "    sticky: {cookie: uid, salt: s1}\n"));
    Client client(proxy.port());
    for (int user = 0; user < 50; ++user) {
        const std::string key = "u" + std::to_string(user);
        const std::string expected = canaryd::io::sticky_bucket("s1", key) < 5'000 ? "canary" : "stable";
        CHECK(client.get("/", {{"cookie", "a=b; uid=" + key}}).body() == expected);
    }
}

TEST_CASE("override headers pick the version") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "10", kOverrides));
    Client client(proxy.port());
    for (int i = 0; i < 50; ++i) {
        CHECK(client.get("/", {{"x-canary", "always"}}).body() == "canary");
        CHECK(client.get("/", {{"x-canary", "never"}}).body() == "stable");
    }
}

TEST_CASE("weight 0 sends nothing to the canary, not even overrides or sticky keys") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "0", kOverrides + "    sticky: {header: x-user-id}\n"));
    Client client(proxy.port());
    for (int i = 0; i < 300; ++i) {
        CHECK(client.get("/", {{"x-canary", "always"}, {"x-user-id", "user-" + std::to_string(i)}}).body() == "stable");
        CHECK(client.get("/").body() == "stable");
    }
    CHECK(canary.requests() == 0);
}

TEST_CASE("weight 100 sends everything to the canary") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_route(stable, canary, "100", "    sticky: {header: x-user-id}\n"));
    Client client(proxy.port());
    for (int i = 0; i < 300; ++i) CHECK(client.get("/", {{"x-user-id", "user-" + std::to_string(i)}}).body() == "canary");
    CHECK(stable.requests() == 0);
}

TEST_CASE("the access log says why each request got its version (override, sticky, weighted)") {
    Upstream stable("stable");
    Upstream canary("canary");
    const std::string log_path = "/tmp/canaryd-access-reason-" + std::to_string(::getpid()) + ".log";
    std::remove(log_path.c_str());
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                       "]}\n    canary: {version: v2, endpoints: [" + canary.address() +
                                       "]}\n    canary_weight: 50\n    sticky: {header: x-user-id}\n" + kOverrides,
                                   "access_log: " + log_path + "\n"));
    Client client(proxy.port());
    CHECK(client.get("/", {{"x-canary", "always"}}).body() == "canary");
    CHECK(client.get("/", {{"x-user-id", "alice"}}).result_int() == 200);
    CHECK(client.get("/").result_int() == 200);
    const auto read_reasons = [&] {
        std::vector<std::string> reasons;
        std::ifstream file(log_path);
        for (std::string line; std::getline(file, line);)
            reasons.emplace_back(boost::json::parse(line).at("reason").as_string());
        return reasons;
    };
    std::vector<std::string> reasons;
    for (int i = 0; i < 250 && (reasons = read_reasons()).size() < 3; ++i)  // flushed within a second
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(reasons == std::vector<std::string>{"override", "sticky", "weighted"});
    std::remove(log_path.c_str());
}

TEST_CASE("access lines are buffered per worker and none is lost on shutdown") {
    Upstream stable("stable");
    const std::string log_path = "/tmp/canaryd-access-shutdown-" + std::to_string(::getpid()) + ".log";
    std::remove(log_path.c_str());
    {
        Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n",
                                       "access_log: " + log_path + "\n"));
        for (int c = 0; c < 4; ++c) {  // several connections, so both workers write
            Client client(proxy.port());
            for (int i = 0; i < 500; ++i) REQUIRE(client.get("/x").result_int() == 200);
        }
    }
    std::ifstream file(log_path);
    int lines = 0;
    for (std::string line; std::getline(file, line);) {
        CHECK(boost::json::parse(line).at("path").as_string() == "/x");  // whole lines, never interleaved
        ++lines;
    }
    CHECK(lines == 2'000);
    std::remove(log_path.c_str());
}
