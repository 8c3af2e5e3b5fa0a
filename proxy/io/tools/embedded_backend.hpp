// A minimal HTTP/1.1 origin server inside the canaryd process, answering from a handler
// function. It backs `canaryd --demo` (stable and canary services with no files to write)
// and is the well-behaved upstream of the integration tests.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace canaryd::io {

namespace http = boost::beast::http;

class EmbeddedBackend {
public:
    using Handler = std::function<http::response<http::string_body>(const http::request<http::string_body>&)>;
    // How long to wait before answering (the demo canary's latency knob); never blocks the thread.
    using Delay = std::function<std::chrono::milliseconds()>;

    // Binds host:port (0 = any free port) on `context`; accepts once start() is called. The
    // tests bind other loopback addresses (127.0.0.2, ...) to stand for a Service's pods.
    EmbeddedBackend(boost::asio::io_context& context, std::uint16_t port, Handler handler, Delay delay = {},
                    const std::string& host = "127.0.0.1");
    ~EmbeddedBackend();

    void start();
    void stop();
    std::uint16_t port() const;
    std::uint64_t connections_accepted() const { return state_->connections.load(); }
    std::uint64_t requests_served() const { return state_->requests.load(); }

    struct State {
        Handler handler;
        Delay delay;
        std::atomic<std::uint64_t> connections{0};
        std::atomic<std::uint64_t> requests{0};
    };

private:
    void do_accept();

    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<State> state_;
};

}  // namespace canaryd::io
