// ClientSession: the upstream response, relayed to the client, and upgrade tunnels.
#include "io/client_session.hpp"

#include "io/client_session_internal.hpp"

#include "http/error_page.hpp"
#include "http/hop_by_hop.hpp"
#include "http/request_head.hpp"
#include "http/response_framing.hpp"
#include "http/upstream_request.hpp"
#include "io/access_log.hpp"
#include "http/response_head.hpp"
#include "io/log.hpp"
#include "io/sticky_hash.hpp"
#include "io/worker.hpp"
#include "routing/split.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <cstdio>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace session_detail;
// ---------------------------------------------------------------- response pump

void ClientSession::arm_response_deadline() {
    // The upstream_response timeout counts from the moment the upstream has the whole
    // request (or is asked to say 100-continue), not from the first body byte.
    response_deadline_ = Clock::now() + config().defaults.timeouts.upstream_response;
}

void ClientSession::do_read_response_header() {
    // Bytes already buffered (a head behind a 1xx, or read along with it) are parsed first.
    if (upstream_->buffer.size() != 0) return parse_response_head();
    do_read_response_bytes();
}

void ClientSession::do_read_response_bytes() {
    response_op_pending_ = true;
    // Small reads for a head (most responses fit in one), large ones for a body in flow.
    upstream_->socket.async_read_some(upstream_->buffer.prepare(head_parsed_ ? kUpstreamReadChunk : kHeadReadChunk),
                                      [self = shared_from_this(), keep = upstream_, seq = exchange_seq_](error_code ec,
                                                                                                         std::size_t n) {
                                          if (seq == self->exchange_seq_) self->on_response_bytes(ec, n);
                                      });
}

void ClientSession::on_response_bytes(error_code ec, std::size_t bytes) {
    response_op_pending_ = false;
    upstream_deadline_ = kNoDeadline;
    if (closed_ || exchange_failed_) return;
    if (!ec) upstream_->buffer.commit(bytes);
    if (!head_parsed_) {
        if (ec) {
            if (response_timed_out_) {
                report_upstream_failure();
                return fail_exchange(504, "upstream did not answer in time", analysis::ErrorKind::timeout);
            }
            if (may_replay(ec)) return replay_on_fresh_connection();
            report_upstream_failure();
            return fail_exchange(502, "upstream closed the connection without a response: " + ec.message(),
                                 analysis::ErrorKind::reset);
        }
        return parse_response_head();
    }
    if (ec == asio::error::eof && response_parse_.head.framing == http::ResponseFraming::until_close) {
        upstream_eof_ = true;  // the body ends here
        return pump_response_body();
    }
    if (ec) {
        // The upstream failed mid-body. The client must see a broken response, never a short
        // one that looks complete (no fake chunk terminator).
        report_upstream_failure();
        if (!head_sent_) {
            response_started_ = false;  // nothing reached the client: it can still get a 502
            return fail_exchange(502, "upstream response broke off: " + ec.message(), analysis::ErrorKind::reset);
        }
        record_error(final_status_, analysis::ErrorKind::reset);
        return abort();
    }
    pump_response_body();
}

void ClientSession::parse_response_head() {
    http::parse_response_head(buffer_view(upstream_->buffer), config().defaults.limits.header_bytes, method_is_head_,
                              response_parse_);
    if (response_parse_.state == http::HeadState::incomplete) {
        upstream_deadline_ = kNoDeadline;  // the header wait is governed by response_deadline_
        return do_read_response_bytes();
    }
    if (response_parse_.state == http::HeadState::error) {
        report_upstream_failure();
        return fail_exchange(502, response_parse_.error, analysis::ErrorKind::invalid_response);
    }
    on_response_header();
}

void ClientSession::on_response_header() {
    const auto& head = response_parse_.head;
    const unsigned status = head.status;
    if (status == 101) {
        if (!upgrade_requested_ || !offered(upgrade_protocols_, head.upgrade))
            return fail_exchange(502, "upstream switched protocols without a matching upgrade request",
                                 analysis::ErrorKind::invalid_response);
        response_deadline_ = kNoDeadline;
        latency_us_ = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                     std::chrono::steady_clock::now() - started_).count());
        final_status_ = 101;
        head_parsed_ = true;
        return do_send_response_header();
    }
    if (status < 200) {
        const bool answers_expectation = status == 100 && body_ == Body::waiting_continue;
        // RFC 9110 §15.2: 1xx go to HTTP/1.1 clients only, and one 100 is enough.
        const bool relay = !(status == 100 && sent_continue_) && client_version_ >= 11 && !client_write_pending_;
        std::string text;
        if (relay) {
            if (status == 100) sent_continue_ = true;
            text = "HTTP/1.1 " + std::to_string(status) + " " + std::string(head.reason) + "\r\n";
            for (const auto& f : head.fields)
                if (!http::is_always_hop_by_hop(f.name)) text.append(f.name).append(": ").append(f.value).append("\r\n");
            text += "\r\n";
        }
        upstream_->buffer.consume(head.head_bytes);  // the views above are no longer needed
        if (relay) do_write_interim(std::move(text), answers_expectation);
        else if (answers_expectation) {
            body_ = Body::relaying;
            pump_request_body();
        }
        return do_read_response_header();
    }
    head_parsed_ = true;
    on_final_response_header();
}

void ClientSession::on_final_response_header() {
    latency_us_ = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_).count());
    final_status_ = response_parse_.head.status;
    response_deadline_ = kNoDeadline;
    expect_timer_.cancel();
    upstream_keep_alive_ = response_parse_.head.keep_alive;
    // A final answer to "Expect: 100-continue": the body is never sent up (RFC 9110 §10.1.1).
    if (body_ == Body::waiting_continue || body_ == Body::pending) body_ = Body::abandoned;
    if (client_write_pending_) {
        response_deferred_ = true;  // an interim response is still being written
        return;
    }
    do_send_response_header();
}

void ClientSession::do_write_interim(std::string text, bool starts_body) {
    interim_ = std::move(text);
    client_write_pending_ = true;
    arm_write_deadline(config().defaults.timeouts.idle);
    client_write(asio::buffer(interim_), [self = shared_from_this(), starts_body](error_code ec, std::size_t) {
        self->on_interim_written(ec, starts_body);
    });
}

void ClientSession::on_interim_written(error_code ec, bool starts_body) {
    client_write_pending_ = false;
    write_deadline_ = kNoDeadline;
    if (closed_) return;
    if (ec) return abort();
    if (starts_body && body_ == Body::waiting_continue && !exchange_failed_) {
        body_ = Body::relaying;
        pump_request_body();
    }
    if (response_deferred_ && !exchange_failed_) {
        response_deferred_ = false;
        do_send_response_header();
    }
}

void ClientSession::on_expect_timer(std::uint64_t exchange, error_code ec) {
    if (ec || exchange != exchange_seq_ || closed_ || exchange_failed_ || body_ != Body::waiting_continue) return;
    if (client_write_pending_) {
        // An interim response is on its way; look again shortly.
        expect_timer_.expires_after(std::chrono::milliseconds(50));
        expect_timer_.async_wait([self = shared_from_this(), seq = exchange_seq_](error_code e) {
            self->on_expect_timer(seq, e);
        });
        return;
    }
    // The upstream did not say 100 in time (it may not know Expect): canaryd says it, once,
    // and relays the body; a later 100 from the upstream is not repeated.
    sent_continue_ = true;
    do_write_interim(std::string(http::kContinueResponse), true);
}

void ClientSession::do_send_response_header() {
    const auto& head = response_parse_.head;
    const unsigned status = head.status;
    http::ClientHeadOptions options;
    options.version = client_version_ < 11 ? 10 : 11;
    options.request_id = request_id_;
    const auto& version_header = snapshot_->config->defaults.version_header;
    if (!version_header.empty()) {
        const auto& version = route_->versions[static_cast<std::size_t>(role_)];
        version_value_.assign(config::to_string(role_)).append("/").append(version.config->release);
        options.extra_name = version_header;
        options.extra_value = version_value_;
    }
    if (status == 101) {
        options.upgrade = head.upgrade;
        options.framing = http::ClientFraming::none;
        response_keep_alive_ = false;
    } else {
        // The client connection stays open only if its request was read to the end.
        response_keep_alive_ = client_keep_alive_ && (body_ == Body::none || body_ == Body::done) && !worker_.draining();
        switch (head.framing) {
            case http::ResponseFraming::none: options.framing = http::ClientFraming::none; break;
            case http::ResponseFraming::content_length: options.framing = http::ClientFraming::content_length; break;
            case http::ResponseFraming::chunked:
            case http::ResponseFraming::until_close:
                // Chunked stays chunked; a close-delimited body is re-framed as chunked so the
                // client connection survives. HTTP/1.0 clients get a close-delimited body.
                if (client_version_ >= 11) {
                    options.framing = http::ClientFraming::chunked;
                } else {
                    options.framing = http::ClientFraming::close_delimited;
                    response_keep_alive_ = false;
                }
                break;
        }
    }
    options.keep_alive = response_keep_alive_;
    client_framing_ = options.framing;
    client_head_.clear();
    http::append_client_head(client_head_, status, head.reason, head.fields, options);
    // The head is serialised: the upstream's head bytes (and the views into them) can go.
    upstream_->buffer.consume(head.head_bytes);
    response_remaining_ = head.framing == http::ResponseFraming::content_length ? head.content_length : 0;
    if (head.framing == http::ResponseFraming::chunked) response_decoder_.emplace();
    head_sent_ = false;
    response_started_ = true;
    if (status == 101 || head.framing == http::ResponseFraming::none) return do_write_response({}, 0, true);
    pump_response_body();
}

void ClientSession::pump_response_body() {
    if (closed_) return;
    const std::string_view available = buffer_view(upstream_->buffer);
    switch (response_parse_.head.framing) {
        case http::ResponseFraming::content_length: {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(response_remaining_, available.size()));
            if (n == 0) break;
            return do_write_response(available.substr(0, n), n, n == response_remaining_);
        }
        case http::ResponseFraming::chunked: {
            const auto step = response_decoder_->next(available);
            switch (step.status) {
                case http::ChunkedDecoder::Status::data:
                    return do_write_response(step.data, step.consumed, false);
                case http::ChunkedDecoder::Status::done:
                    return do_write_response({}, step.consumed, true);
                case http::ChunkedDecoder::Status::error:
                    report_upstream_failure();
                    if (!head_sent_) {
                        response_started_ = false;
                        return fail_exchange(502, std::string("invalid chunked upstream response: ") + response_decoder_->error(),
                                             analysis::ErrorKind::invalid_response);
                    }
                    record_error(final_status_, analysis::ErrorKind::invalid_response);
                    return abort();
                case http::ChunkedDecoder::Status::need_more:
                    upstream_->buffer.consume(step.consumed);
                    break;
            }
            break;
        }
        case http::ResponseFraming::until_close:
            if (!available.empty()) return do_write_response(available, available.size(), false);
            if (upstream_eof_) return do_write_response({}, 0, true);
            break;
        case http::ResponseFraming::none:
            return do_write_response({}, 0, true);
    }
    // Nothing to relay yet. The head does not wait for the first body bytes (a stream may
    // start much later): send it alone, then read.
    if (!head_sent_) return do_write_response({}, 0, false);
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.upstream_response;
    do_read_response_bytes();
}

void ClientSession::do_write_response(std::string_view data, std::size_t consume, bool last) {
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    response_write_consume_ = consume;
    response_body_last_ = last;
    bytes_out_ += data.size();
    std::array<asio::const_buffer, 5> buffers{};
    if (!head_sent_) buffers[0] = asio::buffer(client_head_);
    if (client_framing_ == http::ClientFraming::chunked) {
        if (!data.empty()) {
            const auto n = std::snprintf(response_chunk_header_, sizeof response_chunk_header_, "%zx\r\n", data.size());
            buffers[1] = asio::buffer(response_chunk_header_, static_cast<std::size_t>(n));
            buffers[2] = asio::buffer(data.data(), data.size());
            buffers[3] = asio::buffer(crlf.data(), crlf.size());
        }
        if (last) buffers[4] = asio::buffer(last_chunk.data(), last_chunk.size());
    } else if (!data.empty()) {
        buffers[2] = asio::buffer(data.data(), data.size());
    }
    client_write_pending_ = true;
    arm_write_deadline(config().defaults.timeouts.idle);
    client_write(buffers, [self = shared_from_this(), keep = upstream_](error_code e, std::size_t) {
        self->on_response_written(e);
    });
}

void ClientSession::on_response_written(error_code ec) {
    client_write_pending_ = false;
    write_deadline_ = kNoDeadline;
    if (closed_) return;
    if (ec) return abort();
    head_sent_ = true;
    if (upstream_) upstream_->buffer.consume(response_write_consume_);
    if (response_parse_.head.framing == http::ResponseFraming::content_length) response_remaining_ -= std::min<std::uint64_t>(response_remaining_, response_write_consume_);
    if (response_parse_.head.status == 101) return start_tunnel();
    if (response_body_last_) return response_finished();
    pump_response_body();
}

void ClientSession::response_finished() {
    response_complete_ = true;
    record_response();
    write_access_log(final_status_, true);
    worker_.health().report_success(endpoint_id_);
    end_exchange();
}

// ---------------------------------------------------------------- upgrade tunnel

void ClientSession::start_tunnel() {
    record_response();
    // From here on the bytes are the upgraded protocol's; canaryd only copies them, with its
    // own idle timeout (timeouts.tunnel_idle).
    tunnel_buffers_ = std::make_unique<char[]>(2 * kBodyChunk);
    tunnel_activity_ = std::chrono::steady_clock::now();
    // Bytes that arrived behind the 101 or behind the request head belong to the tunnel.
    auto flush_then_pump = [self = shared_from_this()](bool client_to_upstream) {
        auto& pending = client_to_upstream ? self->client_buffer_ : self->upstream_->buffer;
        if (pending.size() == 0) return self->tunnel_pump(client_to_upstream);
        auto write_done = [self, keep = self->upstream_, client_to_upstream](error_code ec, std::size_t) {
            auto& buffer = client_to_upstream ? self->client_buffer_ : keep->buffer;
            buffer.clear();
            if (ec) return self->close_tunnel();
            self->tunnel_pump(client_to_upstream);
        };
        if (client_to_upstream)
            asio::async_write(self->upstream_->socket, pending.data(), write_done);
        else
            self->client_write(pending.data(), write_done);
    };
    flush_then_pump(true);
    flush_then_pump(false);
}

void ClientSession::tunnel_pump(bool client_to_upstream) {
    if (closed_ || !upstream_) return close_tunnel();
    char* buffer = tunnel_buffers_.get() + (client_to_upstream ? 0 : kBodyChunk);
    auto on_read = [self = shared_from_this(), keep = upstream_, buffer, client_to_upstream](error_code ec, std::size_t n) {
        if (ec || self->closed_ || !self->upstream_) return self->close_tunnel();
        self->tunnel_activity_ = std::chrono::steady_clock::now();
        auto on_written = [self, keep, client_to_upstream](error_code e, std::size_t) {
            if (e) return self->close_tunnel();
            self->tunnel_pump(client_to_upstream);
        };
        if (client_to_upstream)
            asio::async_write(self->upstream_->socket, asio::buffer(buffer, n), on_written);
        else
            self->client_write(asio::buffer(buffer, n), on_written);
    };
    if (client_to_upstream)
        client_read_some(asio::buffer(buffer, kBodyChunk), on_read);
    else
        upstream_->socket.async_read_some(asio::buffer(buffer, kBodyChunk), on_read);
}

void ClientSession::close_tunnel() {
    // Either side closing or failing ends the tunnel for both.
    read_deadline_ = kNoDeadline;
    abort();
}

}  // namespace canaryd::io
