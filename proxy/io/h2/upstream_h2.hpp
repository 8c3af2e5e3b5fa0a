// Upstreams that speak HTTP/2 (a version's `protocol: http2`; issue #16): gRPC services, and
// any backend that prefers it. Per worker and endpoint, a few multiplexed client connections
// (nghttp2): a stream opens on the first connection with room under the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS, else on a new one. A GOAWAY stops new streams on that
// connection while the streams the peer said it will still answer (up to its last stream id)
// finish; streams it will not answer fail as refused.
//
// canaryd's request engine sees each stream as an upstream connection of its own
// (UpstreamConnection with `stream` set): it writes the HTTP/1.1 request it built, which
// becomes the stream's HEADERS and DATA (core/h2/h1_translate), and reads the stream's
// response as HTTP/1.1 — chunked when it may end with trailers, which the engine relays
// (gRPC's grpc-status). So retries, deadlines, signals and error responses stay the engine's.
// Bounded: a request body queues at most 64 KiB per stream before the engine's write waits;
// a response's window (64 KiB) reopens only as the engine reads.
#pragma once

#include "core/h2/h1_translate.hpp"
#include "core/http/chunked_decoder.hpp"
#include "core/http/request_head.hpp"
#include "io/control/snapshot.hpp"
#include "io/upstream/upstream_pool.hpp"

#include <nghttp2/nghttp2.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::io {

class Http2Upstream;
class Http2UpstreamPool;

class UpstreamStream : public std::enable_shared_from_this<UpstreamStream> {
public:
    using IoHandler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
    using ReadyHandler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
    static constexpr std::size_t kRequestQueue = 64 * 1024;
    // A stream the upstream refused unanswered (a GOAWAY's, RFC 9113 §8.7) is sent again on
    // another connection when the whole request so far is at most this long.
    static constexpr std::size_t kReplayLimit = 64 * 1024;

    struct Where {
        Http2UpstreamPool* pool = nullptr;
        std::uint32_t endpoint_id = 0;
        ResolvedEndpoint endpoint;
        std::chrono::steady_clock::duration connect_timeout{};
    };
    UpstreamStream(boost::asio::io_context& ioc, std::shared_ptr<Http2Upstream> connection, Where where)
        : ioc_(ioc), connection_(std::move(connection)), where_(std::move(where)) {}

    // ---------------------------------------------------------- the engine's side
    // Completes once the connection is up (or with why it could not be made).
    void wait_ready(ReadyHandler handler);
    void write(std::string bytes, IoHandler handler);
    void read_some(boost::asio::mutable_buffer into, IoHandler handler);
    // A deadline: pending operations complete with operation_aborted.
    void cancel();
    // The engine is done with the stream: reset it if it is still open.
    void close();

    // ---------------------------------------------------------- the connection's side
    void on_ready(boost::system::error_code ec);
    void on_response_fields(h2::HeaderList fields, bool ends_stream);
    void on_response_data(std::string_view data);
    void on_response_trailers(const h2::HeaderList& trailers);
    void on_closed(std::uint32_t h2_error);  // the stream ended (NGHTTP2_NO_ERROR when whole)
    // The request body for DATA frames; `eof` when the last byte has been taken.
    std::size_t take_body(std::uint8_t* out, std::size_t length, bool& eof);
    bool body_complete() const { return body_complete_; }
    std::int32_t id() const { return id_; }
    void set_id(std::int32_t id) { id_ = id; }
    bool request_was_head() const { return request_was_head_; }
    // Moves a stream that sent nothing yet to another connection (no retry is spent).
    bool relocate();

private:
    enum class Body : std::uint8_t { none, length, chunked };
    void on_request_bytes(std::string_view bytes);
    void parse_body();
    void serve_read();
    void complete_read(boost::system::error_code ec, std::size_t n);
    void maybe_complete_write();
    void fail(boost::system::error_code ec);
    bool retry();  // on another connection; false when it cannot be replayed

    boost::asio::io_context& ioc_;
    std::shared_ptr<Http2Upstream> connection_;
    Where where_;
    std::string written_;       // every request byte so far, while replayable
    bool replayable_ = true;
    static constexpr int kMaxRetries = 3;
    int retries_ = 0;
    bool resubmit_on_ready_ = false;
    std::int32_t id_ = -1;
    std::optional<ReadyHandler> ready_handler_;
    std::optional<boost::system::error_code> ready_;

    // Request (engine -> upstream).
    std::string pending_;  // request bytes not parsed yet
    bool head_parsed_ = false;
    bool request_was_head_ = false;
    Body body_framing_ = Body::none;
    std::uint64_t body_remaining_ = 0;
    http::ChunkedDecoder chunked_;
    std::string body_;  // decoded request body for DATA
    bool body_complete_ = false;
    std::optional<IoHandler> write_handler_;
    std::size_t write_size_ = 0;

    // Response (upstream -> engine), as HTTP/1.1 bytes.
    std::string response_;
    bool response_chunked_ = false;
    bool response_has_body_ = true;
    bool response_started_ = false;  // the final response's fields arrived
    bool response_done_ = false;
    std::size_t unconsumed_ = 0;  // DATA bytes in `response_` whose window is not reopened yet
    std::optional<boost::system::error_code> failed_;
    boost::asio::mutable_buffer read_into_;
    std::optional<IoHandler> read_handler_;
    bool closed_ = false;
};

// One client connection to an endpoint.
class Http2Upstream : public std::enable_shared_from_this<Http2Upstream> {
public:
    Http2Upstream(boost::asio::io_context& ioc, const ResolvedEndpoint& endpoint, std::uint32_t endpoint_id);
    ~Http2Upstream();

    void connect(std::chrono::steady_clock::duration timeout);
    // A new stream's request can go out (after the connection is up). False when the
    // connection is full, going away or dead.
    bool has_room() const;
    bool usable() const { return !dead_ && !going_away_; }
    bool idle_for(std::chrono::steady_clock::duration d, std::chrono::steady_clock::time_point now) const {
        return streams_.empty() && now - last_used_ >= d;
    }
    std::uint32_t endpoint_id() const { return endpoint_id_; }
    bool https() const { return tls_context_ != nullptr; }
    void add(const std::shared_ptr<UpstreamStream>& stream);
    // From a stream: its request head is ready / more body is queued / it is done with.
    void submit(UpstreamStream& stream, const h2::HeaderList& fields, bool has_body);
    void resume(UpstreamStream& stream);
    void consumed(UpstreamStream& stream, std::size_t n);
    void reset(UpstreamStream& stream);
    void release(UpstreamStream& stream);
    void check(std::chrono::steady_clock::time_point now);  // connect deadline
    void close(boost::system::error_code why);

private:
    static int on_header(nghttp2_session*, const nghttp2_frame*, const std::uint8_t*, std::size_t, const std::uint8_t*,
                         std::size_t, std::uint8_t, void*);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t*, std::size_t, void*);
    static int on_stream_close(nghttp2_session*, std::int32_t, std::uint32_t, void*);
    static int on_frame_not_send(nghttp2_session*, const nghttp2_frame*, int, void*);
    static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t, std::uint32_t*,
                             nghttp2_data_source*, void*);
    void on_connected(boost::system::error_code ec);
    void start_session();
    void on_settings();  // the peer's first SETTINGS: the connection is ready
    void do_read();
    void flush();
    UpstreamStream* stream_of(std::int32_t id);
    void move_unsent();  // after a GOAWAY

    boost::asio::io_context& ioc_;
    std::uint32_t endpoint_id_;
    boost::asio::ip::tcp::endpoint address_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::string tls_name_;
    bool tls_verify_ = true;
    std::shared_ptr<UpstreamConnection> transport_;  // the socket (and TLS), reused type
    nghttp2_session* session_ = nullptr;
    std::vector<std::shared_ptr<UpstreamStream>> streams_;      // every stream on this connection
    std::map<std::int32_t, std::weak_ptr<UpstreamStream>> by_id_;
    struct Partial {
        h2::HeaderList fields;
        bool final_seen = false;
    };
    std::map<std::int32_t, Partial> partial_;  // fields being received, by stream id
    std::string read_buffer_;
    std::string write_buffer_;
    bool connecting_ = false;
    bool ready_ = false;
    bool dead_ = false;
    bool going_away_ = false;
    bool writing_ = false;
    bool reading_ = false;
    bool in_nghttp2_ = false;
    std::chrono::steady_clock::time_point connect_deadline_{};
    std::chrono::steady_clock::time_point last_used_{};
};

// A worker's HTTP/2 upstream connections, by endpoint.
class Http2UpstreamPool {
public:
    explicit Http2UpstreamPool(boost::asio::io_context& ioc) : ioc_(ioc) {}
    ~Http2UpstreamPool() { close_all(); }

    // A connection to the endpoint with room for one more stream (a new one if none has).
    std::shared_ptr<Http2Upstream> connection_for(std::uint32_t endpoint_id, const ResolvedEndpoint& endpoint,
                                                  std::chrono::steady_clock::duration connect_timeout);
    // A stream to the endpoint, as an UpstreamConnection the engine drives.
    std::shared_ptr<UpstreamConnection> open(std::uint32_t endpoint_id, const ResolvedEndpoint& endpoint,
                                             std::chrono::steady_clock::duration connect_timeout);
    // Once a second: connections with no stream for `idle` close, dead ones go.
    void sweep(std::chrono::steady_clock::duration idle);
    // Ten times a second: connect deadlines.
    void check(std::chrono::steady_clock::time_point now);
    void close_all();

private:
    boost::asio::io_context& ioc_;
    std::map<std::uint32_t, std::vector<std::shared_ptr<Http2Upstream>>> connections_;
};

}  // namespace canaryd::io
