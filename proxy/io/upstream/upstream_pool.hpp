// Per-worker keep-alive pools of upstream connections, one per endpoint id (SPEC §4).
//
// How many are kept: every connection that comes back clean is kept (LIFO), and an idle one
// closes when it has not been used for the idle timeout. A connection is only ever opened
// when every pooled one is busy, so the pool holds what the worker recently needed at once —
// the recent peak of concurrent exchanges — and decays to the current need as the unused
// ones at the bottom of the stack age out. Bounds: `max_idle_per_endpoint` when the operator
// sets one, and always a per-worker descriptor budget (a share of RLIMIT_NOFILE) so idle
// upstream connections can never starve client connections of descriptors.
//
// Only the worker's own thread touches its pools, so there is no lock. An upstream may
// close an idle connection at any time (its own keep-alive timeout). Watching every idle
// connection with a pending wait costs an epoll_ctl per request with Asio, so instead a
// connection idle for more than a second is probed (a non-blocking MSG_PEEK) before reuse,
// and a once-a-second sweep closes the ones that died or idled out. A body-less request
// that still meets a connection closed in the last second is replayed on a fresh one.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::io {

class UpstreamStream;
// An HTTP/2 upstream stream's I/O (io/h2/upstream_h2.cpp), for UpstreamConnection below.
using UpstreamIoHandler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
void upstream_stream_write(UpstreamStream& stream, std::string bytes, UpstreamIoHandler handler);
void upstream_stream_read_some(UpstreamStream& stream, boost::asio::mutable_buffer into, UpstreamIoHandler handler);
void upstream_stream_cancel(UpstreamStream& stream);
void upstream_stream_close(UpstreamStream& stream);

// A socket bound to a worker's io_context by type: no type-erased executor to copy on
// every operation (measurably cheaper than tcp::socket's any_io_executor on the hot path).
using WorkerSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

struct UpstreamConnection {
    UpstreamConnection(boost::asio::io_context& ioc, std::uint32_t id) : socket(ioc.get_executor()), endpoint_id(id) {}

    // Reads and writes go through TLS when the endpoint's version has `tls:` (set up by the
    // connect, before the first byte), straight to the socket otherwise.
    // An HTTP/2 upstream (`stream` set): the engine's bytes go to that one stream instead.
    template <class Buffers, class Handler>
    void async_read_some(const Buffers& buffers, Handler&& handler) {
        if (stream)
            upstream_stream_read_some(*stream, boost::asio::buffer(*boost::asio::buffer_sequence_begin(buffers)),
                                      UpstreamIoHandler(std::forward<Handler>(handler)));
        else if (tls) tls->async_read_some(buffers, std::forward<Handler>(handler));
        else socket.async_read_some(buffers, std::forward<Handler>(handler));
    }
    template <class Buffers, class Handler>
    void async_write(const Buffers& buffers, Handler&& handler) {
        if (stream) {
            std::string bytes(boost::asio::buffer_size(buffers), '\0');
            boost::asio::buffer_copy(boost::asio::buffer(bytes), buffers);
            upstream_stream_write(*stream, std::move(bytes), UpstreamIoHandler(std::forward<Handler>(handler)));
        } else if (tls) {
            boost::asio::async_write(*tls, buffers, std::forward<Handler>(handler));
        } else {
            boost::asio::async_write(socket, buffers, std::forward<Handler>(handler));
        }
    }
    // Ends whatever is in progress: the socket closes, or the stream is cancelled.
    void close() {
        boost::system::error_code ignored;
        socket.close(ignored);
        if (stream) upstream_stream_close(*stream);
    }
    // A deadline passed: pending operations complete (with an error).
    void cancel_pending() {
        boost::system::error_code ignored;
        socket.close(ignored);
        if (stream) upstream_stream_cancel(*stream);
    }

    WorkerSocket socket;
    std::shared_ptr<UpstreamStream> stream;  // HTTP/2 upstream: one stream of a shared connection
    std::shared_ptr<boost::asio::ssl::context> tls_context;  // outlives `tls`, which uses it
    std::unique_ptr<boost::asio::ssl::stream<WorkerSocket&>> tls;
    boost::beast::flat_buffer buffer;
    std::uint32_t endpoint_id;
    std::uint64_t requests_served = 0;  // > 0 once it came back from the pool
    std::chrono::steady_clock::time_point idle_since{};
};

// The descriptor budget of one worker's idle upstream connections: a quarter of the
// process's RLIMIT_NOFILE shared by the workers (clients, busy upstream connections and
// files need the rest), at least 64.
std::size_t idle_budget_per_worker(unsigned workers);

class UpstreamPools {
public:
    explicit UpstreamPools(boost::asio::io_context& ioc) : ioc_(ioc) {}
    ~UpstreamPools() { close_all(); }
    UpstreamPools(const UpstreamPools&) = delete;
    UpstreamPools& operator=(const UpstreamPools&) = delete;

    // An idle connection to the endpoint that has been idle less than `max_idle_time`, or null.
    std::shared_ptr<UpstreamConnection> take(std::uint32_t endpoint_id, std::chrono::milliseconds max_idle_time);
    // Returns a connection whose last exchange completed cleanly. Closed instead when its
    // endpoint's pool already holds `max_idle` (when set) or the worker's budget is spent.
    void give_back(std::shared_ptr<UpstreamConnection> connection, std::optional<std::uint32_t> max_idle);
    std::shared_ptr<UpstreamConnection> create(std::uint32_t endpoint_id);

    // The endpoints the snapshot in force uses (by id; ids past the end are new, so in use).
    // Idle connections of the others close now, and busy ones close when their exchange
    // ends instead of coming back: an endpoint gone from the config or from DNS gets no new
    // request, and the ones in flight finish.
    void retain(std::vector<bool> in_use);
    // Closes idle connections older than `max_idle_time` or found closed by their upstream.
    void sweep(std::chrono::milliseconds max_idle_time);
    void close_all();
    std::size_t idle_count(std::uint32_t endpoint_id) const;
    // Idle connections this worker may hold over all endpoints (before its thread starts).
    void set_idle_budget(std::size_t budget) { idle_budget_ = budget; }

    // TLS session resumption: the last session of an endpoint, offered by its next new
    // connection — only under the context it was made with (a reload may change the CA).
    SSL_SESSION* tls_session(std::uint32_t endpoint_id, const boost::asio::ssl::context* context) const;
    void keep_tls_session(const UpstreamConnection& connection);  // after a complete exchange
    // Handshake failures are logged when an endpoint's reason changes, not per request.
    // Returns true when `reason` is new for the endpoint (empty: it handshakes again).
    bool tls_reason_changed(std::uint32_t endpoint_id, const std::string& reason);

private:
    void close_idle(std::uint32_t endpoint_id);

    boost::asio::io_context& ioc_;
    std::size_t idle_budget_ = 1024;
    std::size_t idle_total_ = 0;
    std::vector<std::vector<std::shared_ptr<UpstreamConnection>>> idle_;  // by endpoint id; LIFO
    std::vector<bool> in_use_;  // empty until the first retain(): all in use
    struct TlsState {
        std::shared_ptr<boost::asio::ssl::context> context;  // held: no other context reuses its address
        std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session{nullptr, &SSL_SESSION_free};
        std::string last_failure;
    };
    std::vector<TlsState> tls_;  // by endpoint id
};

}  // namespace canaryd::io
