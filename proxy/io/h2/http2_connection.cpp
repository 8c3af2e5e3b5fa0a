#include "io/h2/http2_connection.hpp"

#include "core/http/error_page.hpp"
#include "io/log/log.hpp"
#include "io/server/worker.hpp"
#include "io/session/client_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace canaryd::io {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kMaxConcurrentStreams = 100;
constexpr std::int32_t kConnectionWindow = 1 << 20;  // many streams may be sending at once
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr std::uint64_t kResetBurst = 200;
constexpr std::uint64_t kResetsPerSecond = 50;

Http2Connection& self_of(void* user_data) { return *static_cast<Http2Connection*>(user_data); }

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

Http2Connection::Http2Connection(Worker& worker, std::shared_ptr<ClientSession> outer, std::string peer_ip, bool https)
    : worker_(worker), outer_(std::move(outer)), peer_ip_(std::move(peer_ip)), https_(https) {}

Http2Connection::~Http2Connection() {
    if (session_) nghttp2_session_del(session_);
}

void Http2Connection::start(std::string_view received) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Http2Connection::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Http2Connection::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Http2Connection::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Http2Connection::on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Http2Connection::on_stream_close);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // The window reopens as each stream's body is taken (consumed()), not on arrival.
    nghttp2_option_set_no_auto_window_update(option, 1);
    const auto& limits = worker_.snapshot()->config->defaults.limits;
    nghttp2_option_set_max_send_header_block_length(option, 256 * 1024);
    // The HTTP/2 attacks of recent years, each bounded per connection (the peer then gets
    // GOAWAY and the connection closes; other connections are not affected):
    // rapid reset (CVE-2023-44487): streams opened and reset at once start upstream work,
    // so resets beyond a burst of 200 and 50 a second end the connection;
    nghttp2_option_set_stream_reset_rate_limit(option, kResetBurst, kResetsPerSecond);
    // CONTINUATION flood (CVE-2024-27316 and kin): at most 8 CONTINUATION frames per header
    // block (and the block is bounded by the header list limit below);
    nghttp2_option_set_max_continuations(option, 8);
    // SETTINGS / PING floods: acknowledgements the peer does not read are capped, and so are
    // the entries of one SETTINGS frame.
    nghttp2_option_set_max_outbound_ack(option, 1000);
    nghttp2_option_set_max_settings(option, 32);
    nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);

    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(StreamPipe::kResponseQueue)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(limits.header_bytes)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
    last_activity_ = Clock::now();
    feed(reinterpret_cast<const std::uint8_t*>(received.data()), received.size());
    if (closed_) return;
    flush();
    if (!broken_) do_read();
}

// ---------------------------------------------------------------- nghttp2 callbacks

int Http2Connection::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = self_of(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    self.streams_.try_emplace(frame->hd.stream_id);
    return 0;
}

int Http2Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                               std::size_t name_length, const std::uint8_t* value, std::size_t value_length, std::uint8_t,
                               void* user_data) {
    auto& self = self_of(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto it = self.streams_.find(frame->hd.stream_id);
    if (it == self.streams_.end()) return 0;
    auto& stream = it->second;
    stream.field_bytes += name_length + value_length + 32;  // RFC 9113 §6.5.2's accounting
    const auto limit = self.worker_.snapshot()->config->defaults.limits.header_bytes;
    if (stream.field_bytes > limit) {
        // Over SETTINGS_MAX_HEADER_LIST_SIZE: this stream is answered 431, the connection lives.
        stream.too_large = true;
        stream.fields.clear();
        return 0;
    }
    if (stream.too_large) return 0;
    auto& list = stream.headers_done ? stream.trailers : stream.fields;
    list.emplace_back(std::string(reinterpret_cast<const char*>(name), name_length),
                      std::string(reinterpret_cast<const char*>(value), value_length));
    return 0;
}

int Http2Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = self_of(user_data);
    auto it = self.streams_.find(frame->hd.stream_id);
    if (it == self.streams_.end()) return 0;
    auto& stream = it->second;
    const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
        if (!stream.headers_done) {
            stream.headers_done = true;
            if (stream.too_large) {
                self.answer_error(frame->hd.stream_id, 431, "request header fields too large");
                return 0;
            }
            self.start_stream(frame->hd.stream_id, stream, ends);
            return 0;
        }
        // Trailers: the end of the request body.
        if (stream.pipe && stream.chunked_body) {
            std::string last;
            h2::append_last_chunk(last, stream.trailers);
            stream.pipe->push_request(last, 0);
        }
        if (stream.pipe) stream.pipe->end_request();
        return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA && ends && stream.pipe) {
        if (stream.chunked_body) {
            std::string last;
            h2::append_last_chunk(last, {});
            stream.pipe->push_request(last, 0);
        }
        stream.pipe->end_request();
    }
    return 0;
}

int Http2Connection::on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                                   std::size_t length, void* user_data) {
    auto& self = self_of(user_data);
    auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end() || !it->second.pipe) {
        nghttp2_session_consume(session, stream_id, length);  // nobody reads it: keep the connection's window open
        return 0;
    }
    auto& stream = it->second;
    const std::string_view bytes(reinterpret_cast<const char*>(data), length);
    if (stream.chunked_body) {
        std::string chunk;
        h2::append_chunk(chunk, bytes);
        stream.pipe->push_request(chunk, length);
    } else {
        stream.pipe->push_request(bytes, length);
    }
    return 0;
}

int Http2Connection::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user_data) {
    auto& self = self_of(user_data);
    auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end()) return 0;
    // Whatever the reason (done, reset by the client, refused), the engine lets go of it.
    if (it->second.pipe) it->second.pipe->detach();
    self.streams_.erase(it);
    return 0;
}

// ---------------------------------------------------------------- streams

void Http2Connection::start_stream(std::int32_t id, Stream& stream, bool ends_stream) {
    auto request = h2::h1_request(stream.fields, ends_stream);
    if (!request) return answer_error(id, 400, request.message());
    stream.chunked_body = request->chunked_body;
    bool is_head = false;
    for (const auto& [name, value] : stream.fields)
        if (name == ":method") is_head = value == "HEAD";
    const auto& limits = worker_.snapshot()->config->defaults.limits;
    stream.pipe = std::make_shared<StreamPipe>(worker_.context(), *this, id, is_head, limits.header_bytes);
    stream.pipe->push_request(request->head, 0);
    if (ends_stream) stream.pipe->end_request();
    stream.session = std::make_shared<ClientSession>(worker_, stream.pipe, peer_ip_, https_);
    stream.fields.clear();
    stream.session->start();
}

void Http2Connection::answer_error(std::int32_t id, unsigned status, const std::string& reason) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto pipe = std::make_shared<StreamPipe>(worker_.context(), *this, id, false, 64 * 1024);
    it->second.pipe = pipe;
    std::string response;
    http::append_error_response(response, status, reason, 11, false, "");
    pipe->end_request();
    pipe->async_write(asio::buffer(response), [](error_code, std::size_t) {});
    pipe->end_response();
}

void Http2Connection::response_head(std::int32_t id, h2::HeaderList fields, bool ends_stream) {
    auto it = streams_.find(id);
    if (it == streams_.end() || closed_) return;
    auto& stream = it->second;
    stream.response_started = true;
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields) nva.push_back(make_nv(name, value));
    nghttp2_data_provider provider{};
    provider.read_callback = &Http2Connection::read_body;
    nghttp2_submit_response(session_, id, nva.data(), nva.size(), ends_stream ? nullptr : &provider);
    flush();
}

void Http2Connection::response_data(std::int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end() || closed_) return;
    if (it->second.data_deferred) {
        it->second.data_deferred = false;
        nghttp2_session_resume_data(session_, id);
    }
    flush();
}

ssize_t Http2Connection::read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                                   std::uint32_t* flags, nghttp2_data_source*, void* user_data) {
    auto& self = self_of(user_data);
    auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end() || !it->second.pipe) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    auto& stream = it->second;
    auto& pipe = *stream.pipe;
    const auto& body = pipe.response_body();
    const auto n = std::min(length, body.size());
    std::memcpy(buf, body.data(), n);
    const bool complete = pipe.response_complete() && n == body.size();
    pipe.take_response(n);  // may let the engine's next write through
    if (complete) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (const auto& trailers = pipe.response_trailers(); !trailers.empty()) {
            // The stream ends with a HEADERS frame of its trailers instead (gRPC's status).
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            std::vector<nghttp2_nv> nva;
            for (const auto& [name, value] : trailers) nva.push_back(make_nv(name, value));
            nghttp2_submit_trailer(self.session_, stream_id, nva.data(), nva.size());
        }
        return static_cast<ssize_t>(n);
    }
    if (n == 0) {
        stream.data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
}

void Http2Connection::consumed(std::int32_t id, std::size_t request_bytes) {
    if (closed_) return;
    nghttp2_session_consume(session_, id, request_bytes);
    flush();
}

void Http2Connection::reset(std::int32_t id) {
    if (closed_) return;
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    // An engine that gave up before its response began answers nothing the client can use:
    // INTERNAL_ERROR (RFC 9113 §7); after it began, the same, the response is cut.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    flush();
}

// ---------------------------------------------------------------- connection I/O

void Http2Connection::do_read() {
    if (closed_ || reading_) return;
    reading_ = true;
    read_buffer_.resize(kReadChunk);
    outer_->raw_read_some(asio::buffer(read_buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->on_read(ec, n);
    });
}

void Http2Connection::on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) return close();
    last_activity_ = Clock::now();
    feed(reinterpret_cast<const std::uint8_t*>(read_buffer_.data()), n);
    if (closed_) return;
    flush();
    if (!broken_) do_read();
}

void Http2Connection::feed(const std::uint8_t* data, std::size_t n) {
    if (n == 0) return;
    in_nghttp2_ = true;
    const auto used = nghttp2_session_mem_recv(session_, data, n);
    in_nghttp2_ = false;
    if (used < 0) {
        // A connection error (RFC 9113 §5.4.1): say so with a GOAWAY (a flood is
        // ENHANCE_YOUR_CALM, anything else PROTOCOL_ERROR), send it, then close.
        const auto error = static_cast<int>(used);
        const bool flood = error == NGHTTP2_ERR_FLOODED || error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ||
                           error == NGHTTP2_ERR_TOO_MANY_SETTINGS;
        nghttp2_session_terminate_session(session_, flood ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
        log::info("h2_connection_error", {{"peer", peer_ip_}, {"error", nghttp2_strerror(error)}});
        broken_ = true;
        broken_at_ = Clock::now();
        flush();
    }
}

void Http2Connection::flush() {
    if (closed_ || writing_) return;
    if (in_nghttp2_) {
        flush_wanted_ = true;
        return;
    }
    write_buffer_.clear();
    in_nghttp2_ = true;
    while (write_buffer_.size() < kWriteChunk) {
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) {
            in_nghttp2_ = false;
            return close();
        }
        if (n == 0) break;
        write_buffer_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    in_nghttp2_ = false;
    flush_wanted_ = false;
    if (write_buffer_.empty()) {
        // Nothing more to say and nothing more to hear (GOAWAY exchanged, or an error): done.
        if (broken_ || (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_))) close();
        return;
    }
    writing_ = true;
    write_started_ = Clock::now();
    outer_->raw_write(asio::buffer(write_buffer_), [self = shared_from_this()](error_code ec, std::size_t) {
        self->writing_ = false;
        if (self->closed_) return;
        if (ec) return self->close();
        self->last_activity_ = Clock::now();
        self->flush();
    });
}

void Http2Connection::drain() {
    if (closed_ || draining_) return;
    draining_ = true;
    // A graceful GOAWAY (RFC 9113 §6.8): the streams already taken are answered, newer ones
    // are refused (the client may send them elsewhere); the connection closes when the last
    // stream is done (flush: nothing to read or write any more).
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    flush();
}

void Http2Connection::check_deadlines(Clock::time_point now) {
    if (closed_) return;
    if (broken_ && now - broken_at_ > std::chrono::seconds(1)) return close();
    const auto idle = worker_.snapshot()->config->defaults.timeouts.idle;
    // A client that does not read what is written to it, or a connection with no stream and
    // no traffic for the idle timeout, is closed (the streams' own deadlines run in their
    // sessions).
    if (writing_ && now - write_started_ > idle) return close();
    if (streams_.empty() && now - last_activity_ > idle) {
        nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
        flush();
        if (!writing_) close();
    }
}

void Http2Connection::close() {
    if (closed_) return;
    closed_ = true;
    for (auto& [id, stream] : streams_)
        if (stream.pipe) stream.pipe->detach();
    streams_.clear();
    auto outer = std::move(outer_);
    outer->raw_close();  // drops the session's hold on this connection too
}

}  // namespace canaryd::io
