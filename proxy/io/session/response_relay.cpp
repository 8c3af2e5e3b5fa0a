#include "io/session/response_relay.hpp"

#include "core/grpc/grpc_status.hpp"
#include "core/http/hop_by_hop.hpp"
#include "core/http/response_framing.hpp"
#include "core/http/upstream_request.hpp"
#include "io/server/worker.hpp"
#include "io/session/client_session.hpp"
#include "io/session/client_session_internal.hpp"

#include <boost/asio/buffer.hpp>

#include <array>
#include <cstdio>

namespace canaryd::io {

namespace asio = boost::asio;
using namespace session_detail;

http::ResponseParse& ResponseRelay::parse() { return session_.buffers().response_head; }

ResponseRelay::State& ResponseRelay::state() const { return session_.buffers().relay; }

void ResponseRelay::start() {
    state().op_pending = true;
    read_header();
}

void ResponseRelay::arm_deadline() {
    // A gRPC call's own deadline (grpc-timeout) when it is shorter: past it the client has
    // given up, and it is told DEADLINE_EXCEEDED (504) rather than waiting for nothing.
    auto timeout = std::chrono::duration_cast<ClientSession::Duration>(session_.config().defaults.timeouts.upstream_response);
    const auto grpc_timeout = session_.exchange().grpc_timeout;
    if (grpc_timeout > ClientSession::Duration::zero() && grpc_timeout < timeout) timeout = grpc_timeout;
    session_.response_deadline_ = ClientSession::Clock::now() + timeout;
}

void ResponseRelay::read_header() {
    // Bytes already buffered (a head behind a 1xx, or read along with it) are parsed first.
    if (session_.upstream_->buffer.size() != 0) return parse_head();
    read_bytes();
}

void ResponseRelay::read_bytes() {
    auto& s = session_;
    state().op_pending = true;
    // Small reads for a head (most responses fit in one), large ones for a body in flow.
    s.upstream_->async_read_some(
        s.upstream_->buffer.prepare(state().head_parsed ? kUpstreamReadChunk : kHeadReadChunk),
        [self = s.shared_from_this(), keep = s.upstream_, seq = s.exchange_seq_](error_code ec, std::size_t n) {
            if (seq == self->exchange_seq_) self->response_.on_bytes(ec, n);
        });
}

void ResponseRelay::on_bytes(error_code ec, std::size_t bytes) {
    auto& s = session_;
    state().op_pending = false;
    s.upstream_deadline_ = ClientSession::kNoDeadline;
    if (s.closed_ || s.exchange().failed) return;
    if (!ec) s.upstream_->buffer.commit(bytes);
    if (!state().head_parsed) {
        if (ec) {
            if (state().timed_out) {
                s.report_upstream_failure();
                return s.fail_exchange(504, "upstream did not answer in time", analysis::ErrorKind::timeout);
            }
            if (s.may_replay(ec)) return s.replay_on_fresh_connection();
            s.report_upstream_failure();
            if (s.is_tls_alert(ec)) {
                s.note_tls_failure(ec.message());
                return s.fail_exchange(502, "upstream TLS failed", analysis::ErrorKind::tls);
            }
            return s.fail_exchange(502, "upstream closed the connection without a response: " + ec.message(),
                                   analysis::ErrorKind::reset);
        }
        return parse_head();
    }
    if (ec == asio::error::eof && parse().head.framing == http::ResponseFraming::until_close) {
        state().upstream_eof = true;  // the body ends here
        return pump_body();
    }
    // The upstream failed mid-body. The client must see a broken response, never a short
    // one that looks complete (no fake chunk terminator).
    if (ec) return broke_off("upstream response broke off: " + ec.message(), analysis::ErrorKind::reset);
    pump_body();
}

void ResponseRelay::broke_off(std::string detail, analysis::ErrorKind kind) {
    auto& s = session_;
    s.report_upstream_failure();
    if (!state().head_sent) {
        s.exchange().response_started = false;  // nothing reached the client: it can still get a 502
        return s.fail_exchange(502, std::move(detail), kind);
    }
    s.record_error(s.exchange().final_status, kind);
    s.abort();
}

void ResponseRelay::parse_head() {
    auto& s = session_;
    http::parse_response_head(buffer_view(s.upstream_->buffer), s.config().defaults.limits.header_bytes,
                              s.exchange().method_is_head, parse());
    if (parse().state == http::HeadState::incomplete) {
        s.upstream_deadline_ = ClientSession::kNoDeadline;  // the header wait is governed by response_deadline_
        return read_bytes();
    }
    if (parse().state == http::HeadState::error) {
        s.report_upstream_failure();
        return s.fail_exchange(502, parse().error, analysis::ErrorKind::invalid_response);
    }
    on_header();
}

void ResponseRelay::on_header() {
    auto& s = session_;
    auto& x = s.exchange();
    const auto& head = parse().head;
    const unsigned status = head.status;
    if (status == 101) {
        if (!x.upgrade_requested || !offered(s.text().upgrade_protocols, head.upgrade))
            return s.fail_exchange(502, "upstream switched protocols without a matching upgrade request",
                                   analysis::ErrorKind::invalid_response);
        s.response_deadline_ = ClientSession::kNoDeadline;
        x.latency_us = s.microseconds_since_start();
        x.final_status = 101;
        state().head_parsed = true;
        return send_header();
    }
    if (status < 200) {
        const bool answers_expectation = status == 100 && s.body_.stage() == RequestBodyPump::Stage::waiting_continue;
        // RFC 9110 §15.2: 1xx go to HTTP/1.1 clients only, and one 100 is enough.
        const bool relay = !(status == 100 && x.sent_continue) && x.client_version >= 11 && !s.client_write_pending_;
        std::string text;
        if (relay) {
            if (status == 100) x.sent_continue = true;
            text = "HTTP/1.1 " + std::to_string(status) + " " + std::string(head.reason) + "\r\n";
            for (const auto& f : head.fields)
                if (!http::is_always_hop_by_hop(f.name)) text.append(f.name).append(": ").append(f.value).append("\r\n");
            text += "\r\n";
        }
        s.upstream_->buffer.consume(head.head_bytes);  // the views above are no longer needed
        if (relay) write_interim(std::move(text), answers_expectation);
        else if (answers_expectation) s.body_.on_continue();
        return read_header();
    }
    state().head_parsed = true;
    on_final_header();
}

void ResponseRelay::on_final_header() {
    auto& s = session_;
    s.exchange().latency_us = s.microseconds_since_start();
    s.exchange().final_status = parse().head.status;
    s.response_deadline_ = ClientSession::kNoDeadline;
    s.expect_deadline_ = ClientSession::kNoDeadline;
    state().upstream_keep_alive = parse().head.keep_alive;
    s.body_.abandon_unsent();
    if (s.client_write_pending_) {
        state().deferred = true;  // an interim response is still being written
        return;
    }
    send_header();
}

void ResponseRelay::write_interim(std::string text, bool starts_body) {
    session_.text().interim = std::move(text);
    session_.write_to_client(asio::buffer(session_.text().interim), [starts_body](ClientSession& self) {
        auto& relay = self.response_;
        if (starts_body && !self.exchange().failed) self.body_.on_continue();
        if (relay.state().deferred && !self.exchange().failed) {
            relay.state().deferred = false;
            relay.send_header();
        }
    });
}

void ResponseRelay::start_expect_wait() {
    // A deadline the session's housekeeping checks, not a timer: no per-connection timer object.
    session_.expect_deadline_ = ClientSession::Clock::now() + kExpectWait;
}

void ResponseRelay::on_expect_deadline() {
    auto& s = session_;
    if (s.closed_ || s.exchange().failed || s.body_.stage() != RequestBodyPump::Stage::waiting_continue) return;
    if (s.client_write_pending_) {
        // An interim response is on its way; look again at the next check.
        s.expect_deadline_ = ClientSession::Clock::now();
        return;
    }
    // The upstream did not say 100 in time (it may not know Expect): canaryd says it, once,
    // and relays the body; a later 100 from the upstream is not repeated.
    s.exchange().sent_continue = true;
    write_interim(std::string(http::kContinueResponse), true);
}

void ResponseRelay::send_header() {
    auto& s = session_;
    auto& x = s.exchange();
    const auto& head = parse().head;
    const unsigned status = head.status;
    http::ClientHeadOptions options;
    options.version = x.client_version < 11 ? 10 : 11;
    options.request_id = s.text().request_id;
    const auto& version_header = x.snapshot->config->defaults.version_header;
    if (!version_header.empty()) {
        const auto& version = x.route->versions[static_cast<std::size_t>(x.role)];
        s.text().version_value.assign(config::to_string(x.role)).append("/").append(version.config->release);
        options.extra_name = version_header;
        options.extra_value = s.text().version_value;
    }
    if (status == 101) {
        options.upgrade = head.upgrade;
        options.framing = http::ClientFraming::none;
        x.response_keep_alive = false;
    } else {
        // The client connection stays open only if its request was read to the end.
        x.response_keep_alive = x.client_keep_alive && s.body_.complete() && !s.worker_.draining();
        switch (head.framing) {
            case http::ResponseFraming::none: options.framing = http::ClientFraming::none; break;
            case http::ResponseFraming::content_length: options.framing = http::ClientFraming::content_length; break;
            case http::ResponseFraming::chunked:
            case http::ResponseFraming::until_close:
                // Chunked stays chunked; a close-delimited body is re-framed as chunked so the
                // client connection survives. HTTP/1.0 clients get a close-delimited body.
                if (x.client_version >= 11) {
                    options.framing = http::ClientFraming::chunked;
                } else {
                    options.framing = http::ClientFraming::close_delimited;
                    x.response_keep_alive = false;
                }
                break;
        }
    }
    options.keep_alive = x.response_keep_alive;
    state().client_framing = options.framing;
    if (x.grpc)
        for (const auto& f : head.fields)
            if (http::iequals(f.name, "grpc-status")) x.grpc_status = grpc::parse_status(f.value).value_or(grpc::kUnknown);
    s.text().client_head.clear();
    http::append_client_head(s.text().client_head, status, head.reason, head.fields, options);
    // The head is serialised: the upstream's head bytes (and the views into them) can go.
    s.upstream_->buffer.consume(head.head_bytes);
    state().remaining = head.framing == http::ResponseFraming::content_length ? head.content_length : 0;
    if (head.framing == http::ResponseFraming::chunked) {
        state().decoder.emplace();
        state().decoder->keep_trailers();  // relayed to the client (gRPC's grpc-status is there)
    }
    state().head_sent = false;
    x.response_started = true;
    if (status == 101 || head.framing == http::ResponseFraming::none) return write({}, 0, true);
    pump_body();
}

void ResponseRelay::pump_body() {
    auto& s = session_;
    if (s.closed_) return;
    const std::string_view available = buffer_view(s.upstream_->buffer);
    switch (parse().head.framing) {
        case http::ResponseFraming::content_length: {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(state().remaining, available.size()));
            if (n == 0) break;
            return write(available.substr(0, n), n, n == state().remaining);
        }
        case http::ResponseFraming::chunked: {
            const auto step = state().decoder->next(available);
            switch (step.status) {
                case http::ChunkedDecoder::Status::data: return write(step.data, step.consumed, false);
                case http::ChunkedDecoder::Status::done: {
                    auto& x = s.exchange();
                    const auto trailers = state().decoder->trailer_fields();
                    state().trailers.clear();
                    for (const auto& [name, value] : trailers) {
                        if (x.grpc && name == "grpc-status") x.grpc_status = grpc::parse_status(value).value_or(grpc::kUnknown);
                        // Framing and routing never come from trailers (RFC 9110 §6.5.1).
                        if (name == "content-length" || name == "transfer-encoding" || name == "host" || name == "connection" ||
                            name == "te" || name == "trailer")
                            continue;
                        state().trailers.append(name).append(": ").append(value).append("\r\n");
                    }
                    return write({}, step.consumed, true);
                }
                case http::ChunkedDecoder::Status::error:
                    return broke_off(std::string("invalid chunked upstream response: ") + state().decoder->error(),
                                     analysis::ErrorKind::invalid_response);
                case http::ChunkedDecoder::Status::need_more:
                    s.upstream_->buffer.consume(step.consumed);
                    break;
            }
            break;
        }
        case http::ResponseFraming::until_close:
            if (!available.empty()) return write(available, available.size(), false);
            if (state().upstream_eof) return write({}, 0, true);
            break;
        case http::ResponseFraming::none: return write({}, 0, true);
    }
    // Nothing to relay yet. The head does not wait for the first body bytes (a stream may
    // start much later): send it alone, then read.
    if (!state().head_sent) return write({}, 0, false);
    s.upstream_deadline_ = ClientSession::Clock::now() + s.config().defaults.timeouts.upstream_response;
    read_bytes();
}

void ResponseRelay::write(std::string_view data, std::size_t consume, bool last) {
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    auto& s = session_;
    state().write_consume = consume;
    state().body_last = last;
    s.exchange().bytes_out += data.size();
    std::array<asio::const_buffer, 5> buffers{};
    if (!state().head_sent) buffers[0] = asio::buffer(s.text().client_head);
    if (state().client_framing == http::ClientFraming::chunked) {
        if (!data.empty()) {
            const auto n = std::snprintf(state().chunk_header, sizeof state().chunk_header, "%zx\r\n", data.size());
            buffers[1] = asio::buffer(state().chunk_header, static_cast<std::size_t>(n));
            buffers[2] = asio::buffer(data.data(), data.size());
            buffers[3] = asio::buffer(crlf.data(), crlf.size());
        }
        if (last && state().trailers.empty()) {
            buffers[4] = asio::buffer(last_chunk.data(), last_chunk.size());
        } else if (last) {
            // The upstream's trailers end the body as they came (gRPC's grpc-status, grpc-message).
            state().trailers.insert(0, "0\r\n");
            state().trailers.append("\r\n");
            buffers[4] = asio::buffer(state().trailers);
        }
    } else if (!data.empty()) {
        buffers[2] = asio::buffer(data.data(), data.size());
    }
    s.write_to_client(buffers, [](ClientSession& self) { self.response_.on_written(); });
}

void ResponseRelay::on_written() {
    auto& s = session_;
    state().head_sent = true;
    if (s.upstream_) s.upstream_->buffer.consume(state().write_consume);
    if (parse().head.framing == http::ResponseFraming::content_length)
        state().remaining -= std::min<std::uint64_t>(state().remaining, state().write_consume);
    if (parse().head.status == 101) return s.start_tunnel();
    if (state().body_last) return finished();
    pump_body();
}

void ResponseRelay::finished() {
    auto& s = session_;
    s.exchange().response_complete = true;
    s.record_response();
    s.write_access_log(s.exchange().final_status, true);
    s.worker_.health().report_success(s.exchange().endpoint_id);
    s.end_exchange();
}

}  // namespace canaryd::io
