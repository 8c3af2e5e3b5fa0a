#include "core/http/request_head.hpp"
#include "core/http/response_framing.hpp"
#include "core/http/upstream_request.hpp"

#include <doctest/doctest.h>

using namespace canaryd::http;

namespace {

std::string upstream_head_of(const std::string& request, ForwardInfo info = {}) {
    auto p = parse_request_head(request, HeadLimits{});
    REQUIRE(p.state == HeadState::complete);
    if (info.peer_ip.empty()) info.peer_ip = "10.1.2.3";
    if (info.scheme.empty()) info.scheme = "http";
    if (info.request_id.empty()) info.request_id = "rid-1";
    return build_upstream_head(p.head, info);
}

}  // namespace

TEST_CASE("hop-by-hop fields are removed, including those named by Connection") {
    const auto head = upstream_head_of(
        "GET /x HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, X-Secret, Host, Content-Length\r\n"
        "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\n"
        "Upgrade: websocket\r\nX-Secret: s\r\nX-Kept: k\r\n\r\n");
    CHECK(head.starts_with("GET /x HTTP/1.1\r\nHost: a.example\r\n"));
    CHECK(head.find("X-Kept: k\r\n") != std::string::npos);
    for (const char* gone : {"Connection:", "Keep-Alive:", "Proxy-Connection:", "TE:", "Trailer:", "Upgrade:", "X-Secret:"}) {
        INFO(gone);
        CHECK(head.find(gone) == std::string::npos);
    }
    CHECK(head.ends_with("\r\n\r\n"));
}

TEST_CASE("forwarding fields are appended or set") {
    const auto head = upstream_head_of(
        "GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
        "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nVia: 1.0 edge\r\nX-Request-Id: client-id\r\n\r\n");
    CHECK(head.find("X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.1.2.3\r\n") != std::string::npos);
    CHECK(head.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
    CHECK(head.find("X-Forwarded-Host: a.example\r\n") != std::string::npos);
    CHECK(head.find("evil") == std::string::npos);
    CHECK(head.find("https") == std::string::npos);
    CHECK(head.find("Via: 1.0 edge, 1.1 canaryd\r\n") != std::string::npos);
    CHECK(head.find("X-Request-Id: rid-1\r\n") != std::string::npos);
    CHECK(head.find("client-id") == std::string::npos);
}

TEST_CASE("framing is re-stated from what canaryd parsed") {
    const auto chunked = upstream_head_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(chunked.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    const auto sized = upstream_head_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n");
    CHECK(sized.find("Content-Length: 7\r\n") != std::string::npos);
    CHECK(sized.find("7, 7") == std::string::npos);
    const auto expect = upstream_head_of("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    CHECK(expect.find("Expect: 100-continue\r\n") != std::string::npos);
    const auto old = upstream_head_of("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
                                      ForwardInfo{"10.1.2.3", "http", "rid", "backend:80", false});
    CHECK(old.find("Expect") == std::string::npos);
    CHECK(old.find("Host: backend:80\r\n") != std::string::npos);
    CHECK(old.starts_with("PUT / HTTP/1.1\r\n"));
}

TEST_CASE("absolute-form targets become origin-form with the authority as Host") {
    const auto head = upstream_head_of("GET http://api.example/p?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n");
    CHECK(head.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: api.example\r\n"));
    CHECK(head.find("ignored") == std::string::npos);
}

TEST_CASE("Upgrade is forwarded only on the upgrade path") {
    const std::string ws = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    const auto plain = upstream_head_of(ws);
    CHECK(plain.find("Upgrade") == std::string::npos);
    ForwardInfo info;
    info.upgrade = true;
    const auto upgraded = upstream_head_of(ws, info);
    CHECK(upgraded.find("Connection: upgrade\r\nUpgrade: websocket\r\n") != std::string::npos);
}

TEST_CASE("request ids") {
    CHECK(is_acceptable_request_id("abc-123"));
    CHECK_FALSE(is_acceptable_request_id(""));
    CHECK_FALSE(is_acceptable_request_id("a b"));
    CHECK_FALSE(is_acceptable_request_id(std::string(201, 'a')));
    const auto id = format_request_id(0x0123456789abcdefull, 0xfedcba9876543210ull);
    CHECK(id == "01234567-89ab-4def-bedc-ba9876543210");
}

TEST_CASE("upstream response framing checks") {
    std::vector<Field> ok{{"Content-Length", "5"}};
    CHECK(check_response_framing(ok).empty());
    std::vector<Field> chunked{{"Transfer-Encoding", "chunked"}};
    CHECK(check_response_framing(chunked).empty());
    std::vector<Field> both{{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}};
    CHECK_FALSE(check_response_framing(both).empty());
    std::vector<Field> conflicting{{"Content-Length", "5"}, {"Content-Length", "6"}};
    CHECK_FALSE(check_response_framing(conflicting).empty());
    std::vector<Field> bad_length{{"Content-Length", "-5"}};
    CHECK_FALSE(check_response_framing(bad_length).empty());
    std::vector<Field> gzip{{"Transfer-Encoding", "gzip, chunked"}};
    CHECK_FALSE(check_response_framing(gzip).empty());
    std::vector<Field> twice{{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}};
    CHECK_FALSE(check_response_framing(twice).empty());
}
