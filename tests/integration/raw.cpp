#include "raw.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace canaryd::test {

namespace {

void set_receive_timeout(int fd, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return;  // the peer is gone; the test sees it on the read side
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool lower_contains(std::string text, std::string_view needle) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text.find(needle) != std::string::npos;
}

}  // namespace

RawClient::RawClient(std::uint16_t port, std::chrono::milliseconds receive_timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_receive_timeout(fd_, receive_timeout);
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

void RawClient::send(std::string_view bytes) { send_all(fd_, bytes); }

void RawClient::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

bool RawClient::fill() {
    char buffer[16384];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
}

std::optional<bhttp::response<bhttp::string_body>> RawClient::read_response(bool head_request) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.eager(true);
    if (head_request) parser.skip(true);
    while (true) {
        if (!pending_.empty()) {
            boost::system::error_code ec;
            const auto used = parser.put(boost::asio::buffer(pending_), ec);
            pending_.erase(0, used);
            if (ec && ec != bhttp::error::need_more) return std::nullopt;
            if (parser.is_done()) return parser.release();
            if (used > 0 && !pending_.empty()) continue;
        }
        if (!fill()) {
            boost::system::error_code ec;
            parser.put_eof(ec);  // a close-delimited body ends here
            if (!ec && parser.is_done()) return parser.release();
            return std::nullopt;
        }
    }
}

std::string RawClient::read_until_close(bool* closed) {
    std::string out = std::move(pending_);
    pending_.clear();
    char buffer[16384];
    while (true) {
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            out.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (closed) *closed = n == 0 || errno == ECONNRESET;
        return out;
    }
}

std::string RawClient::read_available(std::chrono::milliseconds wait) {
    if (pending_.empty()) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) > 0) fill();
    }
    return std::exchange(pending_, {});
}

bool RawClient::closed_by_peer() {
    bool closed = false;
    const auto rest = read_until_close(&closed);
    return closed && rest.empty();
}

RawConnection::RawConnection(int fd, std::function<void(std::string_view)> record)
    : fd_(fd), record_(std::move(record)) {}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool RawConnection::fill(std::chrono::milliseconds wait) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char buffer[16384];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    record_(std::string_view(buffer, static_cast<std::size_t>(n)));
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
}

std::string RawConnection::read_head() {
    while (true) {
        const auto end = pending_.find("\r\n\r\n");
        if (end != std::string::npos) {
            std::string head = pending_.substr(0, end + 4);
            pending_.erase(0, end + 4);
            return head;
        }
        if (!fill(10s)) return "";
    }
}

std::string RawConnection::read_exact(std::size_t n) {
    while (pending_.size() < n)
        if (!fill(10s)) break;
    std::string out = pending_.substr(0, n);
    pending_.erase(0, out.size());
    return out;
}

std::string RawConnection::read_some(std::chrono::milliseconds wait) {
    if (pending_.empty()) fill(wait);
    return std::exchange(pending_, {});
}

std::string RawConnection::read_body_for(const std::string& head) {
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos)
        return read_exact(std::stoull(lower.substr(cl + 17)));
    if (lower_contains(head, "transfer-encoding: chunked")) {
        while (pending_.find("0\r\n\r\n") == std::string::npos)
            if (!fill(10s)) break;
        const auto end = pending_.find("0\r\n\r\n");
        if (end == std::string::npos) return std::exchange(pending_, {});
        std::string body = pending_.substr(0, end + 5);
        pending_.erase(0, end + 5);
        return body;
    }
    return "";
}

void RawConnection::send(std::string_view bytes) {
    if (fd_ >= 0) send_all(fd_, bytes);
}

bool RawConnection::closed_by_peer(std::chrono::milliseconds wait) {
    if (fd_ < 0) return true;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK) <= 0;
}

RawUpstream::RawUpstream(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0)
        throw std::runtime_error("raw upstream: cannot listen");
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] {
        while (!stopping_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) continue;
            ++connections_;
            std::lock_guard lock(mutex_);
            connection_threads_.emplace_back([this, fd] {
                RawConnection connection(fd, [this](std::string_view bytes) {
                    std::lock_guard l(mutex_);
                    received_.append(bytes);
                });
                handler_(connection);
            });
        }
    });
}

RawUpstream::~RawUpstream() {
    stopping_ = true;
    accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        threads.swap(connection_threads_);
    }
    for (auto& t : threads) t.join();
}

std::string RawUpstream::received() const {
    std::lock_guard lock(mutex_);
    return received_;
}

RawUpstream::Handler RawUpstream::simple_ok() {
    return [](RawConnection& c) {
        while (true) {
            const auto head = c.read_head();
            if (head.empty()) return;
            c.read_body_for(head);
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    };
}

}  // namespace canaryd::test
