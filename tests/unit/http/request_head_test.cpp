#include "core/http/request_head.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace canaryd::http;

namespace {

// Views in the result point into `text`: callers keep it alive (string literals, locals).
HeadParse parse(std::string_view text, HeadLimits limits = {}) { return parse_request_head(text, limits); }

// Expects `text` to be rejected with `status`.
void rejects(const std::string& text, unsigned status, HeadLimits limits = {}) {
    auto p = parse(text, limits);
    INFO("request: " << text);
    REQUIRE(p.state == HeadState::error);
    CHECK(p.error.status == status);
    CHECK_FALSE(p.error.reason.empty());
}

const std::string kGet = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-One: 1\r\n\r\n";

}  // namespace

TEST_CASE("a simple request parses") {
    const std::string input = kGet + "GET /next HTTP/1.1\r\n";
    auto p = parse(input);
    REQUIRE(p.state == HeadState::complete);
    const auto& h = p.head;
    CHECK(h.method == "GET");
    CHECK(h.target == "/a?b=c");
    CHECK(h.origin_target == "/a?b=c");
    CHECK(h.version == 11);
    CHECK(h.host == "example.com");
    CHECK(h.framing == BodyFraming::none);
    CHECK(h.keep_alive);
    CHECK(h.head_bytes == kGet.size());  // pipelined bytes are not part of the head
    CHECK(h.find("x-one") == "1");
    CHECK(h.fields.size() == 2);
}

TEST_CASE("incomplete heads ask for more bytes") {
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n").state == HeadState::incomplete);
    CHECK(parse("GE").state == HeadState::incomplete);
    CHECK(parse("").state == HeadState::incomplete);
}

TEST_CASE("leading empty lines are ignored (RFC 9112 §2.2)") {
    const std::string input = "\r\n\r\n" + kGet;
    auto p = parse(input);
    REQUIRE(p.state == HeadState::complete);
    CHECK(p.head.head_bytes == kGet.size() + 4);
}

TEST_CASE("framing: Content-Length") {
    auto p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
    REQUIRE(p.state == HeadState::complete);
    CHECK(p.head.framing == BodyFraming::content_length);
    CHECK(p.head.content_length == 42);
    auto same = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7, 7\r\n\r\n");
    REQUIRE(same.state == HeadState::complete);
    CHECK(same.head.content_length == 7);
    auto zero = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    CHECK(zero.head.framing == BodyFraming::none);
    for (const char* bad : {"+5", "-1", "0x10", "1 0", "", "5,6", "99999999999999999999", "1.0", "five"}) {
        INFO(bad);
        rejects(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + bad + "\r\n\r\n", 400);
    }
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
}

TEST_CASE("framing: Transfer-Encoding") {
    auto p = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    REQUIRE(p.state == HeadState::complete);
    CHECK(p.head.framing == BodyFraming::chunked);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400);
    rejects("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);  // TE on HTTP/1.0
}

TEST_CASE("field syntax") {
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-Bad : 1\r\n\r\n", 400);     // whitespace before colon
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-Bad\t: 1\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n  b\r\n\r\n", 400);  // obs-fold
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01" "b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-Del: a\x7f\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX\x01Name: 1\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400);
    auto tab = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb  \r\n\r\n");
    REQUIRE(tab.state == HeadState::complete);
    CHECK(tab.head.find("x-tab") == "a\tb");
}

TEST_CASE("line endings: bare LF and bare CR are rejected") {
    rejects("GET / HTTP/1.1\nHost: a\n\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\n\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\nX: 1\r\n", 400);  // detected before the head is complete
    rejects("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

TEST_CASE("Host rules (RFC 9112 §3.2)") {
    rejects("GET / HTTP/1.1\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").state == HeadState::complete);
    CHECK(parse("GET / HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n").state == HeadState::complete);
    auto old = parse("GET / HTTP/1.0\r\n\r\n");  // HTTP/1.0 may omit Host
    REQUIRE(old.state == HeadState::complete);
    CHECK(old.head.version == 10);
    CHECK_FALSE(old.head.keep_alive);
}

TEST_CASE("request targets") {
    for (const char* bad : {"/a#frag", "/a b", "/\x01", "/caf\xc3\xa9", "/a\x7f"}) {
        INFO(bad);
        rejects(std::string("GET ") + bad + " HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    }
    rejects("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);  // double space
    rejects("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    rejects("GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").state == HeadState::complete);
    rejects("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    rejects("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);

    auto absolute = parse("GET http://API.example.com:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n");
    REQUIRE(absolute.state == HeadState::complete);
    CHECK(absolute.head.host == "API.example.com:8080");  // the target's authority wins (RFC 9112 §3.2.2)
    CHECK(absolute.head.origin_target == "/x?y");
    auto bare = parse("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n");
    REQUIRE(bare.state == HeadState::complete);
    CHECK(bare.head.origin_target == "/");
    rejects("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

TEST_CASE("versions") {
    rejects("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    rejects("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    rejects("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
    auto minor = parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n");  // a higher minor is served as 1.1
    REQUIRE(minor.state == HeadState::complete);
    CHECK(minor.head.version == 11);
}

TEST_CASE("limits: 414, 431") {
    HeadLimits limits;
    limits.request_line_bytes = 64;
    limits.header_bytes = 256;
    limits.field_bytes = 100;
    limits.field_count = 3;
    rejects("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, limits);
    rejects("GET /" + std::string(100, 'a'), 414, limits);  // detected before the line ends
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(120, 'v') + "\r\n\r\n", 431, limits);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, limits);
    std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 3; ++i) many += "X-" + std::to_string(i) + ": " + std::string(80, 'v') + "\r\n";
    rejects(many, 431, limits);  // the block passes 256 bytes before it ends
}

TEST_CASE("connection semantics") {
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").head.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
    auto expect = parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
    CHECK(expect.head.expect_continue);
    CHECK_FALSE(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").head.expect_continue);
    rejects("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n", 417);
    auto ws = parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK(ws.head.upgrade);
    CHECK(ws.head.upgrade_protocols == "websocket");
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").head.upgrade);  // not in Connection
}
