// Request smuggling and framing (RFC 9112 §6, §7; RFC 9110 §5): every ambiguous message is
// answered with 400 (or 501/505) and the connection closed, and the lenient upstream never
// sees a byte of it — nor of anything sent after it.
#include "raw.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace canaryd::test;

namespace {

std::string route_to(const RawUpstream& upstream) {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + upstream.address() + "]}\n");
}

// Sends `request` followed by a request that must never be parsed, and checks the answer.
void rejected(const std::string& request, unsigned status) {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send(request + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    INFO("request: " << request);
    REQUIRE(response);
    CHECK(response->result_int() == status);
    CHECK(client.closed_by_peer());  // nothing after the bad message is parsed
    CHECK(upstream.received().empty());
    CHECK(upstream.connections() == 0);
}

}  // namespace

TEST_CASE("Content-Length together with Transfer-Encoding is rejected") {
    rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

TEST_CASE("Transfer-Encoding not ending in chunked, repeated chunked, or unknown codings") {
    rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501);
    rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
}

TEST_CASE("Transfer-Encoding on HTTP/1.0 is rejected") {
    rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

TEST_CASE("invalid and conflicting Content-Length values are rejected") {
    for (const char* value : {"+5", "-1", "0x5", "5 5", "", "18446744073709551616", "5, 6"}) {
        rejected(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + value + "\r\n\r\nhello", 400);
    }
    rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400);
}

TEST_CASE("whitespace before a colon, control characters, bare line endings, obs-fold") {
    rejected("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01z\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a\r\nX-Bad\x7f: 1\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\nHost: a\n\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", 400);
}

TEST_CASE("bad chunk sizes and extensions, and chunk data without CRLF, end the connection") {
    for (const char* body : {"zz\r\nabc\r\n0\r\n\r\n", "fffffffffffffffff\r\n", "3;ext\nabc\r\n0\r\n\r\n",
                             "3\r\nabcXX0\r\n\r\n"}) {
        RawUpstream upstream(RawUpstream::simple_ok());
        Proxy proxy(route_to(upstream));
        RawClient client(proxy.port());
        client.send(std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") + body +
                    "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
        auto response = client.read_response();
        INFO("body: " << body);
        REQUIRE(response);
        CHECK(response->result_int() == 400);
        CHECK(client.closed_by_peer());
        CHECK(upstream.received().find("smuggled") == std::string::npos);
    }
}

TEST_CASE("trailers never change framing or connection state") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
                "GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
    auto first = client.read_response();
    auto second = client.read_response();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->result_int() == 200);
    CHECK(second->result_int() == 200);
    const auto seen = upstream.received();
    CHECK(seen.find("Content-Length: 50") == std::string::npos);  // trailers are dropped
    CHECK(seen.find("3\r\nabc\r\n0\r\n\r\n") != std::string::npos);  // re-encoded by canaryd
    CHECK(seen.find("GET /second HTTP/1.1") != std::string::npos);
}

TEST_CASE("missing, duplicate or invalid Host on HTTP/1.1") {
    rejected("GET / HTTP/1.1\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    rejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
}

TEST_CASE("request targets with '#', spaces, control or non-ASCII bytes") {
    rejected("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejected("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejected("GET /a\x02 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejected("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

TEST_CASE("bad versions: 505 for HTTP/2.0, 400 for garbage") {
    rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    rejected("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", 400);
}

TEST_CASE("the HTTP/2 connection preface starts HTTP/2 (h2c by prior knowledge): the answer is a SETTINGS frame") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const auto bytes = client.read_available(std::chrono::milliseconds(2000));
    REQUIRE(bytes.size() >= 9);
    CHECK(static_cast<unsigned char>(bytes[3]) == 0x4);  // the frame type: SETTINGS (RFC 9113 §6.5)
    CHECK(static_cast<unsigned char>(bytes[4]) == 0x0);  // not an ACK: the server's own settings
}

TEST_CASE("a valid request after valid ones on the same connection is still served") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
    for (int i = 0; i < 3; ++i) {
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->result_int() == 200);
    }
    const auto seen = upstream.received();
    CHECK(seen.find("POST /2 HTTP/1.1\r\n") != std::string::npos);
    CHECK(seen.find("Content-Length: 3\r\n") != std::string::npos);
}
