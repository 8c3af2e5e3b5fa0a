// Limits and timeouts (SPEC §4): 414, 431, 413, 408, upstream connect/response timeouts,
// idle keep-alive on both sides.
#include "raw.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace canaryd::test;

namespace {

std::string route_to(const std::string& address, const std::string& defaults = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + address + "]}\n", defaults);
}

unsigned status_of(RawClient& client) {
    auto response = client.read_response();
    return response ? response->result_int() : 0;
}

// A listener whose accept queue is full, so new connections hang in SYN-SENT: the only
// way to provoke a connect timeout on loopback.
class BlackholeListener {
public:
    BlackholeListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd_, 0);
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        // Fill the queue until a connect no longer completes.
        for (int i = 0; i < 16; ++i) {
            const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
            fillers_.push_back(c);
            pollfd p{c, POLLOUT, 0};
            if (::poll(&p, 1, 200) == 0) break;
        }
    }
    ~BlackholeListener() {
        for (int c : fillers_) ::close(c);
        ::close(fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_;
    std::uint16_t port_ = 0;
    std::vector<int> fillers_;
};

}  // namespace

TEST_CASE("request line too long: 414") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(), "defaults: {limits: {request_line_bytes: 1KiB}}\n"));
    RawClient client(proxy.port());
    client.send("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(status_of(client) == 414);
    CHECK(client.closed_by_peer());
    CHECK(upstream.connections() == 0);
}

TEST_CASE("header block too large, a field too large, too many fields: 431") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(),
                         "defaults: {limits: {header_bytes: 4KiB, field_bytes: 1KiB, field_count: 10}}\n"));
    {
        RawClient client(proxy.port());
        std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
        for (int i = 0; i < 8; ++i) head += "X-Pad-" + std::to_string(i) + ": " + std::string(900, 'p') + "\r\n";
        client.send(head + "\r\n");
        CHECK(status_of(client) == 431);
    }
    {
        RawClient client(proxy.port());
        client.send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n");
        CHECK(status_of(client) == 431);
    }
    {
        RawClient client(proxy.port());
        std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
        for (int i = 0; i < 12; ++i) head += "X-" + std::to_string(i) + ": 1\r\n";
        client.send(head + "\r\n");
        CHECK(status_of(client) == 431);
    }
    CHECK(upstream.connections() == 0);
}

TEST_CASE("declared body over the limit: 413 before connecting upstream") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(), "defaults: {limits: {body_bytes: 1KiB}}\n"));
    RawClient client(proxy.port());
    client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n");
    CHECK(status_of(client) == 413);
    CHECK(client.closed_by_peer());
    CHECK(upstream.connections() == 0);
}

TEST_CASE("chunked body passing the limit: 413 and close") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(), "defaults: {limits: {body_bytes: 1KiB}}\n"));
    RawClient client(proxy.port());
    client.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; ++i) client.send("200\r\n" + std::string(512, 'x') + "\r\n");
    CHECK(status_of(client) == 413);
    CHECK(client.closed_by_peer());
}

TEST_CASE("header deadline is absolute: a byte every 200 ms still gets 408") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(), "defaults: {timeouts: {header: 1s}}\n"));
    RawClient client(proxy.port());
    const auto started = std::chrono::steady_clock::now();
    std::atomic<bool> stop{false};
    std::thread dripper([&] {
        const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + std::string(100, 's');
        for (char c : head) {
            if (stop) return;
            client.send(std::string_view(&c, 1));
            std::this_thread::sleep_for(200ms);
        }
    });
    const auto status = status_of(client);
    stop = true;
    dripper.join();
    CHECK(status == 408);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 900ms);
    CHECK(waited < 5s);
}

TEST_CASE("a stalled request body gets 408") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.read_some(5s);
        c.closed_by_peer(5s);
    });
    Proxy proxy(route_to(upstream.address(), "defaults: {timeouts: {body: 1s}}\n"));
    RawClient client(proxy.port());
    client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(status_of(client) == 408);
    CHECK(client.closed_by_peer());
}

TEST_CASE("upstream connect timeout") {
    BlackholeListener blackhole;
    Proxy proxy(route_to(blackhole.address(), "defaults: {timeouts: {connect: 300ms}}\n"));
    RawClient client(proxy.port());
    const auto started = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 502);
    CHECK(response->body().find("timed out") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("upstream response timeout: 504") {
    RawUpstream upstream([](RawConnection& c) {
        if (c.read_head().empty()) return;
        c.closed_by_peer(10s);  // never answers
    });
    Proxy proxy(route_to(upstream.address(), "defaults: {timeouts: {upstream_response: 1s}}\n"));
    RawClient client(proxy.port());
    const auto started = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(status_of(client) == 504);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 900ms);
    CHECK(waited < 5s);
}

TEST_CASE("idle keep-alive timeout on the client side") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy(route_to(upstream.address(), "defaults: {timeouts: {idle: 1s}}\n"));
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(status_of(client) == 200);
    const auto started = std::chrono::steady_clock::now();
    CHECK(client.closed_by_peer());
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 800ms);
    CHECK(waited < 5s);
}

TEST_CASE("idle pooled upstream connections are not reused after the idle timeout") {
    RawUpstream upstream(RawUpstream::simple_ok());
    Proxy proxy("threads: 1\nlisteners:\n  - address: 127.0.0.1:0\ndefaults: {timeouts: {idle: 1s}}\nroutes:\n"
                "  - name: api\n    stable: {version: v1, endpoints: [" + upstream.address() + "]}\n");
    {
        RawClient client(proxy.port());
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(status_of(client) == 200);
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(status_of(client) == 200);
    }
    CHECK(upstream.connections() == 1);
    std::this_thread::sleep_for(1500ms);
    RawClient client(proxy.port());
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(status_of(client) == 200);
    CHECK(upstream.connections() == 2);
}
