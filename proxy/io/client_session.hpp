// One client connection: reads requests in order (keep-alive and pipelining), picks a route,
// a version and an endpoint, and relays each exchange with bounded buffers (SPEC §4).
//
// Shape of the Beast examples: every step is a do_/on_ pair, each handler holds
// shared_from_this(), so the session lives exactly as long as an operation is pending. All
// handlers run on the owning worker's single-threaded io_context, so no strand is needed.
// Nothing here throws: failures become an error response or a closed connection, and only
// ever this connection's.
#pragma once

#include "config/config.hpp"
#include "io/snapshot.hpp"
#include "io/upstream_pool.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace canaryd::io {

class Worker;
namespace http = boost::beast::http;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    ClientSession(Worker& worker, tcp::socket socket);
    void start();

private:
    using RequestParser = http::request_parser<http::buffer_body>;
    using ResponseParser = http::response_parser<http::buffer_body>;

    // Request side.
    void do_read_request();
    void on_first_bytes(boost::system::error_code ec, std::size_t bytes);
    void do_read_request_header();
    void on_request_header(boost::system::error_code ec);
    void route_request();
    // Upstream side.
    void do_acquire_upstream(std::int64_t exclude_endpoint);
    void do_connect(std::uint32_t endpoint_id);
    void on_connect(boost::system::error_code ec);
    void do_send_request_header();
    void on_request_header_sent(boost::system::error_code ec);
    void do_read_request_body();
    void on_request_body_read(boost::system::error_code ec);
    void do_write_request_body(std::size_t bytes, bool last);
    void on_request_body_written(boost::system::error_code ec);
    void do_read_response_header();
    void on_response_header(boost::system::error_code ec);
    void on_interim_response_sent(boost::system::error_code ec);
    void do_send_response_header();
    void on_response_header_sent(boost::system::error_code ec);
    void do_read_response_body();
    void on_response_body_read(boost::system::error_code ec);
    void on_response_body_written(boost::system::error_code ec);
    void finish_exchange();
    // Failures.
    bool may_retry_upstream(boost::system::error_code ec) const;
    void retry_on_fresh_connection();
    void upstream_failed(unsigned status, std::string detail);
    void send_error(unsigned status, std::string_view detail, bool close_after);
    void on_error_sent(boost::system::error_code ec, bool close_after);
    void discard_upstream();
    void do_close();  // graceful: FIN, then drain what the client still sends, briefly
    void on_linger_read(boost::system::error_code ec, std::size_t bytes);
    void abort();     // immediate: a half-sent response must never look complete

    const config::Timeouts& timeouts() const;
    char* body_buffer();

    Worker& worker_;
    boost::beast::tcp_stream client_;
    boost::beast::flat_buffer client_buffer_;
    std::string peer_ip_;

    // The exchange in progress. The snapshot is taken once per request and kept to its end.
    std::shared_ptr<const Snapshot> snapshot_;
    const CompiledRoute* route_ = nullptr;
    config::Role role_ = config::Role::stable;
    std::optional<RequestParser> request_;
    http::request<http::buffer_body> upstream_request_;
    std::optional<http::request_serializer<http::buffer_body>> upstream_request_writer_;
    std::shared_ptr<UpstreamConnection> upstream_;
    std::uint32_t endpoint_id_ = 0;
    bool retried_ = false;
    bool request_body_started_ = false;  // a body byte left the client's buffer
    std::optional<ResponseParser> response_;
    http::response<http::buffer_body> client_response_;
    std::optional<http::response_serializer<http::buffer_body>> client_response_writer_;
    std::optional<http::response<http::empty_body>> interim_response_;
    std::optional<http::response<http::string_body>> error_response_;
    bool response_started_ = false;  // a byte of this exchange's response reached the client
    bool client_keep_alive_ = false;
    std::string request_id_;
    std::unique_ptr<char[]> body_buffer_;
    std::size_t linger_bytes_ = 0;  // allocated on the first body, then reused
};

}  // namespace canaryd::io
