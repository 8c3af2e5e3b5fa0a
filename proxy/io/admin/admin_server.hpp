// The admin listener (SPEC §7, default 127.0.0.1:9901): a small Beast HTTP/1.1 server on
// the control thread. It only moves bytes; what a request means is decided by the handler
// (io/admin/process_admin), which hands it to core/admin/dispatch.
#pragma once

#include "core/admin/dispatch.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace canaryd::io {

struct AdminHttpRequest {
    std::string method;
    std::string target;
    std::string authorization;
    std::string peer;
    std::string body;
    // Who initiated the call, as a browser says it (core/admin/cross_site).
    std::string origin;
    std::string host;
    std::string fetch_site;
};

class AdminServer : public std::enable_shared_from_this<AdminServer> {
public:
    using Handler = std::function<admin::AdminResponse(const AdminHttpRequest&)>;

    AdminServer(boost::asio::io_context& context, Handler handler);

    boost::system::error_code open(const boost::asio::ip::tcp::endpoint& endpoint);
    void start();
    void stop();
    std::uint16_t port() const { return port_; }

private:
    void do_accept();

    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<Handler> handler_;
    std::uint16_t port_ = 0;
};

}  // namespace canaryd::io
