#include "io/listener.hpp"

#include "io/client_session.hpp"
#include "io/log.hpp"
#include "io/worker.hpp"

#include <boost/asio/post.hpp>

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
    Worker& worker = *workers_[next_worker_];
    // The socket is born on the worker's io_context, typed to it (no type-erased executor).
    auto socket = std::make_shared<WorkerSocket>(worker.context().get_executor());
    acceptor_.async_accept(*socket, [self = shared_from_this(), socket](error_code ec) {
        self->on_accept(ec, std::move(*socket));
    });
}

void Listener::on_accept(error_code ec, WorkerSocket socket) {
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
    asio::post(worker.context(), [&worker, s = std::move(socket)]() mutable {
        std::make_shared<ClientSession>(worker, std::move(s))->start();
    });
    do_accept();
}

}  // namespace canaryd::io
