// Reloads and shutdown of a real canaryd process with real signals (SPEC §8): SIGHUP under
// load loses no request, listeners and endpoints follow the file, an invalid file changes
// nothing and says why, SIGTERM drains in-flight requests and exits 0.
#include "process.hpp"
#include "raw.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <csignal>
#include <cmath>

using namespace canaryd::test;

namespace {

std::string proxy_config(std::uint16_t port, std::uint16_t admin_port, const std::string& routes,
                         const std::string& extra = "") {
    // watch_config: false: these tests count the reloads their SIGHUPs make (the file watch,
    // which would add its own, has its tests in config_watch_test.cpp).
    return "threads: 2\nwatch_config: false\nlisteners:\n  - address: 127.0.0.1:" + std::to_string(port) +
           "\nadmin: {address: 127.0.0.1:" + std::to_string(admin_port) + "}\n" + extra + "routes:\n" + routes;
}

std::string split_routes(const Upstream& stable, const Upstream& canary, const std::string& weight) {
    return "  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"
           "    canary: {version: v2, endpoints: [" + canary.address() + "]}\n    canary_weight: " + weight + "\n";
}

double metric(std::uint16_t admin_port, const std::string& series) {
    const auto text = Client(admin_port).get("/metrics").body();
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("50 SIGHUPs under load, one with an invalid file: zero failed requests, the split follows the file") {
    Upstream stable("stable");
    Upstream canary("canary");
    const auto port = closed_port();
    const auto admin = closed_port();
    const auto config_a = proxy_config(port, admin, split_routes(stable, canary, "20"));
    const auto config_b = proxy_config(port, admin, split_routes(stable, canary, "80"));
    CanarydProcess process(config_a, admin);

    std::atomic<bool> running{true};
    std::atomic<int> failures{0};
    std::atomic<int> requests{0};
    std::vector<std::thread> load;
    for (int t = 0; t < 3; ++t) {  // keep-alive clients, with and without bodies
        load.emplace_back([&, t] {
            try {
                Client client(port);
                while (running) {
                    auto response = t == 0 ? client.request(http::verb::post, "/upload", {}, std::string(3000, 'b'))
                                           : client.get("/");
                    if (response.result_int() != 200) ++failures;
                    ++requests;
                }
            } catch (const std::exception&) {
                ++failures;  // a reset or a closed keep-alive connection
            }
        });
    }
    load.emplace_back([&] {  // a new connection per request
        while (running) {
            try {
                Client client(port);
                if (client.get("/").result_int() != 200) ++failures;
                ++requests;
            } catch (const std::exception&) {
                ++failures;
            }
        }
    });
    for (int i = 0; i < 50; ++i) {
        if (i == 25) {
            process.write_config("listeners: [{address: 127.0.0.1:" + std::to_string(port) + "}\nroutes: oops\n");
            process.signal(SIGHUP);
            // Signals of one kind coalesce when they come faster than they are handled:
            // make sure this one was read before the file changes again.
            for (int wait = 0; wait < 200 && metric(admin, "canaryd_config_reloads_total{result=\"fail\"}") < 1; ++wait)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        process.write_config(i % 2 == 0 ? config_b : config_a);
        process.signal(SIGHUP);
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
    process.write_config(config_a);  // end on 20 %
    process.signal(SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    running = false;
    for (auto& t : load) t.join();
    CHECK(failures.load() == 0);
    CHECK(requests.load() > 200);
    CHECK(metric(admin, "canaryd_config_reloads_total{result=\"fail\"}") == 1);
    // 50 SIGHUPs with good files; a few may coalesce into one reload on a slow machine.
    CHECK(metric(admin, "canaryd_config_reloads_total{result=\"success\"}") >= 40);
    CHECK(metric(admin, "canaryd_config_reloads_total{result=\"success\"}") <= 50);
    CHECK(process.log().find("reload_failed") != std::string::npos);

    // The weight in force is the file's last word: 20 %.
    const auto before_stable = stable.requests();
    const auto before_canary = canary.requests();
    Client client(port);
    const int n = 2000;
    for (int i = 0; i < n; ++i) REQUIRE(client.get("/").result_int() == 200);
    const double to_canary = static_cast<double>(canary.requests() - before_canary);
    CHECK(stable.requests() - before_stable + (canary.requests() - before_canary) == static_cast<std::uint64_t>(n));
    CHECK(std::abs(to_canary - 0.2 * n) <= 3.29 * std::sqrt(n * 0.2 * 0.8));
    process.signal(SIGTERM);
    CHECK(process.wait_exit(std::chrono::seconds(10)) == 0);
}

TEST_CASE("an invalid file on SIGHUP leaves behaviour unchanged and logs every error with line and column") {
    Upstream stable("stable");
    Upstream canary("canary");
    const auto port = closed_port();
    const auto admin = closed_port();
    CanarydProcess process(proxy_config(port, admin, split_routes(stable, canary, "0")), admin);
    const auto generation = admin_status(admin).at("config_generation").as_int64();
    process.write_config(proxy_config(port, admin, split_routes(stable, canary, "150") + "    stcky: {header: x}\n"));
    process.signal(SIGHUP);
    for (int i = 0; i < 100 && process.log().find("reload_failed") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto log = process.log();
    CHECK(log.find(process.config_path() + ":10:20: routes[0].canary_weight: weight '150' is out of range") !=
          std::string::npos);
    CHECK(log.find(process.config_path() + ":11:5: routes[0].stcky: unknown key") != std::string::npos);
    CHECK(admin_status(admin).at("config_generation").as_int64() == generation);
    Client client(port);
    for (int i = 0; i < 100; ++i) CHECK(client.get("/").body() == "stable");  // still 0 %
    CHECK(canary.requests() == 0);
}

TEST_CASE("a listener added by reload accepts, a removed endpoint gets no new requests and finishes its in-flight one") {
    std::atomic<int> old_served{0};
    Upstream old_endpoint(
        "old",
        [&](const http::request<http::string_body>&) {
            ++old_served;
            http::response<http::string_body> response{http::status::ok, 11};
            response.body() = "old";
            return response;
        },
        [] { return std::chrono::milliseconds(1500); });
    Upstream new_endpoint("new");
    const auto port = closed_port();
    const auto second_port = closed_port();
    const auto admin = closed_port();
    auto routes = [](const Upstream& u) {
        return "  - name: api\n    stable: {version: v1, endpoints: [" + u.address() + "]}\n";
    };
    CanarydProcess process(proxy_config(port, admin, routes(old_endpoint)), admin);
    std::optional<http::response<http::string_body>> in_flight;
    std::thread slow([&] { in_flight = Client(port).get("/slow"); });
    for (int i = 0; i < 100 && old_served == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(old_served == 1);
    process.write_config("threads: 2\nlisteners:\n  - address: 127.0.0.1:" + std::to_string(port) +
                         "\n  - address: 127.0.0.1:" + std::to_string(second_port) +
                         "\nadmin: {address: 127.0.0.1:" + std::to_string(admin) + "}\nroutes:\n" + routes(new_endpoint));
    process.signal(SIGHUP);
    for (int i = 0; i < 100 && admin_status(admin).at("config_generation").as_int64() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Client added(second_port);  // the new listener accepts
    CHECK(added.get("/").body() == "new");
    Client first(port);
    for (int i = 0; i < 20; ++i) CHECK(first.get("/").body() == "new");
    slow.join();
    REQUIRE(in_flight);
    CHECK(in_flight->result_int() == 200);  // finished on the snapshot it started with
    CHECK(in_flight->body() == "old");
    CHECK(old_served == 1);
}

TEST_CASE("SIGTERM: in-flight requests complete, new connections are refused after the grace, exit 0") {
    Upstream slow("slow", {}, [] { return std::chrono::milliseconds(1500); });
    const auto port = closed_port();
    const auto admin = closed_port();
    CanarydProcess process(
        proxy_config(port, admin, "  - name: api\n    stable: {version: v1, endpoints: [" + slow.address() + "]}\n",
                     "defaults: {timeouts: {shutdown_grace: 300ms, drain: 10s}}\n"),
        admin);
    std::vector<std::thread> clients;
    std::atomic<int> completed{0};
    std::atomic<int> closing{0};
    for (int i = 0; i < 20; ++i) {
        clients.emplace_back([&] {
            try {
                Client client(port);
                auto response = client.get("/");
                if (response.result_int() == 200 && response.body() == "slow") ++completed;
                if (!response.keep_alive()) ++closing;
            } catch (const std::exception&) {
            }
        });
    }
    for (int i = 0; i < 200 && slow.requests() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(slow.requests() == 20);
    const auto signalled = std::chrono::steady_clock::now();
    process.signal(SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(Client(admin).get("/readyz").result_int() == 503);  // load balancers notice first
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    bool refused = false;
    try {
        Client late(port);
    } catch (const std::exception&) {
        refused = true;
    }
    CHECK(refused);
    const auto code = process.wait_exit(std::chrono::seconds(9));
    for (auto& t : clients) t.join();
    CHECK(code == 0);
    CHECK(completed == 20);
    CHECK(closing == 20);  // each answered with Connection: close
    CHECK(std::chrono::steady_clock::now() - signalled < std::chrono::seconds(10));
    const auto log = process.log();
    CHECK(log.find("\"event\":\"draining\"") != std::string::npos);
    CHECK(log.find("\"event\":\"drained\"") != std::string::npos);
}

TEST_CASE("a second SIGTERM exits at once, the drain timeout bounds a stuck request") {
    Upstream stuck("stuck", {}, [] { return std::chrono::milliseconds(8000); });
    const auto port = closed_port();
    const auto admin = closed_port();
    CanarydProcess process(
        proxy_config(port, admin, "  - name: api\n    stable: {version: v1, endpoints: [" + stuck.address() + "]}\n",
                     "defaults: {timeouts: {shutdown_grace: 0s, drain: 1s}}\n"),
        admin);
    std::thread client([&] {
        try {
            Client(port).get("/");
        } catch (const std::exception&) {
        }
    });
    for (int i = 0; i < 200 && stuck.requests() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto signalled = std::chrono::steady_clock::now();
    process.signal(SIGTERM);
    const auto code = process.wait_exit(std::chrono::seconds(5));
    CHECK(code == 0);
    const auto took = std::chrono::steady_clock::now() - signalled;
    CHECK(took >= std::chrono::milliseconds(900));  // waited for the drain timeout...
    CHECK(took < std::chrono::seconds(4));          // ...and not for the 8 s request
    CHECK(process.log().find("drain_timeout") != std::string::npos);
    client.join();

    const auto second_admin = closed_port();
    CanarydProcess patient(
        proxy_config(closed_port(), second_admin, "  - name: api\n    stable: {version: v1, endpoints: []}\n",
                     "defaults: {timeouts: {shutdown_grace: 5s, drain: 30s}}\n"),
        second_admin);
    patient.signal(SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK_FALSE(patient.wait_exit(std::chrono::milliseconds(100)));  // still in its 5 s grace
    const auto again = std::chrono::steady_clock::now();
    patient.signal(SIGTERM);
    CHECK(patient.wait_exit(std::chrono::seconds(2)) == 0);
    CHECK(std::chrono::steady_clock::now() - again < std::chrono::seconds(2));
    CHECK(patient.log().find("forced_exit") != std::string::npos);
}
