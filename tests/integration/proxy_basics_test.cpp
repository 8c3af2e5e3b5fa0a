#include "support.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <doctest/doctest.h>

using namespace canaryd::test;

namespace {

std::string one_route(const Upstream& stable, const std::string& extra = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n" + extra);
}

// An upstream that answers with the request target, to check ordering.
Upstream::Handler echo_target() {
    return [](const http::request<http::string_body>& request) {
        http::response<http::string_body> response{http::status::ok, 11};
        response.body() = std::string(request.target());
        return response;
    };
}

}  // namespace

TEST_CASE("forwards method, target, headers and body, adds forwarding headers") {
    Upstream stable("stable");
    Proxy proxy(one_route(stable));
    Client client(proxy.port());
    auto response = client.request(http::verb::post, "/orders?id=7", {{"x-custom", "yes"}, {"x-request-id", "abc-123"}},
                                   "payload");
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "stable");
    CHECK(response[http::field::via] == "1.1 canaryd");
    CHECK(response["x-request-id"] == "abc-123");
    auto recorded = stable.recorded();
    REQUIRE(recorded.size() == 1);
    CHECK(recorded[0].method == "POST");
    CHECK(recorded[0].target == "/orders?id=7");
    CHECK(recorded[0].body == "payload");
    CHECK(recorded[0].header("x-custom") == "yes");
    CHECK(recorded[0].header("host") == "test.local");
    CHECK(recorded[0].header("x-forwarded-for") == "127.0.0.1");
    CHECK(recorded[0].header("x-forwarded-proto") == "http");
    CHECK(recorded[0].header("x-forwarded-host") == "test.local");
    CHECK(recorded[0].header("via") == "1.1 canaryd");
    CHECK(recorded[0].header("x-request-id") == "abc-123");
}

TEST_CASE("a request without X-Request-Id gets a generated one, echoed to the client") {
    Upstream stable("stable");
    Proxy proxy(one_route(stable));
    Client client(proxy.port());
    auto response = client.get("/");
    const std::string id(response["x-request-id"]);
    CHECK(id.size() == 36);
    CHECK(stable.recorded().at(0).header("x-request-id") == id);
    CHECK(client.get("/")["x-request-id"] != id);
}

TEST_CASE("keep-alive: many requests on one client connection") {
    Upstream stable("stable", echo_target());
    Proxy proxy(one_route(stable));
    Client client(proxy.port());
    for (int i = 0; i < 20; ++i) CHECK(client.get("/n/" + std::to_string(i)).body() == "/n/" + std::to_string(i));
}

TEST_CASE("pipelined requests are answered in order") {
    Upstream stable("stable", echo_target());
    Proxy proxy(one_route(stable));
    boost::asio::io_context context;
    tcp::socket socket(context);
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), proxy.port()));
    std::string burst;
    for (int i = 0; i < 5; ++i) burst += "GET /p/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(burst));
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < 5; ++i) {
        http::response<http::string_body> response;
        http::read(socket, buffer, response);
        CHECK(response.body() == "/p/" + std::to_string(i));
    }
}

TEST_CASE("upstream connections are pooled and reused") {
    Upstream stable("stable");
    Proxy proxy("threads: 1\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n"
                "    stable: {version: v1, endpoints: [" + stable.address() + "]}\n");
    {
        Client client(proxy.port());
        for (int i = 0; i < 30; ++i) REQUIRE(client.get("/").result_int() == 200);
    }
    for (int i = 0; i < 20; ++i) {
        Client fresh(proxy.port());  // new client connections still share the upstream pool
        REQUIRE(fresh.get("/").result_int() == 200);
    }
    CHECK(stable.requests() == 50);
    CHECK(stable.connections() == 1);
}

TEST_CASE("404 when no route matches") {
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    match: {host: api.example.com}\n"
                                   "    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"));
    Client client(proxy.port());
    auto response = client.get("/");  // Host: test.local
    CHECK(response.result_int() == 404);
    CHECK(response.body().find("no route") != std::string::npos);
    CHECK(client.get("/", {{"host", "api.example.com"}}).result_int() == 200);  // same connection survives
    CHECK(stable.requests() == 1);
}

TEST_CASE("502 when the upstream refuses the connection") {
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [127.0.0.1:" +
                                   std::to_string(closed_port()) + "]}\n"));
    Client client(proxy.port());
    auto response = client.get("/");
    CHECK(response.result_int() == 502);
    CHECK(response.body().find("refused") != std::string::npos);
    CHECK(client.get("/").result_int() == 502);  // the client connection is still usable
}

TEST_CASE("a refused connection is retried once on another endpoint of the same version") {
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [127.0.0.1:" +
                                   std::to_string(closed_port()) + ", " + stable.address() + "]}\n"));
    Client client(proxy.port());
    for (int i = 0; i < 10; ++i) CHECK(client.get("/").result_int() == 200);
}

TEST_CASE("503 when the chosen version has no endpoint") {
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                   "]}\n    canary: {version: v2, endpoints: []}\n    canary_weight: 100\n"));
    Client client(proxy.port());
    auto response = client.get("/");
    CHECK(response.result_int() == 503);
    CHECK(response.body().find("route api, canary") != std::string::npos);
    CHECK(stable.requests() == 0);
}

TEST_CASE("the version header is off by default and names role/release when configured") {
    Upstream stable("stable");
    {
        Proxy proxy(one_route(stable));
        Client client(proxy.port());
        auto response = client.get("/");
        CHECK(response.find("x-canaryd-version") == response.end());
    }
    Proxy with_header(config_with_routes("  - name: api\n    stable: {version: v41, endpoints: [" + stable.address() +
                                         "]}\n", "defaults: {version_header: X-Canaryd-Version}\n"));
    Client client(with_header.port());
    CHECK(client.get("/")["x-canaryd-version"] == "stable/v41");
}
