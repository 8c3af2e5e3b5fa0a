#include "io/h2/stream_pipe.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstring>

namespace canaryd::io {

namespace asio = boost::asio;
using boost::system::error_code;

// ---------------------------------------------------------------- request side

void StreamPipe::push_request(std::string_view bytes, std::size_t window_bytes) {
    request_.append(bytes);
    window_owed_ += window_bytes;
    serve_read();
}

void StreamPipe::end_request() {
    request_ended_ = true;
    serve_read();
}

void StreamPipe::serve_read() {
    if (!read_handler_) return;
    if (!sink_) return complete_read(asio::error::connection_reset, 0);
    if (!request_.empty()) {
        const auto n = std::min(request_.size(), read_into_.size());
        std::memcpy(read_into_.data(), request_.data(), n);
        request_.erase(0, n);
        // The window reopens as the engine takes the bytes, never ahead of it.
        const auto reopened = std::min(window_owed_, n);
        if (reopened != 0) {
            window_owed_ -= reopened;
            sink_->consumed(stream_, reopened);
        }
        return complete_read({}, n);
    }
    if (request_ended_) return complete_read(asio::error::eof, 0);
}

void StreamPipe::complete_read(error_code ec, std::size_t n) {
    auto handler = std::move(*read_handler_);
    read_handler_.reset();
    // Like a socket's completion: never inside the caller's own call.
    asio::post(ioc_, [handler = std::move(handler), ec, n]() mutable { std::move(handler)(ec, n); });
}

void StreamPipe::cancel_read() {
    if (read_handler_) complete_read(asio::error::operation_aborted, 0);
}

// ---------------------------------------------------------------- response side

void StreamPipe::on_response_bytes(std::string_view bytes) {
    if (!sink_ || state_ == State::failed) {
        auto handler = std::move(*write_handler_);
        write_handler_.reset();
        asio::post(ioc_, [handler = std::move(handler)]() mutable { std::move(handler)(asio::error::connection_reset, 0); });
        return;
    }
    pending_.append(bytes);
    if (state_ == State::head) parse_head();
    if (state_ != State::head && state_ != State::done && state_ != State::failed) parse_body();
    maybe_complete_write();
}

void StreamPipe::parse_head() {
    // Interim responses (100 Continue) are dropped: the stream's client sends its body
    // without waiting (HTTP/2 has no Expect handshake of the HTTP/1.1 kind here).
    while (state_ == State::head) {
        http::parse_response_head(pending_, max_head_bytes_, request_was_head_, head_);
        if (head_.state == http::HeadState::incomplete) return;
        if (head_.state == http::HeadState::error) return fail();
        const auto& head = head_.head;
        if (head.status >= 100 && head.status < 200) {
            pending_.erase(0, head.head_bytes);
            continue;
        }
        const bool no_body = head.framing == http::ResponseFraming::none;
        auto fields = h2::h2_response_fields(head);
        const auto head_bytes = head.head_bytes;
        switch (head.framing) {
            case http::ResponseFraming::none: state_ = State::done; break;
            case http::ResponseFraming::content_length:
                remaining_ = head.content_length;
                state_ = remaining_ == 0 ? State::done : State::body_length;
                break;
            case http::ResponseFraming::chunked:
                state_ = State::body_chunked;
                chunked_.keep_trailers();  // they end the stream as HTTP/2 trailers
                break;
            case http::ResponseFraming::until_close: state_ = State::body_until_close; break;
        }
        pending_.erase(0, head_bytes);  // the head's views die here
        sink_->response_head(stream_, std::move(fields), no_body || state_ == State::done);
        if (!sink_) return;
    }
}

void StreamPipe::parse_body() {
    const auto before = body_.size();
    switch (state_) {
        case State::body_length: {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, pending_.size()));
            body_.append(pending_, 0, n);
            pending_.erase(0, n);
            remaining_ -= n;
            if (remaining_ == 0) state_ = State::done;
            break;
        }
        case State::body_until_close:
            body_.append(pending_);
            pending_.clear();
            break;
        case State::body_chunked: {
            std::string_view input = pending_;
            std::size_t used = 0;
            while (true) {
                const auto step = chunked_.next(input.substr(used));
                used += step.consumed;
                if (step.status == http::ChunkedDecoder::Status::data) {
                    body_.append(step.data);
                    continue;
                }
                if (step.status == http::ChunkedDecoder::Status::done) {
                    state_ = State::done;
                    for (auto& field : chunked_.trailer_fields())
                        if (field.first != "content-length" && field.first != "transfer-encoding" && field.first != "connection")
                            trailers_.push_back(std::move(field));
                }
                if (step.status == http::ChunkedDecoder::Status::error) {
                    pending_.clear();
                    return fail();
                }
                break;
            }
            pending_.erase(0, used);
            break;
        }
        default: return;
    }
    if (body_.size() != before || state_ == State::done) sink_->response_data(stream_);
}

void StreamPipe::take_response(std::size_t n) {
    body_.erase(0, n);
    maybe_complete_write();
}

void StreamPipe::maybe_complete_write() {
    if (!write_handler_) return;
    // Complete the engine's write only while the client keeps up (or the stream is gone).
    if (sink_ && state_ != State::failed && body_.size() >= kResponseQueue) return;
    auto handler = std::move(*write_handler_);
    write_handler_.reset();
    const auto ec = sink_ && state_ != State::failed ? error_code{} : error_code(asio::error::connection_reset);
    const auto n = ec ? 0 : write_size_;
    asio::post(ioc_, [handler = std::move(handler), ec, n]() mutable { std::move(handler)(ec, n); });
}

void StreamPipe::end_response() {
    if (state_ == State::body_until_close) {
        state_ = State::done;
        if (sink_) sink_->response_data(stream_);
        return;
    }
    // Shut before the response was whole: the stream cannot be completed honestly.
    if (state_ != State::done) fail();
}

void StreamPipe::close() {
    if (state_ != State::done) fail();
    if (read_handler_) complete_read(asio::error::operation_aborted, 0);
}

void StreamPipe::fail() {
    if (state_ == State::failed) return;
    state_ = State::failed;
    if (auto* sink = sink_) {
        sink_ = nullptr;
        sink->reset(stream_);
    }
    maybe_complete_write();
}

void StreamPipe::detach() {
    sink_ = nullptr;
    serve_read();
    maybe_complete_write();
}

}  // namespace canaryd::io
