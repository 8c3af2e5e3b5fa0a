// One client connection (SPEC §4): reads request heads in order (keep-alive, pipelining),
// validates them strictly (core/http/request_head), picks a route, a version and an
// endpoint, and relays the exchange with bounded buffers.
//
// Two chains run per exchange once the request head is upstream: the RequestBodyPump
// (client -> upstream) and the ResponseRelay (upstream -> client). They run concurrently so
// that an upstream may answer before the body is complete (Expect: 100-continue, early
// 413/401), and each checks the shared Exchange when it resumes. Every handler holds
// shared_from_this() and runs on the owning worker's single thread, so no lock or strand is
// needed. Nothing here throws: failures become an error response or a closed connection,
// and only ever this connection's.
//
// Files: client_session.cpp (connection, deadlines, request head, routing),
// upstream_connect.cpp (endpoint, connect, retry), request_body_pump.cpp,
// response_relay.cpp, tunnel.cpp (after a 101), exchange_end.cpp (done, failed, aborted).
#pragma once

#include "core/analysis/outcome.hpp"
#include "core/http/request_head.hpp"
#include "io/control/snapshot.hpp"
#include "io/h2/stream_pipe.hpp"
#include "io/server/worker.hpp"
#include "io/session/exchange.hpp"
#include "io/session/request_body_pump.hpp"
#include "io/session/response_relay.hpp"
#include "io/upstream/upstream_pool.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace canaryd::io {

class Worker;
class Http2Connection;
using boost::system::error_code;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    // `tls_context` non-null: the connection speaks TLS (a listener with `tls:`).
    ClientSession(Worker& worker, WorkerSocket socket, std::shared_ptr<boost::asio::ssl::context> tls_context = nullptr);
    // One HTTP/2 stream served as a connection of its own (io/h2): reads and writes go
    // through `pipe`; `peer_ip` and `https` are the real connection's.
    ClientSession(Worker& worker, std::shared_ptr<StreamPipe> pipe, std::string peer_ip, bool https);
    ~ClientSession();
    void start();

    // The connection's own I/O once it speaks HTTP/2 (its Http2Connection reads and writes
    // frames through these; the session's HTTP/1.1 state machine has stopped).
    template <class Handler>
    void raw_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
        client_read_some(buffer, std::forward<Handler>(handler));
    }
    template <class Handler>
    void raw_write(boost::asio::const_buffer buffer, Handler&& handler) {
        client_write(buffer, std::forward<Handler>(handler));
    }
    void raw_close();
    // Shutdown (worker thread): an idle keep-alive connection closes now; an exchange in
    // progress finishes with Connection: close.
    void drain();
    // Called by the worker about ten times a second: fires the deadlines that passed.
    void check_deadlines(std::chrono::steady_clock::time_point now);

private:
    friend class RequestBodyPump;
    friend class ResponseRelay;
    using Clock = std::chrono::steady_clock;
    using Duration = Clock::duration;
    static constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

    // Request head.
    void do_read_head();
    void do_await_request(bool from_readiness);
    void do_read_head_bytes();
    void on_head_bytes(error_code ec, std::size_t bytes);
    void parse_head();
    void on_head(const http::RequestHead& head);
    // Upstream selection and connection (upstream_connect.cpp).
    void do_acquire_upstream(std::int64_t exclude_endpoint);
    void do_connect(std::uint32_t endpoint_id);
    void on_connect(error_code ec);
    // An endpoint whose version has `tls:`: the handshake, within the connect deadline.
    void do_tls_handshake();
    void on_tls_handshake(error_code ec);
    // Logs a TLS failure of the exchange's endpoint when its reason changed.
    void note_tls_failure(const std::string& reason);
    // An error the upstream's TLS layer raised (an alert: with TLS 1.3 a refused client
    // certificate arrives after the handshake, on the first read), not a plain close.
    bool is_tls_alert(error_code ec) const;
    void do_send_head();
    bool may_replay(error_code ec);
    void replay_on_fresh_connection();
    // Upgrade tunnel after a real 101 (tunnel.cpp).
    void start_tunnel();
    void tunnel_pump(bool client_to_upstream);
    void close_tunnel();
    // End of an exchange (exchange_end.cpp).
    void end_exchange();
    void fail_exchange(unsigned status, std::string detail, std::optional<analysis::ErrorKind> upstream_error);
    // Signals: every routed request ends in exactly one of these.
    void record_response();
    void record_error(unsigned status, analysis::ErrorKind kind);
    void record_abandoned();
    void send_error(unsigned status, std::string_view detail, bool force_close);
    void write_access_log(unsigned status, bool from_upstream);
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
    // The exchange's state and buffers, borrowed from the worker on first use (fresh).
    // Inline: every step of an exchange goes through it.
    ExchangeBuffers& buffers() {
        if (!buffers_) borrow_buffers();
        return *buffers_;
    }
    void borrow_buffers();
    void reset_exchange();
    Exchange& exchange() { return buffers().exchange; }
    ExchangeText& text() { return buffers().text; }
    http::HeadParse& head_parse() { return buffers().request_head; }
    std::uint64_t microseconds_since_start();

    // Client I/O goes through TLS when the listener has it, straight to the socket if not.
    template <class Buffers, class Handler>
    void client_read_some(const Buffers& buffers, Handler&& handler) {
        if (pipe_) pipe_->async_read_some(buffers, std::forward<Handler>(handler));
        else if (tls_) tls_->async_read_some(buffers, std::forward<Handler>(handler));
        else socket_.async_read_some(buffers, std::forward<Handler>(handler));
    }
    template <class Buffers, class Handler>
    void client_write(const Buffers& buffers, Handler&& handler) {
        if (pipe_) pipe_->async_write(buffers, std::forward<Handler>(handler));
        else if (tls_) boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
        else boost::asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }
    // The client side's end: FIN on a socket, the end of the response on a stream.
    void shutdown_client_send();
    // The connection preface of HTTP/2 (RFC 9113 §3.4) or h2 by ALPN: the rest of the
    // connection is an Http2Connection's.
    bool starts_http2();
    void become_http2(std::string_view received);

    // The one shape of a write to the client within an exchange: under the write deadline,
    // holding the session and the upstream connection; `next(session)` runs only when the
    // whole buffer went out and the connection is still open (a failed write aborts it).
    template <class Buffers, class Next>
    void write_to_client(const Buffers& buffers, Next next) {
        client_write_pending_ = true;
        arm_write_deadline(config().defaults.timeouts.idle);
        client_write(buffers, [self = shared_from_this(), keep = upstream_, next = std::move(next)](error_code ec, std::size_t) mutable {
            self->client_write_pending_ = false;
            self->write_deadline_ = kNoDeadline;
            if (self->closed_) return;
            if (ec) return self->abort();
            next(*self);
        });
    }

    // The one shape of a write to the upstream: under the upstream_response deadline, holding
    // the session and the connection; `done(session, ec)` runs unless the session closed.
    template <class Buffers, class Done>
    void write_to_upstream(const Buffers& buffers, Done done) {
        upstream_deadline_ = Clock::now() + config().defaults.timeouts.upstream_response;
        upstream_->async_write(buffers,
                               [self = shared_from_this(), keep = upstream_, done = std::move(done)](error_code ec, std::size_t) mutable {
                                   self->upstream_deadline_ = kNoDeadline;
                                   if (self->closed_) return;
                                   done(*self, ec);
                               });
    }

    Worker& worker_;
    std::shared_ptr<SessionRegistry> registry_;
    WorkerSocket socket_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::unique_ptr<boost::asio::ssl::stream<WorkerSocket&>> tls_;  // null on plain listeners
    std::shared_ptr<StreamPipe> pipe_;        // set: this session serves one HTTP/2 stream
    bool pipe_https_ = false;                 // the stream's connection is TLS
    std::shared_ptr<Http2Connection> h2_;     // set: this connection speaks HTTP/2
    boost::beast::flat_buffer client_buffer_;  // request heads and bodies, pipelined bytes
    std::string peer_ip_;
    Clock::time_point read_deadline_ = kNoDeadline;      // of the pending client read
    Clock::time_point write_deadline_ = kNoDeadline;     // of the pending client write
    Clock::time_point response_deadline_ = kNoDeadline;  // upstream_response, for the header
    Clock::time_point upstream_deadline_ = kNoDeadline;  // of the pending upstream transfer
    Clock::time_point expect_deadline_ = kNoDeadline;    // canaryd says 100 itself (ResponseRelay)
    bool client_read_pending_ = false;
    bool client_write_pending_ = false;
    bool read_timed_out_ = false;
    bool waiting_first_byte_ = false;
    bool closed_ = false;
    bool lingering_ = false;
    std::size_t linger_bytes_ = 0;

    std::uint64_t exchange_seq_ = 0;  // tells late completions of an earlier exchange apart
    std::unique_ptr<ExchangeBuffers> buffers_;  // the exchange in progress; lent by the worker, none while idle
    std::shared_ptr<UpstreamConnection> upstream_;
    RequestBodyPump body_{*this};
    ResponseRelay response_{*this};

    // An upgraded connection's two copy buffers and its last activity.
    std::unique_ptr<char[]> tunnel_buffers_;
    Clock::time_point tunnel_activity_{};
};

}  // namespace canaryd::io
