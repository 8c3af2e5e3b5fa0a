// Upstream faults (SPEC §4): no endpoint, a response cut short, invalid framing, and
// passive outlier ejection.
#include "raw.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace canaryd::test;

namespace {

std::string route_to(const std::string& endpoints) {
    return "threads: 1\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n"
           "    stable: {version: v1, endpoints: [" + endpoints + "]}\n";
}

}  // namespace

TEST_CASE("no endpoint available: 503 at once") {
    Proxy proxy(route_to(""));
    RawClient client(proxy.port());
    const auto started = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 503);
    CHECK(std::chrono::steady_clock::now() - started < 500ms);
}

TEST_CASE("an upstream that closes mid-response aborts the client connection") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.find("/chunked") != std::string::npos)
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        else
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
        c.close();
    });
    Proxy proxy(route_to(upstream.address()));
    {
        RawClient client(proxy.port());
        client.send("GET /sized HTTP/1.1\r\nHost: a\r\n\r\n");
        bool closed = false;
        const auto raw = client.read_until_close(&closed);
        CHECK(closed);
        CHECK(raw.find("Content-Length: 100") != std::string::npos);
        CHECK(raw.ends_with("only part"));  // short: the client can tell it is broken
    }
    {
        RawClient client(proxy.port());
        client.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");
        bool closed = false;
        const auto raw = client.read_until_close(&closed);
        CHECK(closed);
        CHECK(raw.find("hello") != std::string::npos);
        CHECK(raw.find("0\r\n\r\n") == std::string::npos);  // never a fake terminator
    }
}

TEST_CASE("invalid upstream framing: 502 and that upstream connection discarded") {
    std::atomic<bool> closed_by_proxy{false};
    RawUpstream upstream([&](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        closed_by_proxy = c.closed_by_peer(5s);
    });
    Proxy proxy(route_to(upstream.address()));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 502);
    std::this_thread::sleep_for(200ms);
    CHECK(closed_by_proxy.load());
}

TEST_CASE("a garbage upstream response is a 502") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HELLO THERE\r\n\r\n");
        c.closed_by_peer(5s);
    });
    Proxy proxy(route_to(upstream.address()));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 502);
}

TEST_CASE("an endpoint that fails repeatedly is ejected, the others keep serving") {
    RawUpstream bad([](RawConnection& c) {
        c.read_head();
        c.close();  // accepts, then hangs up without a response
    });
    RawUpstream good(RawUpstream::simple_ok());
    Proxy proxy(route_to(bad.address() + ", " + good.address()));
    RawClient client(proxy.port());
    int failures = 0;
    for (int i = 0; i < 40; ++i) {
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        auto response = client.read_response();
        REQUIRE(response);
        if (response->result_int() != 200) ++failures;  // a 502 keeps the client connection
    }
    CHECK(bad.connections() == 5);  // 5 consecutive failures, then ejected
    CHECK(failures == 5);
}

TEST_CASE("the last endpoint of a version is never ejected") {
    RawUpstream bad([](RawConnection& c) {
        c.read_head();
        c.close();
    });
    Proxy proxy(route_to(bad.address()));
    for (int i = 0; i < 12; ++i) {
        RawClient client(proxy.port());
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->result_int() == 502);
    }
    CHECK(bad.connections() == 12);
}
