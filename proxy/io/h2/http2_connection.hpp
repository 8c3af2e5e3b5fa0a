// A client connection that speaks HTTP/2 (RFC 9113; issue #16): h2c by prior knowledge on a
// plain listener (the connection preface), or h2 chosen by ALPN on a TLS listener. nghttp2
// does the framing, HPACK, flow control and the protocol's checks (the well-kept library for
// it); each stream is then served by a ClientSession of its own over a StreamPipe, so every
// stream gets its own route, version decision (overrides, sticky key, weighted pick — a
// weight of 0 stops canary streams at once even on an open connection), signals and
// access-log line.
//
// Limits (SETTINGS, RFC 9113 §6.5.2): 100 concurrent streams, the header list bounded by
// defaults.limits.header_bytes, a 64 KiB stream window reopened only as the request body is
// taken (so a slow upstream bounds memory), responses queued per stream up to 64 KiB. The
// floods of recent years are bounded by nghttp2's own limits (settings per frame, resets per
// second, CONTINUATION frames per header block).
//
// Single-threaded on the connection's worker, like every session.
#pragma once

#include "io/h2/stream_pipe.hpp"

#include <nghttp2/nghttp2.h>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace canaryd::io {

class ClientSession;
class Worker;

class Http2Connection final : public StreamSink, public std::enable_shared_from_this<Http2Connection> {
public:
    // `outer` owns the socket (and TLS); `received` are bytes already read (the preface).
    Http2Connection(Worker& worker, std::shared_ptr<ClientSession> outer, std::string peer_ip, bool https);
    ~Http2Connection() override;

    void start(std::string_view received);
    void drain();  // GOAWAY; the connection closes when its streams are done
    void check_deadlines(std::chrono::steady_clock::time_point now);

    // StreamSink
    void response_head(std::int32_t stream, h2::HeaderList fields, bool ends_stream) override;
    void response_data(std::int32_t stream) override;
    void consumed(std::int32_t stream, std::size_t request_bytes) override;
    void reset(std::int32_t stream) override;

private:
    struct Stream {
        h2::HeaderList fields;
        h2::HeaderList trailers;
        std::size_t field_bytes = 0;
        bool headers_done = false;
        bool chunked_body = false;
        std::shared_ptr<StreamPipe> pipe;
        std::shared_ptr<ClientSession> session;
        bool response_started = false;
        bool data_deferred = false;
        bool too_large = false;  // its header list passed the limit: answered 431
    };

    static ssize_t read_body(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                                   std::uint32_t* flags, nghttp2_data_source* source, void* user_data);
    // nghttp2 callbacks (user_data is this).
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void*);
    static int on_header(nghttp2_session*, const nghttp2_frame*, const std::uint8_t*, std::size_t, const std::uint8_t*,
                         std::size_t, std::uint8_t, void*);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t*, std::size_t, void*);
    static int on_stream_close(nghttp2_session*, std::int32_t, std::uint32_t, void*);

    void start_stream(std::int32_t id, Stream& stream, bool ends_stream);
    void answer_error(std::int32_t id, unsigned status, const std::string& reason);
    void do_read();
    void on_read(boost::system::error_code ec, std::size_t n);
    void feed(const std::uint8_t* data, std::size_t n);
    void flush();  // writes what nghttp2 has to send, one write at a time
    void close();

    Worker& worker_;
    std::shared_ptr<ClientSession> outer_;
    std::string peer_ip_;
    bool https_;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, Stream> streams_;
    std::string read_buffer_;
    std::string write_buffer_;
    bool writing_ = false;
    bool reading_ = false;
    bool closed_ = false;
    // A connection error: nothing more is read; the GOAWAY goes out (within a second, or the
    // connection is closed without it) and the connection closes.
    bool broken_ = false;
    bool draining_ = false;
    std::chrono::steady_clock::time_point broken_at_{};
    // Inside nghttp2_session_mem_recv/mem_send: nghttp2 may not be re-entered to send, so a
    // flush asked for meanwhile runs when the call returns.
    bool in_nghttp2_ = false;
    bool flush_wanted_ = false;
    std::chrono::steady_clock::time_point last_activity_{};
    std::chrono::steady_clock::time_point write_started_{};
};

}  // namespace canaryd::io
