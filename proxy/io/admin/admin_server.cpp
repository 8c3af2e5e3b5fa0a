#include "io/admin/admin_server.hpp"

#include "io/server/listener.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

class AdminSession : public std::enable_shared_from_this<AdminSession> {
public:
    AdminSession(tcp::socket socket, std::shared_ptr<AdminServer::Handler> handler)
        : stream_(std::move(socket)), handler_(std::move(handler)) {}

    void start() {
        error_code ec;
        auto peer = stream_.socket().remote_endpoint(ec);
        if (ec) return;
        peer_ = peer.address().to_string();
        do_read();
    }

private:
    void do_read() {
        parser_.emplace();
        parser_->header_limit(16 * 1024);
        parser_->body_limit(64 * 1024);
        stream_.expires_after(std::chrono::seconds(30));
        bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(error_code ec) {
        if (ec == bhttp::error::end_of_stream) return close();
        auto& response = response_;
        response = {};
        response.version(11);
        if (ec) {
            // A malformed admin call gets a clear answer and the connection is closed.
            response.result(ec == bhttp::error::body_limit ? 413 : 400);
            response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
            response.body() = "bad request: " + ec.message() + "\n";
            response.keep_alive(false);
        } else {
            const auto& request = parser_->get();
            AdminHttpRequest in;
            in.method = std::string(request.method_string());
            in.target = std::string(request.target());
            in.authorization = std::string(request[bhttp::field::authorization]);
            in.peer = peer_;
            in.body = request.body();
            in.origin = std::string(request[bhttp::field::origin]);
            in.host = std::string(request[bhttp::field::host]);
            in.fetch_site = std::string(request["Sec-Fetch-Site"]);
            const auto out = (*handler_)(in);
            response.result(out.status);
            response.set(bhttp::field::content_type, out.content_type);
            response.set(bhttp::field::cache_control, "no-store");
            for (const auto& [name, value] : out.headers) response.set(name, value);
            if (request.method() != bhttp::verb::head) response.body() = out.body;
            response.keep_alive(request.keep_alive());
        }
        response.prepare_payload();
        bhttp::async_write(stream_, response, [self = shared_from_this()](error_code e, std::size_t) {
            if (e || !self->response_.keep_alive()) return self->close();
            self->do_read();
        });
    }

    void close() {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    bhttp::response<bhttp::string_body> response_;
    std::shared_ptr<AdminServer::Handler> handler_;
    std::string peer_;
};

}  // namespace

AdminServer::AdminServer(asio::io_context& context, Handler handler)
    : acceptor_(context), handler_(std::make_shared<Handler>(std::move(handler))) {}

error_code AdminServer::open(const tcp::endpoint& endpoint) { return open_acceptor(acceptor_, endpoint, port_); }

void AdminServer::start() { do_accept(); }

void AdminServer::stop() {
    error_code ignored;
    acceptor_.close(ignored);
}

void AdminServer::do_accept() {
    acceptor_.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (!ec) std::make_shared<AdminSession>(std::move(socket), self->handler_)->start();
        self->do_accept();
    });
}

}  // namespace canaryd::io
