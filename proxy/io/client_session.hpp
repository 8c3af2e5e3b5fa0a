// One client connection (SPEC §4): reads request heads in order (keep-alive, pipelining),
// validates them strictly (core/http/request_head), picks a route, a version and an
// endpoint, and relays the exchange with bounded buffers.
//
// Two chains run per exchange once the request head is upstream: the request-body pump
// (client -> upstream) and the response pump (upstream -> client). They run concurrently so
// that an upstream may answer before the body is complete (Expect: 100-continue, early
// 413/401), and each checks the shared exchange state when it resumes. Every handler holds
// shared_from_this() and runs on the owning worker's single thread, so no lock or strand is
// needed. Nothing here throws: failures become an error response or a closed connection,
// and only ever this connection's.
#pragma once

#include "analysis/outcome.hpp"
#include "analysis/recorder.hpp"
#include "config/config.hpp"
#include "http/chunked_decoder.hpp"
#include "http/request_head.hpp"
#include "http/response_head.hpp"
#include "http/response_parser.hpp"
#include "io/snapshot.hpp"
#include "routing/split.hpp"
#include "io/upstream_pool.hpp"
#include "io/worker.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
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
namespace beast_http = boost::beast::http;
using boost::system::error_code;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    // `tls_context` non-null: the connection speaks TLS (a listener with `tls:`).
    ClientSession(Worker& worker, WorkerSocket socket, std::shared_ptr<boost::asio::ssl::context> tls_context = nullptr);
    ~ClientSession();
    void start();
    // Shutdown (worker thread): an idle keep-alive connection closes now; an exchange in
    // progress finishes with Connection: close.
    void drain();
    // Called by the worker about ten times a second: fires the deadlines that passed.
    void check_deadlines(std::chrono::steady_clock::time_point now);

private:
    using Clock = std::chrono::steady_clock;
    using Duration = Clock::duration;
    static constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

    // The request body's progress within one exchange.
    enum class Body : std::uint8_t {
        none,              // the request has no body
        pending,           // it has one; nothing relayed yet
        waiting_continue,  // Expect: 100-continue, waiting for the upstream's word
        relaying,
        done,
        abandoned,         // the upstream answered first; the rest is never sent
    };

    // Request head.
    void do_read_head();
    void do_await_request(bool from_readiness);
    void do_read_head_bytes();
    void on_head_bytes(error_code ec, std::size_t bytes);
    void parse_head();
    void on_head(const http::RequestHead& head);
    // Upstream selection and connection.
    void do_acquire_upstream(std::int64_t exclude_endpoint);
    void do_connect(std::uint32_t endpoint_id);
    void on_connect(error_code ec);
    void do_send_head();
    void on_head_sent(error_code ec);
    bool may_replay(error_code ec) const;
    void replay_on_fresh_connection();
    // Request body pump.
    void pump_request_body();
    void do_read_body_bytes();
    void on_body_bytes(error_code ec, std::size_t bytes);
    void do_write_body(std::string_view data, std::size_t consume, bool chunk_framed, bool last);
    void on_body_written(error_code ec);
    void body_pump_stopped();
    // Response pump.
    void arm_response_deadline();
    void do_read_response_header();
    void do_read_response_bytes();
    void on_response_bytes(error_code ec, std::size_t bytes);
    void parse_response_head();
    void on_response_header();
    void on_final_response_header();
    void do_write_interim(std::string text, bool starts_body);
    void on_interim_written(error_code ec, bool starts_body);
    void on_expect_timer(std::uint64_t exchange, error_code ec);
    void do_send_response_header();
    void pump_response_body();
    void do_write_response(std::string_view data, std::size_t consume, bool last);
    void on_response_written(error_code ec);
    void response_finished();
    // Upgrade tunnel (after a real 101).
    void start_tunnel();
    void tunnel_pump(bool client_to_upstream);
    void close_tunnel();
    // End of an exchange.
    void end_exchange();
    void fail_exchange(unsigned status, std::string detail, std::optional<analysis::ErrorKind> upstream_error);
    // Signals: every routed request ends in exactly one of these.
    void record_response();
    void record_error(unsigned status, analysis::ErrorKind kind);
    void record_abandoned();
    void send_error(unsigned status, std::string_view detail, bool force_close);
    void on_error_sent(error_code ec);
    // Connection-level helpers.
    void arm_read_deadline(Duration timeout);
    void arm_write_deadline(Duration timeout);
    void do_close();
    void do_linger_read();
    void abort();
    void discard_upstream();
    void discard_upstream_socket();  // closes it, leaving the pending handlers to clean up
    void report_upstream_failure();
    const config::Config& config() const;

    void write_access_log(unsigned status, bool from_upstream);

    // Client I/O goes through TLS when the listener has it, straight to the socket if not.
    template <class Buffers, class Handler>
    void client_read_some(const Buffers& buffers, Handler&& handler) {
        if (tls_) tls_->async_read_some(buffers, std::forward<Handler>(handler));
        else socket_.async_read_some(buffers, std::forward<Handler>(handler));
    }
    template <class Buffers, class Handler>
    void client_write(const Buffers& buffers, Handler&& handler) {
        if (tls_) boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
        else boost::asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }

    Worker& worker_;
    std::shared_ptr<SessionRegistry> registry_;
    WorkerSocket socket_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::optional<boost::asio::ssl::stream<WorkerSocket&>> tls_;
    boost::beast::flat_buffer client_buffer_;  // request heads and bodies, pipelined bytes
    Clock::time_point read_deadline_ = kNoDeadline;      // of the pending client read
    Clock::time_point write_deadline_ = kNoDeadline;     // of the pending client write
    Clock::time_point response_deadline_ = kNoDeadline;  // upstream_response, for the header
    Clock::time_point upstream_deadline_ = kNoDeadline;  // of the pending upstream body transfer
    boost::asio::steady_timer expect_timer_;
    std::string peer_ip_;
    bool client_read_pending_ = false;
    bool client_write_pending_ = false;
    bool read_timed_out_ = false;
    bool waiting_first_byte_ = false;
    bool closed_ = false;
    bool lingering_ = false;
    std::size_t linger_bytes_ = 0;
    std::uint64_t exchange_seq_ = 0;

    // The exchange in progress. The snapshot is taken once per request and kept to its end.
    std::shared_ptr<const Snapshot> snapshot_;
    const CompiledRoute* route_ = nullptr;
    config::Role role_ = config::Role::stable;
    routing::Reason reason_ = routing::Reason::no_canary;  // why role_ (access log)
    std::uint32_t endpoint_id_ = 0;
    analysis::VersionRecorder* recorder_ = nullptr;  // set while an outcome is owed
    std::chrono::steady_clock::time_point started_{};
    std::uint64_t latency_us_ = 0;  // request head received -> upstream response header
    unsigned final_status_ = 0;
    // Access log fields of the exchange.
    std::string method_;
    std::string path_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::size_t body_write_data_bytes_ = 0;  // body bytes (without chunk framing) being written
    unsigned error_response_status_ = 0;
    bool access_logged_ = true;
    std::shared_ptr<UpstreamConnection> upstream_;
    bool retried_ = false;
    bool connecting_ = false;
    bool connect_timed_out_ = false;
    std::string connect_failure_;  // why the last connect failed, for the 502
    http::HeadParse head_parse_;  // reused: its field vector keeps its capacity
    std::string upstream_head_;
    std::string request_id_;
    std::string upgrade_protocols_;
    bool method_is_head_ = false;
    int client_version_ = 11;
    bool client_keep_alive_ = true;
    bool expect_continue_ = false;
    bool upgrade_requested_ = false;
    bool chunked_request_ = false;
    std::uint64_t body_remaining_ = 0;  // Content-Length bodies
    std::uint64_t body_bytes_ = 0;      // chunked bodies, against limits.body_bytes
    std::optional<http::ChunkedDecoder> decoder_;
    Body body_ = Body::none;
    bool body_op_pending_ = false;
    std::size_t body_write_consume_ = 0;
    bool body_write_last_ = false;
    char chunk_header_[24] = {};
    std::size_t chunk_header_size_ = 0;

    http::ResponseParse response_parse_;  // reused; its views point into upstream_->buffer
    std::optional<http::ChunkedDecoder> response_decoder_;
    std::uint64_t response_remaining_ = 0;   // Content-Length responses
    std::size_t response_write_consume_ = 0;
    bool head_parsed_ = false;
    bool upstream_eof_ = false;
    bool response_op_pending_ = false;
    bool response_timed_out_ = false;
    bool response_started_ = false;   // a byte of this exchange's response reached the client
    bool response_complete_ = false;
    bool response_deferred_ = false;  // the final header waits for an interim write to finish
    bool sent_continue_ = false;
    bool upstream_keep_alive_ = false;
    bool response_keep_alive_ = false;  // what the client was told
    bool exchange_failed_ = false;
    std::string client_head_;                   // the response head for the client; reused
    std::string version_value_;
    http::ClientFraming client_framing_ = http::ClientFraming::none;
    bool head_sent_ = false;
    bool response_body_last_ = false;
    char response_chunk_header_[24] = {};
    std::string interim_;
    std::string error_text_;  // an error response canaryd generated

    // Tunnel state.
    std::unique_ptr<char[]> tunnel_buffers_;
    std::chrono::steady_clock::time_point tunnel_activity_{};
};

}  // namespace canaryd::io
