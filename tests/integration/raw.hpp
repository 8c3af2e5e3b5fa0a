// Raw-socket test peers (POSIX, blocking, with receive timeouts so a bug fails a test
// instead of hanging it): a client that sends exact bytes, and a deliberately lenient
// upstream — like a naive app server — that records every byte it receives, so a request
// smuggled past canaryd would become visible.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace canaryd::test {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

class RawClient {
public:
    explicit RawClient(std::uint16_t port, std::chrono::milliseconds receive_timeout = 10s);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    void send(std::string_view bytes);
    // One response, parsed; nullopt on EOF, timeout or a parse error. 1xx responses are
    // returned on their own.
    std::optional<bhttp::response<bhttp::string_body>> read_response(bool head_request = false);
    // Everything until the peer closes (or the timeout); `closed` tells which.
    std::string read_until_close(bool* closed = nullptr);
    // Whatever arrives within `wait` (maybe nothing).
    std::string read_available(std::chrono::milliseconds wait);
    // True when the peer closed (EOF or reset) with nothing more to read, within the timeout.
    bool closed_by_peer();
    void shutdown_write();

private:
    bool fill();  // one recv into pending_
    int fd_ = -1;
    std::string pending_;
};

// One accepted connection of the lenient upstream.
class RawConnection {
public:
    explicit RawConnection(int fd, std::function<void(std::string_view)> record);
    ~RawConnection();

    // The next request head (up to and including the blank line), or "" at EOF/timeout.
    std::string read_head();
    // Exactly n bytes, or fewer at EOF/timeout.
    std::string read_exact(std::size_t n);
    // Whatever arrives within `wait` (maybe nothing).
    std::string read_some(std::chrono::milliseconds wait);
    // A naive body read: Content-Length if present, else a chunked body read to "0\r\n\r\n".
    std::string read_body_for(const std::string& head);
    void send(std::string_view bytes);
    void close();
    bool closed_by_peer(std::chrono::milliseconds wait);

private:
    bool fill(std::chrono::milliseconds wait);
    int fd_;
    std::string pending_;
    std::function<void(std::string_view)> record_;
};

class RawUpstream {
public:
    using Handler = std::function<void(RawConnection&)>;
    explicit RawUpstream(Handler handler);
    ~RawUpstream();

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string received() const;  // every byte received, all connections, in arrival order
    int connections() const { return connections_.load(); }

    // Answers each request with 200 "ok" (reading a naive body), keep-alive.
    static Handler simple_ok();

private:
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    Handler handler_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    mutable std::mutex mutex_;
    std::string received_;
    std::thread accept_thread_;
    std::vector<std::thread> connection_threads_;
};

}  // namespace canaryd::test
