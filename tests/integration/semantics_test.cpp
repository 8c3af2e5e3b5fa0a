// HTTP semantics across the proxy (SPEC §4): hop-by-hop fields, streaming bodies both ways,
// re-framing, HEAD/1xx/204/304, Expect: 100-continue and Upgrade tunnels.
#include "raw.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <future>
#include <numeric>

using namespace canaryd::test;

namespace {

std::string route_to(const RawUpstream& upstream, const std::string& defaults = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + upstream.address() + "]}\n",
                              defaults);
}

// A deterministic body of `size` bytes and its checksum (a simple running hash is enough to
// catch a lost, duplicated or reordered byte).
std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return out;
}

std::uint64_t checksum(std::string_view data) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string dechunk(std::string_view chunked) {
    std::string out;
    while (true) {
        const auto eol = chunked.find("\r\n");
        const auto size = std::stoull(std::string(chunked.substr(0, eol)), nullptr, 16);
        if (size == 0) return out;
        out.append(chunked.substr(eol + 2, size));
        chunked.remove_prefix(eol + 2 + size + 2);
    }
}

}  // namespace

TEST_CASE("hop-by-hop fields are removed in both directions") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.empty()) return;
        c.send("HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n"
               "Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Public: 1\r\nContent-Length: 2\r\n\r\nok");
        c.read_head();
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Client-Secret, Host, X-Forwarded-For\r\n"
                "X-Client-Secret: s\r\nKeep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 200);
    CHECK(response->find("x-internal") == response->end());
    CHECK(response->find("keep-alive") == response->end());
    CHECK(response->find("proxy-connection") == response->end());
    CHECK(response->find("trailer") == response->end());
    CHECK(response->find("upgrade") == response->end());
    CHECK((*response)["x-public"] == "1");
    const auto seen = upstream.received();
    CHECK(seen.find("X-Client-Secret") == std::string::npos);
    CHECK(seen.find("Keep-Alive") == std::string::npos);
    CHECK(seen.find("TE:") == std::string::npos);
    CHECK(seen.find("Proxy-Connection") == std::string::npos);
    CHECK(seen.find("Host: a\r\n") != std::string::npos);             // protected from Connection
    CHECK(seen.find("X-Forwarded-For: 127.0.0.1") != std::string::npos);  // idem
}

TEST_CASE("a large upload streams through intact, before the client has finished") {
    const std::string body = pattern(24 << 20);
    std::atomic<std::size_t> seen_before_rest{0};
    std::atomic<bool> rest_sent{false};
    std::atomic<std::uint64_t> upstream_sum{0};
    RawUpstream upstream([&](RawConnection& c) {
        const auto head = c.read_head();
        if (head.empty()) return;
        std::string got = c.read_exact(1 << 20);
        if (!rest_sent) seen_before_rest = got.size();
        got += c.read_exact(body.size() - got.size());
        upstream_sum = checksum(got);
        c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(got.size()) + "\r\n\r\n" + got);
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port(), 30s);
    client.send("PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    client.send(std::string_view(body).substr(0, 2 << 20));
    // The upstream must get the first MiB while the client still holds back the rest; wait for
    // it with a bound generous enough for a loaded sanitizer build.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (seen_before_rest.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    rest_sent = true;
    client.send(std::string_view(body).substr(2 << 20));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(seen_before_rest.load() == (1u << 20));
    CHECK(upstream_sum.load() == checksum(body));
    CHECK(checksum(response->body()) == checksum(body));
}

TEST_CASE("a chunked upload is re-encoded intact") {
    const std::string body = pattern(3 << 20);
    RawUpstream upstream([&](RawConnection& c) {
        const auto head = c.read_head();
        const auto raw = c.read_body_for(head);
        const auto decoded = dechunk(raw);
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + std::to_string(checksum(decoded)).substr(0, 20) +
               std::string(20 - std::min<std::size_t>(20, std::to_string(checksum(decoded)).size()), ' '));
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port(), 30s);
    std::string request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t at = 0; at < body.size(); at += 100'000) {
        const auto piece = std::string_view(body).substr(at, 100'000);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", piece.size());
        request.append(size).append(";note=x\r\n").append(piece).append("\r\n");
    }
    request += "0\r\n\r\n";
    client.send(request);
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->body().substr(0, std::to_string(checksum(body)).size()) == std::to_string(checksum(body)));
}

TEST_CASE("a large download streams to the client before the upstream has finished") {
    const std::string body = pattern(16 << 20);
    std::atomic<bool> release{false};
    RawUpstream upstream([&](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
        c.send(std::string_view(body).substr(0, 1 << 20));
        for (int i = 0; i < 200 && !release; ++i) std::this_thread::sleep_for(10ms);
        c.send(std::string_view(body).substr(1 << 20));
        c.read_head();
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port(), 30s);
    client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    // The first MiB arrives while the upstream still holds the rest back.
    auto response_future = std::async(std::launch::async, [&] { return client.read_response(); });
    std::this_thread::sleep_for(500ms);
    CHECK(response_future.wait_for(0s) != std::future_status::ready);
    release = true;
    auto response = response_future.get();
    REQUIRE(response);
    CHECK(response->body().size() == body.size());
    CHECK(checksum(response->body()) == checksum(body));
}

TEST_CASE("chunked responses stay chunked, close-delimited ones are re-framed and keep-alive survives") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.find("/chunked") != std::string::npos) {
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
            c.read_head();
        } else {
            c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
            c.close();
        }
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");
    auto chunked = client.read_response();
    REQUIRE(chunked);
    CHECK(chunked->chunked());
    CHECK(chunked->body() == "hello world");
    client.send("GET /eof HTTP/1.1\r\nHost: a\r\n\r\n");
    auto reframed = client.read_response();
    REQUIRE(reframed);
    CHECK(reframed->chunked());
    CHECK(reframed->body() == "until close");
    client.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");  // the client connection is still open
    auto again = client.read_response();
    REQUIRE(again);
    CHECK(again->body() == "hello world");
}

TEST_CASE("HTTP/1.0 clients get close-delimited bodies instead of chunked") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        c.read_head();
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.0\r\n\r\n");
    bool closed = false;
    const auto raw = client.read_until_close(&closed);
    CHECK(closed);
    CHECK(raw.starts_with("HTTP/1.0 200 OK\r\n"));
    CHECK(raw.find("chunked") == std::string::npos);
    CHECK(raw.ends_with("\r\n\r\nhello"));
}

TEST_CASE("HEAD, 204 and 304 carry no body and keep-alive still works after each") {
    std::atomic<int> body_reads{0};
    RawUpstream upstream([&](RawConnection& c) {
        while (true) {
            const auto head = c.read_head();
            if (head.empty()) return;
            if (head.starts_with("HEAD")) c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            else if (head.find("/204") != std::string::npos) c.send("HTTP/1.1 204 No Content\r\n\r\n");
            else if (head.find("/304") != std::string::npos) c.send("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
            else c.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
            ++body_reads;
        }
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto head = client.read_response(true);
    REQUIRE(head);
    CHECK((*head)[bhttp::field::content_length] == "1000");
    for (const char* path : {"/204", "/304", "/after"}) {
        client.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        auto r = client.read_response();
        INFO(path);
        REQUIRE(r);
        if (std::string(path) == "/after") CHECK(r->body() == "body");
        else CHECK(r->body().empty());
    }
    CHECK(upstream.connections() == 1);  // one upstream connection served all four
}

TEST_CASE("1xx informational responses are relayed before the final one") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        c.read_head();
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto hints = client.read_response();
    REQUIRE(hints);
    CHECK(hints->result_int() == 103);
    CHECK((*hints)["link"] == "</style.css>; rel=preload");
    auto final_response = client.read_response();
    REQUIRE(final_response);
    CHECK(final_response->result_int() == 200);
    CHECK(final_response->body() == "ok");
}

// A client that sends "Expect: 100-continue" gets exactly one 100, sends its body, and
// gets the upstream's echo of it.
void expect_one_continue_then_echo(const RawUpstream& upstream) {
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    auto interim = client.read_response();
    REQUIRE(interim);
    CHECK(interim->result_int() == 100);
    client.send("hello");
    auto final_response = client.read_response();
    REQUIRE(final_response);
    CHECK(final_response->result_int() == 200);
    CHECK(final_response->body() == "hello");
}

TEST_CASE("Expect: 100-continue end to end: one 100, then the body goes up") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.empty()) return;
        CHECK(head.find("Expect: 100-continue") != std::string::npos);
        CHECK(c.read_some(300ms).empty());  // no body before the 100
        c.send("HTTP/1.1 100 Continue\r\n\r\n");
        const auto body = c.read_exact(5);
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + body);
        c.read_head();
    });
    expect_one_continue_then_echo(upstream);
}

TEST_CASE("Expect: 100-continue answered with a final status: no body goes up") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope");
        std::this_thread::sleep_for(500ms);
        c.read_some(100ms);
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 401);
    client.send("hello");  // a client that sends anyway
    std::this_thread::sleep_for(300ms);
    const auto seen = upstream.received();
    CHECK(seen.find("hello") == std::string::npos);
}

TEST_CASE("Expect: 100-continue with an upstream that ignores it: canaryd sends the one 100") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.empty()) return;
        const auto body = c.read_exact(5);  // a naive server just waits for the body
        // ...and then says 100 late anyway, which must not reach the client twice.
        c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + body);
        c.read_head();
    });
    expect_one_continue_then_echo(upstream);
}

TEST_CASE("Upgrade: a real 101 becomes a two-way tunnel") {
    RawUpstream upstream([](RawConnection& c) {
        const auto head = c.read_head();
        if (head.empty()) return;
        CHECK(head.find("Upgrade: websocket") != std::string::npos);
        CHECK(head.find("Connection: upgrade") != std::string::npos);
        c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nserver-first");
        for (int i = 0; i < 3; ++i) {
            auto bytes = c.read_some(5s);
            if (bytes.empty()) return;
            c.send("echo:" + bytes);
        }
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    auto switching = client.read_response();
    REQUIRE(switching);
    CHECK(switching->result_int() == 101);
    CHECK((*switching)[bhttp::field::upgrade] == "websocket");
    std::string got = client.read_available(2s);
    for (int i = 0; i < 20 && got.find("server-first") == std::string::npos; ++i) got += client.read_available(200ms);
    CHECK(got == "server-first");  // bytes sent right behind the 101 are relayed
    client.send("ping");
    got.clear();
    for (int i = 0; i < 20 && got.find("echo:ping") == std::string::npos; ++i) got += client.read_available(200ms);
    CHECK(got == "echo:ping");
    client.send("pong");
    got.clear();
    for (int i = 0; i < 20 && got.find("echo:pong") == std::string::npos; ++i) got += client.read_available(200ms);
    CHECK(got == "echo:pong");
}

TEST_CASE("an idle tunnel is closed after timeouts.tunnel_idle") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
        c.closed_by_peer(10s);
    });
    Proxy proxy(route_to(upstream, "defaults: {timeouts: {tunnel_idle: 1s}}\n"));
    RawClient client(proxy.port());
    client.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    auto switching = client.read_response();
    REQUIRE(switching);
    CHECK(switching->result_int() == 101);
    const auto started = std::chrono::steady_clock::now();
    CHECK(client.closed_by_peer());
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 800ms);
    CHECK(waited < 8s);
}

TEST_CASE("Upgrade refused by the upstream stays HTTP") {
    RawUpstream upstream([](RawConnection& c) {
        while (true) {
            const auto head = c.read_head();
            if (head.empty()) return;
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno");
        }
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 200);
    client.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
    auto again = client.read_response();
    REQUIRE(again);
    CHECK(again->body() == "no");
}

TEST_CASE("a 101 without an upgrade request is a 502") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
        c.read_some(1s);
    });
    Proxy proxy(route_to(upstream));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 502);
}
