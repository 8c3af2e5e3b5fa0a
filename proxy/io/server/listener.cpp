#include "io/server/listener.hpp"

#include "io/log/log.hpp"
#include "io/server/worker.hpp"
#include "io/session/client_session.hpp"

#include <boost/asio/post.hpp>

#include <unistd.h>

namespace canaryd::io {

namespace asio = boost::asio;
using boost::system::error_code;

Listener::Listener(asio::io_context& accept_context, std::vector<Worker*> workers, config::Listener config)
    : acceptor_(accept_context), retry_timer_(accept_context), workers_(std::move(workers)), config_(std::move(config)) {}

error_code open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, std::uint16_t& bound_port) {
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) bound_port = acceptor.local_endpoint(ec).port();
    if (ec) {
        error_code ignored;
        acceptor.close(ignored);
    }
    return ec;
}

error_code Listener::open(const tcp::endpoint& endpoint) { return open_acceptor(acceptor_, endpoint, port_); }

void Listener::start() { do_accept(); }

void Listener::stop() {
    error_code ignored;
    retry_timer_.cancel();
    acceptor_.close(ignored);
}

void Listener::do_accept() {
    acceptor_.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
        self->on_accept(ec, std::move(socket));
    });
}

void Listener::on_accept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
        // Out of file descriptors or memory: log, back off briefly instead of spinning, and
        // keep serving the connections already open.
        log::warn("accept_failed", {{"address", config_.address.to_string()}, {"error", ec.message()}});
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([self = shared_from_this()](error_code e) {
            if (!e) self->do_accept();
        });
        return;
    }
    Worker& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    // Only the descriptor crosses threads: the worker registers it with its own reactor,
    // which takes no locks (ARCHITECTURE: share nothing on the request path).
    error_code failed;
    const auto protocol = socket.local_endpoint(failed).protocol();
    const auto fd = failed ? -1 : socket.release(failed);
    if (!failed) {
        asio::post(worker.context(), [&worker, protocol, fd, tls = tls_context_] {
            WorkerSocket s(worker.context().get_executor());
            error_code assign_error;
            s.assign(protocol, fd, assign_error);
            if (assign_error) {
                ::close(fd);
                return;
            }
            std::make_shared<ClientSession>(worker, std::move(s), tls)->start();
        });
    }
    do_accept();
}

}  // namespace canaryd::io
