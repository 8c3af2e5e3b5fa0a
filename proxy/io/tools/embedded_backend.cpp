#include "io/tools/embedded_backend.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

class BackendSession : public std::enable_shared_from_this<BackendSession> {
public:
    BackendSession(tcp::socket socket, std::shared_ptr<EmbeddedBackend::State> state)
        : stream_(std::move(socket)), timer_(stream_.get_executor()), state_(std::move(state)) {}

    void start() { do_read(); }

private:
    void do_read() {
        request_ = {};
        stream_.expires_after(std::chrono::seconds(60));
        http::async_read(stream_, buffer_, request_, [self = shared_from_this()](error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(error_code ec) {
        if (ec) return close();
        ++state_->requests;
        response_ = state_->handler(request_);
        response_.version(request_.version());
        if (!request_.keep_alive()) response_.keep_alive(false);
        response_.prepare_payload();
        const auto delay = state_->delay ? state_->delay() : std::chrono::milliseconds(0);
        if (delay.count() <= 0) return do_write();
        timer_.expires_after(delay);
        timer_.async_wait([self = shared_from_this()](error_code e) {
            if (e) return self->close();
            self->do_write();
        });
    }

    void do_write() {
        http::async_write(stream_, response_, [self = shared_from_this()](error_code e, std::size_t) {
            if (e || !self->response_.keep_alive()) return self->close();
            self->do_read();
        });
    }

    void close() {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.socket().close(ignored);
    }

    beast::tcp_stream stream_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
    std::shared_ptr<EmbeddedBackend::State> state_;
};

}  // namespace

EmbeddedBackend::EmbeddedBackend(asio::io_context& context, std::uint16_t port, Handler handler, Delay delay,
                                 const std::string& host)
    : acceptor_(context), state_(std::make_shared<State>()) {
    state_->handler = std::move(handler);
    state_->delay = std::move(delay);
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
}

EmbeddedBackend::~EmbeddedBackend() { stop(); }

void EmbeddedBackend::start() { do_accept(); }

void EmbeddedBackend::stop() {
    error_code ignored;
    acceptor_.close(ignored);
}

std::uint16_t EmbeddedBackend::port() const { return acceptor_.local_endpoint().port(); }

void EmbeddedBackend::do_accept() {
    acceptor_.async_accept([this, state = state_](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            ++state->connections;
            std::make_shared<BackendSession>(std::move(socket), state)->start();
        }
        if (acceptor_.is_open()) do_accept();
    });
}

}  // namespace canaryd::io
