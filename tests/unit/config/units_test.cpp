#include "core/config/units.hpp"

#include <doctest/doctest.h>

using namespace canaryd::config;

TEST_CASE("durations") {
    CHECK(parse_duration("250ms").value() == Duration{250});
    CHECK(parse_duration("5s").value() == Duration{5'000});
    CHECK(parse_duration("1m").value() == Duration{60'000});
    CHECK(parse_duration("1m30s").value() == Duration{90'000});
    CHECK(parse_duration("2h").value() == Duration{7'200'000});
    CHECK(parse_duration("0").value() == Duration{0});
    CHECK(parse_duration("0s").value() == Duration{0});
    for (const char* bad : {"", "5", "s", "5x", "-1s", "1.5s", "5 s", "99999999999999999999s", "9999h"}) {
        INFO(bad);
        auto parsed = parse_duration(bad);
        CHECK_FALSE(parsed.ok());
        CHECK_FALSE(parsed.message().empty());
    }
}

TEST_CASE("sizes") {
    CHECK(parse_size("64KiB").value() == 65'536u);
    CHECK(parse_size("512MiB").value() == 512ull << 20);
    CHECK(parse_size("1GiB").value() == 1ull << 30);
    CHECK(parse_size("100MB").value() == 100'000'000u);
    CHECK(parse_size("123").value() == 123u);
    CHECK(parse_size("7B").value() == 7u);
    for (const char* bad : {"", "KiB", "64kib", "64 KiB", "-1", "1.5MiB", "99999999999TiB"}) {
        INFO(bad);
        CHECK_FALSE(parse_size(bad).ok());
    }
}

TEST_CASE("weights are basis points with at most two decimals") {
    CHECK(parse_weight_bp("0").value() == 0u);
    CHECK(parse_weight_bp("10").value() == 1'000u);
    CHECK(parse_weight_bp("12.5").value() == 1'250u);
    CHECK(parse_weight_bp("0.01").value() == 1u);
    CHECK(parse_weight_bp("99.99").value() == 9'999u);
    CHECK(parse_weight_bp("100").value() == 10'000u);
    CHECK(parse_weight_bp("10%").value() == 1'000u);
    CHECK(parse_weight_bp("12.500").value() == 1'250u);
    CHECK(parse_weight_bp("0.001").message().find("two decimals") != std::string::npos);
    CHECK(parse_weight_bp("100.01").message().find("out of range") != std::string::npos);
    for (const char* bad : {"", "-1", "ten", "1e1", "5.", ".5", "101"}) {
        INFO(bad);
        CHECK_FALSE(parse_weight_bp(bad).ok());
    }
    CHECK(format_weight_percent(1'250) == "12.5");
    CHECK(format_weight_percent(1) == "0.01");
    CHECK(format_weight_percent(10'000) == "100");
}

TEST_CASE("host:port addresses") {
    auto a = parse_host_port("10.0.0.1:8080", false);
    REQUIRE(a.ok());
    CHECK(a->host == "10.0.0.1");
    CHECK(a->port == 8080);
    auto b = parse_host_port("[::1]:9901", false);
    REQUIRE(b.ok());
    CHECK(b->host == "::1");
    CHECK(b->to_string() == "[::1]:9901");
    CHECK(parse_host_port("Backend.Local:80", false)->host == "backend.local");
    CHECK(parse_host_port("127.0.0.1:0", true).ok());
    CHECK_FALSE(parse_host_port("127.0.0.1:0", false).ok());
    for (const char* bad : {"", "host", ":80", "host:", "host:65536", "host:8o", "::1:80", "a b:80", "[::1]80"}) {
        INFO(bad);
        CHECK_FALSE(parse_host_port(bad, false).ok());
    }
    CHECK(is_loopback_host("127.0.0.1"));
    CHECK(is_loopback_host("::1"));
    CHECK(is_loopback_host("localhost"));
    CHECK_FALSE(is_loopback_host("0.0.0.0"));
    CHECK_FALSE(is_loopback_host("10.0.0.1"));
}

TEST_CASE("parse_http_url: RFC 3986 through Boost.URL, narrowed to plain http with a host") {
    auto ok = [](const char* text) {
        auto r = parse_http_url(text);
        INFO(text << ": " << (r ? std::string() : r.message()));
        REQUIRE(r.ok());
        return *r;
    };
    auto u = ok("http://127.0.0.1:9100/metrics");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 9100);
    CHECK(u.target == "/metrics");
    u = ok("http://Backend.Local/stats?format=prometheus");
    CHECK(u.host == "backend.local");
    CHECK(u.port == 80);
    CHECK(u.target == "/stats?format=prometheus");
    u = ok("http://[::1]:8080");
    CHECK(u.host == "::1");
    CHECK(u.target == "/");
    for (const char* bad : {"https://h/metrics", "ftp://h/", "h:80/metrics", "http:///metrics", "http://user:pw@h/",
                            "http://h/metrics#top", "http://h:0/", "http://h:99999/", "http://h/a b", "http://h\r\n/"}) {
        INFO(bad);
        CHECK_FALSE(parse_http_url(bad).ok());
    }
    CHECK(parse_http_url("https://h/").message().find("https") != std::string::npos);
}
