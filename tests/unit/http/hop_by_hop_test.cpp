#include "core/http/error_page.hpp"
#include "core/http/hop_by_hop.hpp"

#include <doctest/doctest.h>

using namespace canaryd::http;

TEST_CASE("fixed hop-by-hop fields (RFC 9110 §7.6.1)") {
    HopByHopFilter filter;
    for (const char* name : {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer", "Upgrade",
                             "Transfer-Encoding"})
        CHECK(filter.drops(name));
    CHECK_FALSE(filter.drops("Content-Type"));
    CHECK_FALSE(filter.drops("Host"));
}

TEST_CASE("fields named by Connection are dropped, except the protected ones") {
    HopByHopFilter filter;
    filter.add_connection_value("close, X-Secret ,x-other");
    filter.add_connection_value("Host, Content-Length, X-Forwarded-For");
    CHECK(filter.drops("x-secret"));
    CHECK(filter.drops("X-OTHER"));
    CHECK(filter.connection_has("close"));
    CHECK_FALSE(filter.connection_has("keep-alive"));
    CHECK_FALSE(filter.drops("host"));
    CHECK_FALSE(filter.drops("content-length"));
    CHECK_FALSE(filter.drops("x-forwarded-for"));
    CHECK_FALSE(filter.drops("x-unrelated"));
}

TEST_CASE("error pages name the status and the reason") {
    CHECK(error_body(502, "upstream refused the connection") == "502 Bad Gateway: upstream refused the connection\n");
    CHECK(error_body(404, "") == "404 Not Found\n");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
}
