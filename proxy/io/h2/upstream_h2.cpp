#include "io/h2/upstream_h2.hpp"

#include "io/control/snapshot.hpp"
#include "io/log/log.hpp"
#include "io/upstream/upstream_tls.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <algorithm>
#include <cstring>

namespace canaryd::io {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int32_t kStreamWindow = 64 * 1024;
constexpr std::uint32_t kAssumedConcurrency = 100;  // until the peer's SETTINGS say otherwise
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kWriteChunk = 64 * 1024;

Http2Upstream& self_of(void* user_data) { return *static_cast<Http2Upstream*>(user_data); }

}  // namespace

// ---------------------------------------------------------------- the engine's entry points

void upstream_stream_write(UpstreamStream& stream, std::string bytes, UpstreamIoHandler handler) {
    stream.write(std::move(bytes), std::move(handler));
}
void upstream_stream_read_some(UpstreamStream& stream, asio::mutable_buffer into, UpstreamIoHandler handler) {
    stream.read_some(into, std::move(handler));
}
void upstream_stream_cancel(UpstreamStream& stream) { stream.cancel(); }
void upstream_stream_close(UpstreamStream& stream) { stream.close(); }

// ---------------------------------------------------------------- UpstreamStream

void UpstreamStream::wait_ready(ReadyHandler handler) {
    if (ready_) {
        asio::post(ioc_, [handler = std::move(handler), ec = *ready_]() mutable { std::move(handler)(ec); });
        return;
    }
    ready_handler_.emplace(std::move(handler));
}

void UpstreamStream::on_ready(error_code ec) {
    if (resubmit_on_ready_) {
        // A replay: the engine is already past its connect; send the request again.
        resubmit_on_ready_ = false;
        if (ec) return fail(asio::error::connection_refused);
        return on_request_bytes({});
    }
    ready_ = ec;
    if (ready_handler_) {
        auto handler = std::move(*ready_handler_);
        ready_handler_.reset();
        asio::post(ioc_, [handler = std::move(handler), ec]() mutable { std::move(handler)(ec); });
    }
}

void UpstreamStream::write(std::string bytes, IoHandler handler) {
    write_handler_.emplace(std::move(handler));
    write_size_ = bytes.size();
    if (failed_ || closed_) return maybe_complete_write();
    if (replayable_) {
        written_.append(bytes);
        if (written_.size() > kReplayLimit) {
            replayable_ = false;
            written_.clear();
            written_.shrink_to_fit();
        }
    }
    pending_.append(bytes);
    on_request_bytes({});
}

bool UpstreamStream::retry() {
    // RFC 9113 §8.7: a refused stream was not processed, so it is safe to send again; a few
    // times at most, so that a peer refusing everything cannot keep one in a loop.
    if (retries_ >= kMaxRetries) return false;
    if (!relocate()) return false;
    ++retries_;
    return true;
}

bool UpstreamStream::relocate() {
    if (!replayable_ || !where_.pool || response_started_ || response_done_) return false;
    if (auto old = std::move(connection_)) old->release(*this);
    id_ = -1;
    if (ready_ && !*ready_) {
        // The engine already writes: what it wrote waits for the new connection (on_ready).
        pending_ = written_;
        head_parsed_ = false;
        body_.clear();
        chunked_ = http::ChunkedDecoder{};
        body_complete_ = false;
        resubmit_on_ready_ = true;
    }
    connection_ = where_.pool->connection_for(where_.endpoint_id, where_.endpoint, where_.connect_timeout);
    connection_->add(shared_from_this());
    return true;
}

void UpstreamStream::on_request_bytes(std::string_view) {
    // Between a replay's move and its new connection being up, bytes wait (on_ready sends them).
    if (resubmit_on_ready_) return maybe_complete_write();
    if (!head_parsed_) {
        http::HeadLimits limits;
        limits.request_line_bytes = limits.header_bytes = limits.field_bytes = 1 << 20;
        limits.field_count = 10'000;
        http::HeadParse parse;
        http::parse_request_head(pending_, limits, parse);
        if (parse.state == http::HeadState::incomplete) return maybe_complete_write();
        if (parse.state == http::HeadState::error) return fail(asio::error::invalid_argument);
        const auto& head = parse.head;
        head_parsed_ = true;
        request_was_head_ = head.is_head_method();
        body_framing_ = head.framing == http::BodyFraming::content_length ? Body::length
                        : head.framing == http::BodyFraming::chunked      ? Body::chunked
                                                                          : Body::none;
        body_remaining_ = head.content_length;
        if (body_framing_ == Body::length && body_remaining_ == 0) body_framing_ = Body::none;
        body_complete_ = body_framing_ == Body::none;
        auto fields = h2::h2_request_fields(head, connection_ && connection_->https());
        const auto head_bytes = head.head_bytes;
        pending_.erase(0, head_bytes);  // the head's views die here
        if (connection_) connection_->submit(*this, fields, !body_complete_);
    }
    parse_body();
    maybe_complete_write();
}

void UpstreamStream::parse_body() {
    const auto before = body_.size();
    if (body_framing_ == Body::length) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(body_remaining_, pending_.size()));
        body_.append(pending_, 0, n);
        pending_.erase(0, n);
        body_remaining_ -= n;
        if (body_remaining_ == 0) body_complete_ = true;
    } else if (body_framing_ == Body::chunked) {
        std::string_view input = pending_;
        std::size_t used = 0;
        while (!body_complete_) {
            const auto step = chunked_.next(input.substr(used));
            used += step.consumed;
            if (step.status == http::ChunkedDecoder::Status::data) body_.append(step.data);
            else if (step.status == http::ChunkedDecoder::Status::done) body_complete_ = true;
            else if (step.status == http::ChunkedDecoder::Status::error) return fail(asio::error::invalid_argument);
            else break;
        }
        pending_.erase(0, used);
    }
    if ((body_.size() != before || body_complete_) && connection_ && id_ >= 0) connection_->resume(*this);
}

std::size_t UpstreamStream::take_body(std::uint8_t* out, std::size_t length, bool& eof) {
    const auto n = std::min(length, body_.size());
    std::memcpy(out, body_.data(), n);
    body_.erase(0, n);
    eof = body_complete_ && body_.empty();
    maybe_complete_write();
    return n;
}

void UpstreamStream::maybe_complete_write() {
    if (!write_handler_) return;
    if (!failed_ && !closed_ && body_.size() >= kRequestQueue) return;  // the upstream is behind
    auto handler = std::move(*write_handler_);
    write_handler_.reset();
    const error_code ec = failed_ ? *failed_ : closed_ ? error_code(asio::error::operation_aborted) : error_code{};
    const auto n = ec ? 0 : write_size_;
    asio::post(ioc_, [handler = std::move(handler), ec, n]() mutable { std::move(handler)(ec, n); });
}

void UpstreamStream::read_some(asio::mutable_buffer into, IoHandler handler) {
    read_into_ = into;
    read_handler_.emplace(std::move(handler));
    serve_read();
}

void UpstreamStream::serve_read() {
    if (!read_handler_) return;
    if (!response_.empty()) {
        const auto n = std::min(response_.size(), read_into_.size());
        std::memcpy(read_into_.data(), response_.data(), n);
        response_.erase(0, n);
        // The stream's window reopens as the engine takes the bytes (framing bytes included
        // in the count, which errs on the side of reopening a little early).
        const auto reopened = std::min(unconsumed_, n);
        if (reopened != 0 && connection_) {
            unconsumed_ -= reopened;
            connection_->consumed(*this, reopened);
        }
        return complete_read({}, n);
    }
    if (failed_) return complete_read(*failed_, 0);
    if (response_done_) return complete_read(asio::error::eof, 0);
}

void UpstreamStream::complete_read(error_code ec, std::size_t n) {
    auto handler = std::move(*read_handler_);
    read_handler_.reset();
    asio::post(ioc_, [handler = std::move(handler), ec, n]() mutable { std::move(handler)(ec, n); });
}

void UpstreamStream::on_response_fields(h2::HeaderList fields, bool ends_stream) {
    unsigned status = 0;
    for (const auto& [name, value] : fields)
        if (name == ":status") status = static_cast<unsigned>(std::atoi(value.c_str()));
    response_has_body_ = !request_was_head_ && status != 204 && status != 304;
    bool has_length = false;
    for (const auto& [name, value] : fields) has_length = has_length || name == "content-length";
    response_chunked_ = response_has_body_ && !has_length;
    response_.append(h2::h1_response_head(fields, response_has_body_));
    response_started_ = true;
    if (ends_stream) {
        if (response_chunked_) response_.append("0\r\n\r\n");
        response_done_ = true;
    }
    serve_read();
}

void UpstreamStream::on_response_data(std::string_view data) {
    if (response_done_ || !response_has_body_) return;
    if (response_chunked_) h2::append_chunk(response_, data);
    else response_.append(data);
    unconsumed_ += data.size();
    serve_read();
}

void UpstreamStream::on_response_trailers(const h2::HeaderList& trailers) {
    if (response_done_) return;
    // Only a chunked body can carry them in HTTP/1.1 (gRPC's never has a content-length).
    if (response_chunked_) h2::append_trailers(response_, trailers);
    response_done_ = true;
    serve_read();
}

void UpstreamStream::on_closed(std::uint32_t h2_error) {
    if (h2_error == NGHTTP2_NO_ERROR && response_done_) return serve_read();
    if (h2_error == NGHTTP2_NO_ERROR && response_started_ && !failed_) {
        // Ended by DATA with END_STREAM (on_end) or an empty end: close the chunked body.
        if (response_chunked_) response_.append("0\r\n\r\n");
        response_done_ = true;
        return serve_read();
    }
    // Refused (a GOAWAY's unanswered streams, a connection that could not be made): never
    // processed, so sent again once elsewhere when it can be. Else it was cut.
    if (h2_error == NGHTTP2_REFUSED_STREAM && ready_ && !*ready_ && retry()) return;
    if (!response_done_)
        fail(h2_error == NGHTTP2_REFUSED_STREAM ? error_code(asio::error::connection_refused)
                                                : error_code(asio::error::connection_reset));
}

void UpstreamStream::fail(error_code ec) {
    if (failed_) return;
    failed_ = ec;
    if (!ready_) on_ready(ec);
    serve_read();
    maybe_complete_write();
}

void UpstreamStream::cancel() {
    if (ready_handler_) on_ready(asio::error::operation_aborted);
    if (read_handler_) complete_read(asio::error::operation_aborted, 0);
    if (write_handler_) {
        closed_ = true;
        maybe_complete_write();
    }
}

void UpstreamStream::close() {
    if (closed_ && !connection_) return;
    closed_ = true;
    cancel();
    if (auto connection = std::move(connection_)) {
        if (id_ >= 0 && !response_done_) connection->reset(*this);
        connection->release(*this);
    }
}

// ---------------------------------------------------------------- Http2Upstream

Http2Upstream::Http2Upstream(asio::io_context& ioc, const ResolvedEndpoint& endpoint, std::uint32_t endpoint_id)
    : ioc_(ioc),
      endpoint_id_(endpoint_id),
      address_(endpoint.address),
      tls_context_(endpoint.tls),
      tls_name_(endpoint.tls_name),
      tls_verify_(endpoint.tls_verify),
      transport_(std::make_shared<UpstreamConnection>(ioc, endpoint_id)),
      last_used_(Clock::now()) {}

Http2Upstream::~Http2Upstream() {
    if (session_) nghttp2_session_del(session_);
}

void Http2Upstream::connect(Clock::duration timeout) {
    connecting_ = true;
    connect_deadline_ = Clock::now() + timeout;
    transport_->socket.async_connect(address_, [self = shared_from_this()](error_code ec) { self->on_connected(ec); });
}

void Http2Upstream::on_connected(error_code ec) {
    if (dead_) return;
    if (ec) return close(asio::error::connection_refused);
    error_code ignored;
    transport_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!tls_context_) return start_session();
    transport_->tls_context = tls_context_;
    transport_->tls = std::make_unique<asio::ssl::stream<WorkerSocket&>>(transport_->socket, *tls_context_);
    prepare_upstream_ssl(transport_->tls->native_handle(), tls_name_, tls_verify_);
    transport_->tls->async_handshake(asio::ssl::stream_base::client, [self = shared_from_this()](error_code e) {
        if (self->dead_) return;
        if (e) return self->close(asio::error::connection_refused);
        const unsigned char* protocol = nullptr;
        unsigned int length = 0;
        SSL_get0_alpn_selected(self->transport_->tls->native_handle(), &protocol, &length);
        // `protocol: http2` over TLS needs the server to agree to h2 (RFC 7301).
        if (length != 2 || std::memcmp(protocol, "h2", 2) != 0) return self->close(asio::error::connection_refused);
        self->start_session();
    });
}

void Http2Upstream::start_session() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Http2Upstream::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Http2Upstream::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Http2Upstream::on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Http2Upstream::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &Http2Upstream::on_frame_not_send);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_client_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 1 << 20);
    // Ready once the peer's SETTINGS say how many streams it takes (on_settings).
    flush();
    do_read();
}

void Http2Upstream::on_settings() {
    if (ready_) return;
    connecting_ = false;
    ready_ = true;
    // Streams that queued while connecting: as many as the peer takes go here, the rest to
    // other connections (nothing of them was sent).
    const auto limit = std::min<std::uint32_t>(
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), kAssumedConcurrency);
    auto waiting = streams_;  // a copy: a stream told it is ready may finish synchronously
    std::size_t index = 0;
    for (auto& stream : waiting) {
        if (index++ < limit) stream->on_ready({});
        else if (!stream->relocate()) stream->on_closed(NGHTTP2_REFUSED_STREAM);
    }
}

bool Http2Upstream::has_room() const {
    if (!usable()) return false;
    const auto limit = session_ ? nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                                : kAssumedConcurrency;
    return streams_.size() < std::min<std::uint32_t>(limit, kAssumedConcurrency);
}

void Http2Upstream::add(const std::shared_ptr<UpstreamStream>& stream) {
    streams_.push_back(stream);
    last_used_ = Clock::now();
    if (ready_) stream->on_ready({});
    else if (dead_) stream->on_ready(asio::error::connection_refused);
}

void Http2Upstream::submit(UpstreamStream& stream, const h2::HeaderList& fields, bool has_body) {
    if (!ready_ || dead_) return;
    if (going_away_) {
        // The peer takes no new stream here: nothing was sent, so the stream goes elsewhere.
        stream.on_closed(NGHTTP2_REFUSED_STREAM);
        return;
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields)
        nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                       reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                       NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider provider{};
    provider.read_callback = &Http2Upstream::read_body;
    const auto id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), has_body ? &provider : nullptr, nullptr);
    if (id < 0) {
        // No stream id left on this connection (or the session refuses): the stream fails
        // as refused and a later exchange opens a new connection.
        going_away_ = true;
        stream.on_closed(NGHTTP2_REFUSED_STREAM);
        return;
    }
    stream.set_id(id);
    for (auto& s : streams_)
        if (s.get() == &stream) by_id_[id] = s;
    flush();
}

void Http2Upstream::resume(UpstreamStream& stream) {
    if (!session_ || dead_ || stream.id() < 0) return;
    nghttp2_session_resume_data(session_, stream.id());
    flush();
}

void Http2Upstream::consumed(UpstreamStream& stream, std::size_t n) {
    if (!session_ || dead_ || stream.id() < 0) return;
    nghttp2_session_consume(session_, stream.id(), n);
    flush();
}

void Http2Upstream::reset(UpstreamStream& stream) {
    if (!session_ || dead_ || stream.id() < 0) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id(), NGHTTP2_CANCEL);
    flush();
}

void Http2Upstream::release(UpstreamStream& stream) {
    std::erase_if(streams_, [&](const auto& s) { return s.get() == &stream; });
    if (stream.id() >= 0) by_id_.erase(stream.id());
    last_used_ = Clock::now();
}

void Http2Upstream::move_unsent() {
    std::vector<std::shared_ptr<UpstreamStream>> unsent;
    for (auto& stream : streams_)
        if (stream->id() < 0) unsent.push_back(stream);
    for (auto& stream : unsent)
        if (!stream->relocate()) stream->on_closed(NGHTTP2_REFUSED_STREAM);
}

UpstreamStream* Http2Upstream::stream_of(std::int32_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    auto stream = it->second.lock();
    return stream.get();  // kept alive by streams_ (or by the engine) for the callback's length
}

int Http2Upstream::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
                             const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user_data) {
    auto& self = self_of(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    self.partial_[frame->hd.stream_id].fields.emplace_back(std::string(reinterpret_cast<const char*>(name), name_length),
                                                           std::string(reinterpret_cast<const char*>(value), value_length));
    return 0;
}

int Http2Upstream::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = self_of(user_data);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
        self.on_settings();
        return 0;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        // No new stream here; the ones up to its last stream id are still answered.
        self.going_away_ = true;
        // Streams waiting for their request head have sent nothing: they go elsewhere now.
        self.move_unsent();
        return 0;
    }
    auto* stream = self.stream_of(frame->hd.stream_id);
    const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
        auto& partial = self.partial_[frame->hd.stream_id];
        auto fields = std::move(partial.fields);
        partial.fields.clear();
        if (!stream) return 0;
        if (!partial.final_seen) {
            bool interim = false;
            for (const auto& [n, v] : fields) interim = interim || (n == ":status" && !v.empty() && v[0] == '1');
            if (interim) return 0;  // 1xx: not relayed (as for HTTP/2 clients)
            partial.final_seen = true;
            stream->on_response_fields(std::move(fields), ends);
        } else {
            stream->on_response_trailers(fields);
        }
        return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA && ends && stream) stream->on_closed(NGHTTP2_NO_ERROR);
    return 0;
}

int Http2Upstream::on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    // A request's HEADERS that could not go out (the peer's GOAWAY came first): refused,
    // nothing was sent, the stream goes elsewhere.
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto& self = self_of(user_data);
    if (auto* stream = self.stream_of(frame->hd.stream_id)) stream->on_closed(NGHTTP2_REFUSED_STREAM);
    return 0;
}

int Http2Upstream::on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                                 std::size_t length, void* user_data) {
    auto& self = self_of(user_data);
    auto* stream = self.stream_of(stream_id);
    if (!stream) {
        nghttp2_session_consume(self.session_, stream_id, length);
        return 0;
    }
    stream->on_response_data(std::string_view(reinterpret_cast<const char*>(data), length));
    return 0;
}

int Http2Upstream::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
    auto& self = self_of(user_data);
    if (auto* stream = self.stream_of(stream_id)) stream->on_closed(error_code);
    self.partial_.erase(stream_id);
    return 0;
}

ssize_t Http2Upstream::read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                                 std::uint32_t* flags, nghttp2_data_source*, void* user_data) {
    auto& self = self_of(user_data);
    auto* stream = self.stream_of(stream_id);
    if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    bool eof = false;
    const auto n = stream->take_body(buf, length, eof);
    if (eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
}

void Http2Upstream::do_read() {
    if (dead_ || reading_) return;
    reading_ = true;
    read_buffer_.resize(kReadChunk);
    transport_->async_read_some(asio::buffer(read_buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->reading_ = false;
        if (self->dead_) return;
        if (ec) return self->close(asio::error::connection_reset);
        self->in_nghttp2_ = true;
        const auto used = nghttp2_session_mem_recv(self->session_, reinterpret_cast<const std::uint8_t*>(self->read_buffer_.data()), n);
        self->in_nghttp2_ = false;
        if (used < 0) return self->close(asio::error::connection_reset);
        self->flush();
        self->do_read();
    });
}

void Http2Upstream::flush() {
    if (dead_ || writing_ || in_nghttp2_ || !session_) return;
    write_buffer_.clear();
    in_nghttp2_ = true;
    while (write_buffer_.size() < kWriteChunk) {
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(session_, &data);
        if (n <= 0) break;
        write_buffer_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    in_nghttp2_ = false;
    if (write_buffer_.empty()) {
        if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_))
            close(asio::error::connection_reset);
        return;
    }
    writing_ = true;
    transport_->async_write(asio::buffer(write_buffer_), [self = shared_from_this()](error_code ec, std::size_t) {
        self->writing_ = false;
        if (self->dead_) return;
        if (ec) return self->close(asio::error::connection_reset);
        self->flush();
    });
}

void Http2Upstream::check(Clock::time_point now) {
    if (connecting_ && !dead_ && now >= connect_deadline_) close(asio::error::timed_out);
}

void Http2Upstream::close(error_code why) {
    if (dead_) return;
    dead_ = true;
    connecting_ = false;
    auto streams = std::move(streams_);
    streams_.clear();
    by_id_.clear();
    const bool never_up = why == asio::error::connection_refused || why == asio::error::timed_out;
    // A stream that has sent nothing yet was refused, whatever happened: it may go elsewhere.
    for (auto& stream : streams)
        stream->on_closed(never_up || stream->id() < 0 ? NGHTTP2_REFUSED_STREAM : NGHTTP2_INTERNAL_ERROR);
    transport_->close();
}

// ---------------------------------------------------------------- Http2UpstreamPool

std::shared_ptr<Http2Upstream> Http2UpstreamPool::connection_for(std::uint32_t endpoint_id, const ResolvedEndpoint& endpoint,
                                                                 Clock::duration connect_timeout) {
    auto& list = connections_[endpoint_id];
    for (auto& c : list)
        if (c->has_room()) return c;
    auto connection = std::make_shared<Http2Upstream>(ioc_, endpoint, endpoint_id);
    list.push_back(connection);
    connection->connect(connect_timeout);
    return connection;
}

std::shared_ptr<UpstreamConnection> Http2UpstreamPool::open(std::uint32_t endpoint_id, const ResolvedEndpoint& endpoint,
                                                            Clock::duration connect_timeout) {
    auto connection = connection_for(endpoint_id, endpoint, connect_timeout);
    auto stream = std::make_shared<UpstreamStream>(ioc_, connection,
                                                   UpstreamStream::Where{this, endpoint_id, endpoint, connect_timeout});
    connection->add(stream);
    auto upstream = std::make_shared<UpstreamConnection>(ioc_, endpoint_id);
    upstream->stream = std::move(stream);
    return upstream;
}

void Http2UpstreamPool::sweep(Clock::duration idle) {
    const auto now = Clock::now();
    for (auto& [id, list] : connections_) {
        for (auto& c : list)
            if (c->idle_for(idle, now)) c->close(asio::error::connection_reset);
        std::erase_if(list, [](const auto& c) { return !c->usable(); });
    }
}

void Http2UpstreamPool::check(Clock::time_point now) {
    for (auto& [id, list] : connections_)
        for (auto& c : list) c->check(now);
}

void Http2UpstreamPool::close_all() {
    for (auto& [id, list] : connections_)
        for (auto& c : list) c->close(asio::error::operation_aborted);
    connections_.clear();
}

}  // namespace canaryd::io
