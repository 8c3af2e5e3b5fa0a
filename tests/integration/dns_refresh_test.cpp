// Endpoint host names followed as their addresses change (SPEC §11, defaults.dns_refresh):
// the pods of a Service coming and going. The "DNS server" is a hosts file canaryd is given
// (AppOptions::hosts_file) which the test rewrites while requests flow; the pods are
// in-process upstreams on other loopback addresses (127.0.0.2, 127.0.0.3) and one port.
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

using namespace canaryd;
using namespace std::chrono_literals;

namespace {

struct Cluster {
    test::TempDir dir;
    std::string hosts_file = (dir.path / "hosts").string();
    // Pod A takes a free port on 127.0.0.2; the other pods listen on that port too.
    test::Upstream a{"pod-a", slow_on("/slow"), {}, "127.0.0.2"};
    test::Upstream b{"pod-b", {}, {}, "127.0.0.3", a.port()};
    std::string endpoint = "api.test:" + std::to_string(a.port());

    void publish(const std::string& table) const {
        std::ofstream(hosts_file + ".tmp") << table;
        std::filesystem::rename(hosts_file + ".tmp", hosts_file);  // a reader never sees half a file
    }

    std::string config(const std::string& dns_refresh) const {
        return "listeners: [{address: 127.0.0.1:0}]\ndefaults: {dns_refresh: " + dns_refresh +
               "}\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: [" + endpoint + "]}\n";
    }

    io::AppOptions options() const {
        io::AppOptions o;
        o.seed = 7;
        o.hosts_file = hosts_file;
        return o;
    }

    // "pod-a" answers "/slow" after 1.5 s, so that a request can be in flight while A leaves.
    static test::Upstream::Handler slow_on(std::string target) {
        return [target](const test::http::request<test::http::string_body>& request) {
            if (request.target() == target) std::this_thread::sleep_for(1500ms);
            test::http::response<test::http::string_body> response{test::http::status::ok, 11};
            response.body() = "pod-a";
            return response;
        };
    }
};

std::set<std::string> stable_addresses(const boost::json::value& status) {
    std::set<std::string> out;
    for (const auto& a : status.at("routes").at(0).at("stable").at("addresses").as_array())
        out.insert(std::string(a.as_string()));
    return out;
}

// Waits (up to 5 s: 25 refresh periods) until /status lists exactly `expected`.
std::set<std::string> wait_for_addresses(std::uint16_t admin_port, const std::set<std::string>& expected) {
    auto status = test::wait_for_status(admin_port, [&](const boost::json::value& s) { return stable_addresses(s) == expected; }, 5s);
    return stable_addresses(status);
}

// Which pods answered `n` sequential requests.
std::map<std::string, int> answers(std::uint16_t port, int n) {
    std::map<std::string, int> by_pod;
    test::Client client(port);
    for (int i = 0; i < n; ++i) {
        auto response = client.get("/");
        ++by_pod[response.result_int() == 200 ? response.body() : "HTTP " + std::to_string(response.result_int())];
    }
    return by_pod;
}

}  // namespace

TEST_CASE("dns refresh: a new address joins the split, a vanished one gets no new request and its request in flight finishes") {
    Cluster cluster;
    const auto a = "127.0.0.2:" + std::to_string(cluster.a.port());
    const auto b = "127.0.0.3:" + std::to_string(cluster.a.port());
    cluster.publish("127.0.0.2 api.test\n");
    test::Proxy proxy(cluster.config("200ms"), cluster.options());
    const auto admin = proxy.app().admin_port();
    CHECK(stable_addresses(test::admin_status(admin)) == std::set<std::string>{a});
    CHECK(answers(proxy.port(), 10) == std::map<std::string, int>{{"pod-a", 10}});

    // A second pod appears: both share the traffic, and no reload happened.
    cluster.publish("127.0.0.2 api.test\n127.0.0.3 api.test\n");
    CHECK(wait_for_addresses(admin, {a, b}) == std::set<std::string>{a, b});
    const auto shared = answers(proxy.port(), 40);
    CHECK(shared.size() == 2);
    CHECK(shared.count("pod-a") == 1);
    CHECK(shared.count("pod-b") == 1);
    for (const auto& [pod, n] : shared) CHECK_MESSAGE(n >= 10, pod << " answered " << n << " of 40");
    CHECK(proxy.app().snapshot()->generation == 1);

    // Pod A leaves while a request is in flight on it: that request finishes, new ones go to B.
    auto in_flight = std::async(std::launch::async, [&] {
        // Round robin over {A, B}: one of two sequential requests lands on A.
        test::Client client(proxy.port());
        std::string bodies;
        for (int i = 0; i < 2; ++i) {
            auto response = client.get("/slow");
            bodies += std::to_string(response.result_int()) + " " + response.body() + ";";
        }
        return bodies;
    });
    std::this_thread::sleep_for(300ms);
    cluster.publish("127.0.0.3 api.test\n");
    CHECK(wait_for_addresses(admin, {b}) == std::set<std::string>{b});
    auto plain_requests_on_a = [&] {
        const auto recorded = cluster.a.recorded();
        return std::count_if(recorded.begin(), recorded.end(), [](const auto& r) { return r.target == "/"; });
    };
    const auto a_before = plain_requests_on_a();
    CHECK(answers(proxy.port(), 20) == std::map<std::string, int>{{"pod-b", 20}});
    CHECK(plain_requests_on_a() == a_before);
    const auto slow = in_flight.get();
    CHECK(slow.find("200 pod-a;") != std::string::npos);
    CHECK(slow.find("200 pod-b;") != std::string::npos);
    CHECK(proxy.app().snapshot()->generation == 1);
}

TEST_CASE("dns refresh: a failed lookup keeps the last good set, and the name is followed again once it resolves") {
    Cluster cluster;
    const auto a = "127.0.0.2:" + std::to_string(cluster.a.port());
    const auto b = "127.0.0.3:" + std::to_string(cluster.a.port());
    cluster.publish("127.0.0.2 api.test\n");
    test::Proxy proxy(cluster.config("200ms"), cluster.options());
    const auto admin = proxy.app().admin_port();
    test::LogCapture log;

    // The name is gone (NXDOMAIN), then the "server" answers garbage: A keeps serving.
    cluster.publish("127.0.0.9 other.test\n");
    std::this_thread::sleep_for(700ms);
    CHECK(stable_addresses(test::admin_status(admin)) == std::set<std::string>{a});
    CHECK(answers(proxy.port(), 10) == std::map<std::string, int>{{"pod-a", 10}});
    cluster.publish("not-an-address api.test\n");
    std::this_thread::sleep_for(700ms);
    CHECK(stable_addresses(test::admin_status(admin)) == std::set<std::string>{a});
    std::filesystem::remove(cluster.hosts_file);
    std::this_thread::sleep_for(700ms);
    CHECK(answers(proxy.port(), 10) == std::map<std::string, int>{{"pod-a", 10}});

    // Logged once when the lookups started failing (not once per refresh, not again when
    // the reason changed), with the set that was kept.
    const auto failed = log.events("dns_failed");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].at("endpoint").as_string() == cluster.endpoint);
    CHECK(failed[0].at("level").as_string() == "warn");
    CHECK(failed[0].at("kept").as_array() == boost::json::array{boost::json::string(a)});
    CHECK(failed[0].at("error").as_string().find("not in") != boost::json::string::npos);
    CHECK(log.events("dns_recovered").empty());

    cluster.publish("127.0.0.3 api.test\n");
    CHECK(wait_for_addresses(admin, {b}) == std::set<std::string>{b});
    CHECK(answers(proxy.port(), 10) == std::map<std::string, int>{{"pod-b", 10}});
    CHECK(log.events("dns_recovered").size() == 1);
    const auto changed = log.events("dns_changed");
    REQUIRE(changed.size() == 1);
    CHECK(changed[0].at("added").as_array() == boost::json::array{boost::json::string(b)});
    CHECK(changed[0].at("removed").as_array() == boost::json::array{boost::json::string(a)});
    CHECK(log.events("dns_failed").size() == 1);
}

TEST_CASE("dns refresh: 0s resolves names only when a config loads") {
    Cluster cluster;
    const auto a = "127.0.0.2:" + std::to_string(cluster.a.port());
    const auto b = "127.0.0.3:" + std::to_string(cluster.a.port());
    cluster.publish("127.0.0.2 api.test\n");
    test::Proxy proxy(cluster.config("0s"), cluster.options());
    const auto admin = proxy.app().admin_port();
    cluster.publish("127.0.0.3 api.test\n");
    std::this_thread::sleep_for(700ms);
    CHECK(stable_addresses(test::admin_status(admin)) == std::set<std::string>{a});
    CHECK(answers(proxy.port(), 5) == std::map<std::string, int>{{"pod-a", 5}});

    // A reload resolves again.
    CHECK(proxy.reload(cluster.config("0s")) == 2);
    CHECK(stable_addresses(test::admin_status(admin)) == std::set<std::string>{b});
    CHECK(answers(proxy.port(), 5) == std::map<std::string, int>{{"pod-b", 5}});
}
