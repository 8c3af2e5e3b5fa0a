#include "core/http/field_lines.hpp"
#include "core/http/response_head.hpp"
#include "core/http/response_parser.hpp"

#include <doctest/doctest.h>

using namespace canaryd::http;

namespace {

ResponseParse parse(std::string_view text, bool head_request = false) {
    ResponseParse out;
    parse_response_head(text, 64 * 1024, head_request, out);
    return out;
}

}  // namespace

TEST_CASE("response heads: status, reason, fields, head length") {
    const std::string text = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabcNEXT";
    auto p = parse(text);
    REQUIRE(p.state == HeadState::complete);
    CHECK(p.head.status == 404);
    CHECK(p.head.reason == "Not Found");
    CHECK(p.head.fields.size() == 2);
    CHECK(p.head.framing == ResponseFraming::content_length);
    CHECK(p.head.content_length == 3);
    CHECK(p.head.head_bytes == text.size() - 7);
    CHECK(p.head.keep_alive);
    auto empty_reason = parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    REQUIRE(empty_reason.state == HeadState::complete);
    CHECK(empty_reason.head.reason.empty());
    CHECK(empty_reason.head.framing == ResponseFraming::none);
    CHECK(parse("HTTP/1.1 200\r\n\r\n").state == HeadState::complete);  // no reason, no SP
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Le").state == HeadState::incomplete);
}

TEST_CASE("response framing follows RFC 9112 §6.3") {
    CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").head.framing == ResponseFraming::chunked);
    auto until_close = parse("HTTP/1.1 200 OK\r\n\r\n");
    CHECK(until_close.head.framing == ResponseFraming::until_close);
    CHECK_FALSE(until_close.head.keep_alive);  // the connection must close to end the body
    CHECK(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").head.framing == ResponseFraming::none);
    CHECK(parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n").head.framing == ResponseFraming::none);
    CHECK(parse("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n").head.framing == ResponseFraming::none);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true).head.framing == ResponseFraming::none);  // HEAD
    CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").head.keep_alive);
    CHECK_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").head.keep_alive);
    CHECK(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n").head.keep_alive);
    auto upgrade = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
    CHECK(upgrade.head.upgrade == "websocket");
}

TEST_CASE("ambiguous or invalid upstream responses are errors") {
    for (const char* bad : {
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
             "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
             "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
             "HTTP/2 200 OK\r\n\r\n",
             "HTTP/1.1 2000 OK\r\n\r\n",
             "HTTP/1.1 099 Odd\r\n\r\n",
             "HELLO\r\n\r\n",
             "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
         }) {
        INFO(bad);
        auto p = parse(bad);
        CHECK(p.state == HeadState::error);
        CHECK_FALSE(p.error.empty());
    }
    ResponseParse big;
    parse_response_head(std::string("HTTP/1.1 200 OK\r\nX: ") + std::string(5000, 'x'), 1024, false, big);
    CHECK(big.state == HeadState::error);
}

TEST_CASE("the client head: hop-by-hop dropped, Via and request id added, framing stated") {
    auto p = parse("HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\n"
                   "Via: 1.1 edge\r\nContent-Length: 2\r\nX-Public: y\r\n\r\n");
    REQUIRE(p.state == HeadState::complete);
    std::string out;
    ClientHeadOptions options;
    options.request_id = "rid";
    options.framing = ClientFraming::content_length;
    append_client_head(out, p.head.status, p.head.reason, p.head.fields, options);
    CHECK(out == "HTTP/1.1 200 OK\r\nVia: 1.1 edge, 1.1 canaryd\r\nContent-Length: 2\r\nX-Public: y\r\nX-Request-Id: rid\r\n\r\n");
    std::string chunked;
    options.framing = ClientFraming::chunked;
    options.keep_alive = false;
    append_client_head(chunked, 200, "OK", p.head.fields, options);
    CHECK(chunked.find("Content-Length") == std::string::npos);
    CHECK(chunked.find("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n") != std::string::npos);
    std::string old;
    options.version = 10;
    options.keep_alive = true;
    options.framing = ClientFraming::content_length;
    append_client_head(old, 200, "OK", p.head.fields, options);
    CHECK(old.starts_with("HTTP/1.0 200 OK\r\n"));
    CHECK(old.find("Connection: keep-alive\r\n") != std::string::npos);
}
