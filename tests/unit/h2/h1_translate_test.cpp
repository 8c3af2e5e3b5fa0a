#include "core/h2/h1_translate.hpp"

#include "core/http/request_head.hpp"

#include <doctest/doctest.h>

using namespace canaryd;

TEST_CASE("h2 -> HTTP/1.1: the request line and Host from the pseudo-fields, cookies joined, one exchange") {
    auto request = h2::h1_request({{":method", "GET"}, {":scheme", "https"}, {":authority", "api.example.com"},
                                   {":path", "/a?b=1"}, {"cookie", "a=1"}, {"accept", "*/*"}, {"cookie", "b=2"},
                                   {"te", "trailers"}},
                                  true);
    REQUIRE(request.ok());
    CHECK_FALSE(request->chunked_body);
    CHECK(request->head.starts_with("GET /a?b=1 HTTP/1.1\r\nHost: api.example.com\r\n"));
    CHECK(request->head.find("accept: */*\r\n") != std::string::npos);
    CHECK(request->head.find("cookie: a=1; b=2\r\n") != std::string::npos);  // RFC 9113 §8.2.3
    CHECK(request->head.find("te:") == std::string::npos);
    CHECK(request->head.ends_with("Connection: close\r\n\r\n"));
    // What canaryd's HTTP/1.1 parser makes of it: a valid request.
    http::HeadLimits limits;
    auto parsed = http::parse_request_head(request->head, limits);
    REQUIRE(parsed.state == http::HeadState::complete);
    CHECK(parsed.head.host == "api.example.com");
    CHECK(parsed.head.origin_target == "/a?b=1");
}

TEST_CASE("h2 -> HTTP/1.1: a body without content-length is chunked, with content-length it is not") {
    auto chunked = h2::h1_request({{":method", "POST"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}}, false);
    REQUIRE(chunked.ok());
    CHECK(chunked->chunked_body);
    CHECK(chunked->head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    auto sized = h2::h1_request(
        {{":method", "POST"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {"content-length", "3"}}, false);
    CHECK_FALSE(sized->chunked_body);
    std::string body;
    h2::append_chunk(body, "hello");
    h2::append_chunk(body, "");  // never an empty chunk: that would end the body
    h2::append_chunk(body, std::string(300, 'x'));
    h2::append_last_chunk(body, {{"x-checksum", "abc"}});
    CHECK(body.starts_with("5\r\nhello\r\n12c\r\n"));
    CHECK(body.ends_with("0\r\nx-checksum: abc\r\n\r\n"));
}

TEST_CASE("h2 -> HTTP/1.1: what cannot be an HTTP/1.1 request is an error") {
    CHECK_FALSE(h2::h1_request({{":scheme", "http"}, {":authority", "a"}, {":path", "/"}}, true).ok());
    CHECK_FALSE(h2::h1_request({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}}, true).ok());  // no host
    CHECK(h2::h1_request({{":method", "CONNECT"}, {":authority", "a:443"}}, true).message().find("CONNECT") != std::string::npos);
    CHECK_FALSE(h2::h1_request({{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {"x", "a\r\nb: c"}},
                               true)
                    .ok());
    CHECK_FALSE(h2::h1_request({{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {":protocol", "ws"}},
                               true)
                    .ok());
    // A host field stands in for a missing :authority, never beside one.
    auto host_only = h2::h1_request({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "b"}}, true);
    REQUIRE(host_only.ok());
    CHECK(host_only->head.find("host: b\r\n") != std::string::npos);
    auto both = h2::h1_request({{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {"host", "b"}}, true);
    CHECK(both->head.find("host: b") == std::string::npos);
}

TEST_CASE("HTTP/1.1 -> h2: :status first, lower-case names, no connection-specific fields") {
    std::string text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5\r\n"
                       "X-Hop: 1\r\nTransfer-Encoding: chunked\r\nX-Request-Id: r1\r\n\r\n";
    http::ResponseParse parse;
    http::parse_response_head(text, 64 * 1024, false, parse);
    REQUIRE(parse.state == http::HeadState::complete);
    const auto fields = h2::h2_response_fields(parse.head);
    REQUIRE(fields.size() == 3);
    CHECK(fields[0] == std::pair<std::string, std::string>{":status", "200"});
    CHECK(fields[1] == std::pair<std::string, std::string>{"content-type", "text/plain"});
    CHECK(fields[2] == std::pair<std::string, std::string>{"x-request-id", "r1"});
}

TEST_CASE("HTTP/1.1 -> h2 upstream: the request's fields, and the stream's response as the HTTP/1.1 canaryd's engine reads") {
    const std::string text = "POST /pkg.Svc/Call HTTP/1.1\r\nHost: backend:50051\r\nContent-Type: application/grpc\r\n"
                             "TE: trailers\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nX-Request-Id: r1\r\n\r\n";
    http::HeadLimits limits;
    auto parsed = http::parse_request_head(text, limits);
    REQUIRE(parsed.state == http::HeadState::complete);
    const auto fields = h2::h2_request_fields(parsed.head, false);
    const h2::HeaderList expected{{":method", "POST"},   {":scheme", "http"},   {":authority", "backend:50051"},
                                  {":path", "/pkg.Svc/Call"}, {"content-type", "application/grpc"}, {"te", "trailers"},
                                  {"x-request-id", "r1"}};
    CHECK(fields == expected);

    const auto head = h2::h1_response_head({{":status", "200"}, {"content-type", "application/grpc"}, {"connection", "x"}}, true);
    CHECK(head == "HTTP/1.1 200 \r\ncontent-type: application/grpc\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    http::ResponseParse response;
    http::parse_response_head(head, 64 * 1024, false, response);
    REQUIRE(response.state == http::HeadState::complete);  // an empty reason phrase is valid (RFC 9112 §4)
    CHECK(response.head.status == 200);
    CHECK(response.head.framing == http::ResponseFraming::chunked);
    CHECK(h2::h1_response_head({{":status", "204"}}, false) == "HTTP/1.1 204 \r\nConnection: close\r\n\r\n");
    CHECK(h2::h1_response_head({{":status", "200"}, {"content-length", "5"}}, true).find("chunked") == std::string::npos);
}
