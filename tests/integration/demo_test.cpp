// `canaryd --demo` (SPEC §1), as a user runs it: the real binary with its embedded config and
// backends. --listen and --admin move it, so two demos (or a demo next to a real canaryd)
// run side by side.
#include "process.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <csignal>

using namespace canaryd::test;

TEST_CASE("demo: two demos side by side on their own --listen and --admin addresses") {
    const auto listen_a = closed_port();
    const auto admin_a = closed_port();
    const auto listen_b = closed_port();
    const auto admin_b = closed_port();
    auto address = [](std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
    CanarydProcess a({"--demo", "--listen", address(listen_a), "--admin", address(admin_a)}, admin_a);
    CanarydProcess b({"--demo", "--listen", address(listen_b), "--admin", address(admin_b)}, admin_b);
    for (auto [listen, admin] : {std::pair{listen_a, admin_a}, std::pair{listen_b, admin_b}}) {
        CAPTURE(admin);
        const auto response = Client(listen).get("/", {{"x-canary", "always"}});
        CHECK(response.result_int() == 200);
        CHECK(response["x-canaryd-version"] == "canary/v2");
        // The demo's own traffic shows in its own admin API.
        const auto status = wait_for_status(admin, [](const boost::json::value& s) {
            return s.at("routes").at(0).at("stable").at("requests").to_number<double>() > 0;
        });
        CHECK(status.at("routes").at(0).at("name").as_string() == "demo");
        CHECK(status.at("routes").at(0).at("stable").at("requests").to_number<double>() > 0);
    }
    a.signal(SIGTERM);
    b.signal(SIGTERM);
    CHECK(a.wait_exit(std::chrono::seconds(10)) == 0);
    CHECK(b.wait_exit(std::chrono::seconds(10)) == 0);
}
