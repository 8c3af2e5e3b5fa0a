#include "io/session/request_body_pump.hpp"

#include "io/session/client_session.hpp"
#include "io/session/client_session_internal.hpp"

#include <boost/asio/buffer.hpp>

#include <array>
#include <cstdio>

namespace canaryd::io {

namespace asio = boost::asio;
using namespace session_detail;

RequestBodyPump::State& RequestBodyPump::state() const { return session_.buffers().body; }

void RequestBodyPump::begin(const http::RequestHead& head) {
    auto& s = state();  // fresh with each exchange (ClientSession::reset_exchange)
    s.chunked = head.framing == http::BodyFraming::chunked;
    s.expect_continue = head.expect_continue;
    s.remaining = head.framing == http::BodyFraming::content_length ? head.content_length : 0;
    s.stage = head.framing == http::BodyFraming::none ? Stage::none : Stage::pending;
    if (s.chunked) s.decoder.emplace();
}

void RequestBodyPump::after_head_sent() {
    if (state().stage == Stage::none) return session_.response_.arm_deadline();
    if (state().stage != Stage::pending) return;
    if (state().expect_continue) {
        state().stage = Stage::waiting_continue;
        session_.response_.arm_deadline();
        session_.response_.start_expect_wait();
        return;
    }
    state().stage = Stage::relaying;
    pump();
}

void RequestBodyPump::on_continue() {
    if (state().stage != Stage::waiting_continue) return;
    state().stage = Stage::relaying;
    pump();
}

void RequestBodyPump::abandon_unsent() {
    if (state().stage == Stage::waiting_continue || state().stage == Stage::pending) state().stage = Stage::abandoned;
}

void RequestBodyPump::pump() {
    auto& s = session_;
    if (s.closed_) return;
    if (s.exchange().failed || s.exchange().response_complete || state().stage != Stage::relaying) return stopped();
    const std::string_view available = buffer_view(s.client_buffer_);
    if (!state().chunked) {
        if (available.empty()) return read();
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(state().remaining, available.size()));
        return write(available.substr(0, n), n, false, n == state().remaining);
    }
    const auto step = state().decoder->next(available);
    switch (step.status) {
        case http::ChunkedDecoder::Status::data:
            state().decoded += step.data.size();
            if (state().decoded > s.config().defaults.limits.body_bytes) {
                s.client_buffer_.clear();
                return s.fail_exchange(413, "request body exceeds the limit", std::nullopt);
            }
            return write(step.data, step.consumed, true, false);
        case http::ChunkedDecoder::Status::need_more:
            s.client_buffer_.consume(step.consumed);
            return read();
        case http::ChunkedDecoder::Status::done:
            s.client_buffer_.consume(step.consumed);
            return write({}, 0, true, true);
        case http::ChunkedDecoder::Status::error:
            s.client_buffer_.clear();  // nothing after a bad chunk is ever parsed
            return s.fail_exchange(400, std::string("invalid chunked body: ") + state().decoder->error(), std::nullopt);
    }
}

void RequestBodyPump::read() {
    auto& s = session_;
    state().op_pending = true;
    s.client_read_pending_ = true;
    s.arm_read_deadline(s.config().defaults.timeouts.body);
    s.client_read_some(s.client_buffer_.prepare(kBodyChunk), [self = s.shared_from_this()](error_code ec, std::size_t n) {
        self->body_.on_read_done(ec, n);
    });
}

void RequestBodyPump::on_read_done(error_code ec, std::size_t bytes) {
    auto& s = session_;
    state().op_pending = false;
    s.client_read_pending_ = false;
    if (s.closed_) return;
    if (s.lingering_) {
        // The exchange ended while this read was pending; it now drains the client.
        s.linger_bytes_ += bytes;
        if (ec || s.linger_bytes_ > kLingerBytes) return s.abort();
        return s.do_linger_read();
    }
    s.read_deadline_ = ClientSession::kNoDeadline;
    if (!ec) s.client_buffer_.commit(bytes);
    if (s.exchange().failed || s.exchange().response_complete) return stopped();
    if (ec) {
        if (s.read_timed_out_) return s.fail_exchange(408, "request body not received in time", std::nullopt);
        return s.abort();  // the client went away mid-body: nothing to answer
    }
    pump();
}

void RequestBodyPump::write(std::string_view data, std::size_t consume, bool chunk_framed, bool last) {
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    state().op_pending = true;
    state().write_consume = consume;
    state().write_data_bytes = data.size();
    state().write_last = last;
    auto done = [](ClientSession& self, error_code ec) { self.body_.on_written(ec); };
    if (!chunk_framed) return session_.write_to_upstream(asio::buffer(data.data(), data.size()), done);
    if (last) return session_.write_to_upstream(asio::buffer(last_chunk.data(), last_chunk.size()), done);
    // Re-encode each decoded span as one chunk: the upstream sees only canaryd's framing.
    state().chunk_header_size = static_cast<std::size_t>(
        std::snprintf(state().chunk_header, sizeof state().chunk_header, "%zx\r\n", data.size()));
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(state().chunk_header, state().chunk_header_size),
                                                    asio::buffer(data.data(), data.size()),
                                                    asio::buffer(crlf.data(), crlf.size())};
    session_.write_to_upstream(buffers, done);
}

void RequestBodyPump::on_written(error_code ec) {
    auto& s = session_;
    state().op_pending = false;
    if (s.lingering_) {
        s.arm_read_deadline(kLingerTime);
        return s.do_linger_read();
    }
    if (s.exchange().failed || s.exchange().response_complete) return stopped();
    if (ec) {
        s.report_upstream_failure();
        return s.fail_exchange(502, "sending the request body upstream failed: " + ec.message(), analysis::ErrorKind::reset);
    }
    s.client_buffer_.consume(state().write_consume);
    if (!state().chunked) state().remaining -= state().write_consume;
    s.exchange().bytes_in += state().write_data_bytes;
    if (state().write_last) {
        state().stage = Stage::done;
        s.response_.arm_deadline();  // the upstream now has the whole request
        if (s.exchange().response_complete) s.end_exchange();
        return;
    }
    pump();
}

void RequestBodyPump::stopped() {
    // The exchange ended (an error, or an early response) while the pump was busy: the rest
    // of the body is never sent; end_exchange() or the error path decides about the client.
    if (state().stage == Stage::relaying || state().stage == Stage::waiting_continue || state().stage == Stage::pending)
        state().stage = Stage::abandoned;
}

}  // namespace canaryd::io
