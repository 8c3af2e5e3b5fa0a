// Accepts client connections on one address and hands each socket to the next worker in
// turn (a fair hand-off: a worker never steals another's connections afterwards).
#pragma once

#include "core/config/config.hpp"
#include "io/control/snapshot.hpp"
#include "io/upstream/upstream_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

namespace canaryd::io {

class Worker;

// Opens, binds and listens (address reuse on); closes the acceptor again on failure.
boost::system::error_code open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                                        std::uint16_t& bound_port);

class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(boost::asio::io_context& accept_context, std::vector<Worker*> workers, config::Listener config);

    // Binds and listens; a clear error (address in use, permission) is returned, not thrown.
    boost::system::error_code open(const tcp::endpoint& endpoint);
    void start();
    void stop();  // stops accepting; established connections are not touched

    std::uint16_t port() const { return port_; }
    const config::Listener& config() const { return config_; }
    // TLS listeners: the context new connections get (a reload swaps it; established
    // connections keep theirs). Control thread only.
    void set_tls_context(std::shared_ptr<boost::asio::ssl::context> context) { tls_context_ = std::move(context); }

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, tcp::socket socket);

    tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;
    std::vector<Worker*> workers_;
    config::Listener config_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::size_t next_worker_ = 0;
    std::uint16_t port_ = 0;
};

}  // namespace canaryd::io
