#include "core/config/loader.hpp"
#include "core/routing/route_table.hpp"

#include <doctest/doctest.h>

using namespace canaryd;

namespace {

routing::RouteTable table_for(const std::string& routes_yaml) {
    auto result = config::load_config("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n" + routes_yaml);
    for (const auto& e : result.errors) INFO(config::format_error("t", e));
    REQUIRE(result.ok());
    return routing::RouteTable(result.config);
}

std::string matched(const routing::RouteTable& table, std::string_view host, std::string_view path) {
    const int index = table.match(routing::normalize_host(host), path);
    return index < 0 ? "none" : table.config().routes[static_cast<std::size_t>(index)].name;
}

}  // namespace

TEST_CASE("host normalisation") {
    CHECK(routing::normalize_host("API.Example.com:8080") == "api.example.com");
    CHECK(routing::normalize_host("example.com.") == "example.com");
    CHECK(routing::normalize_host("[::1]:8080") == "[::1]");
    CHECK(routing::normalize_host("") == "");
}

TEST_CASE("exact host beats wildcard beats any host") {
    auto table = table_for(R"(
  - name: any
    stable: {version: v1, endpoints: []}
  - name: wild
    match: {host: "*.example.com"}
    stable: {version: v1, endpoints: []}
  - name: deeper-wild
    match: {host: "*.eu.example.com"}
    stable: {version: v1, endpoints: []}
  - name: exact
    match: {host: api.example.com}
    stable: {version: v1, endpoints: []}
)");
    CHECK(matched(table, "api.example.com", "/") == "exact");
    CHECK(matched(table, "API.EXAMPLE.COM:443", "/x") == "exact");
    CHECK(matched(table, "web.example.com", "/") == "wild");
    CHECK(matched(table, "a.b.example.com", "/") == "wild");
    CHECK(matched(table, "x.eu.example.com", "/") == "deeper-wild");
    CHECK(matched(table, "example.com", "/") == "any");  // the wildcard needs a subdomain
    CHECK(matched(table, "other.org", "/") == "any");
    CHECK(matched(table, "", "/") == "any");
}

TEST_CASE("longest path prefix wins within a host") {
    auto table = table_for(R"(
  - name: root
    match: {host: api.example.com}
    stable: {version: v1, endpoints: []}
  - name: v1
    match: {host: api.example.com, path_prefix: /v1}
    stable: {version: v1, endpoints: []}
  - name: uploads
    match: {host: api.example.com, path_prefix: /v1/uploads}
    stable: {version: v1, endpoints: []}
)");
    CHECK(matched(table, "api.example.com", "/") == "root");
    CHECK(matched(table, "api.example.com", "/v1") == "v1");
    CHECK(matched(table, "api.example.com", "/v1/users") == "v1");
    CHECK(matched(table, "api.example.com", "/v1/uploads/42") == "uploads");
    CHECK(matched(table, "api.example.com", "/v2") == "root");
    CHECK(matched(table, "other.example.com", "/v1") == "none");
}

TEST_CASE("a more specific host wins even over a longer prefix elsewhere") {
    auto table = table_for(R"(
  - name: catch-all-long
    match: {path_prefix: /static/images}
    stable: {version: v1, endpoints: []}
  - name: exact
    match: {host: cdn.example.com, path_prefix: /}
    stable: {version: v1, endpoints: []}
)");
    CHECK(matched(table, "cdn.example.com", "/static/images/a.png") == "exact");
    CHECK(matched(table, "www.example.com", "/static/images/a.png") == "catch-all-long");
    CHECK(matched(table, "www.example.com", "/") == "none");
}
