// ClientSession: choosing and connecting an upstream, and pumping the request body to it.
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
// ---------------------------------------------------------------- upstream selection

void ClientSession::do_acquire_upstream(std::int64_t exclude_endpoint) {
    const auto& version = route_->versions[static_cast<std::size_t>(role_)];
    const auto route_index = static_cast<std::size_t>(route_ - snapshot_->routes.data());
    const int id = worker_.health().pick(version.endpoint_ids, worker_.cursor(route_index, role_),
                                         std::chrono::steady_clock::now(), exclude_endpoint);
    if (id < 0) {
        // Retry parity: a version with a single endpoint gets its one retry on that endpoint
        // with a fresh connection, so a transient connect error counts against neither
        // version more than the other (a one-endpoint canary next to a many-endpoint stable).
        if (exclude_endpoint >= 0) return do_connect(static_cast<std::uint32_t>(exclude_endpoint));
        return fail_exchange(503, "no endpoint available", analysis::ErrorKind::no_endpoint);
    }
    endpoint_id_ = static_cast<std::uint32_t>(id);
    upstream_ = worker_.pools().take(endpoint_id_, config().defaults.timeouts.idle);
    if (upstream_) return do_send_head();
    do_connect(endpoint_id_);
}

void ClientSession::do_connect(std::uint32_t endpoint_id) {
    upstream_ = worker_.pools().create(endpoint_id);
    connecting_ = true;
    connect_timed_out_ = false;
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.connect;
    // Every upstream operation's handler holds the connection, so discarding it while an
    // operation is pending only closes the socket; the memory lives until the handler runs.
    asio::async_connect(upstream_->socket, snapshot_->endpoints[endpoint_id].addresses,
                        [self = shared_from_this(), keep = upstream_](error_code ec, const tcp::endpoint&) {
                            self->on_connect(ec);
                        });
}

void ClientSession::on_connect(error_code ec) {
    connecting_ = false;
    upstream_deadline_ = kNoDeadline;
    if (closed_ || exchange_failed_) return;
    if (ec) {
        connect_failure_ = connect_timed_out_ ? "upstream connect timed out" : "upstream refused the connection";
        report_upstream_failure();
        discard_upstream();
        // Nothing was sent, so another endpoint of the same version may take it (SPEC §4).
        if (!retried_) {
            retried_ = true;
            return do_acquire_upstream(endpoint_id_);
        }
        return fail_exchange(502, connect_failure_, analysis::ErrorKind::connect);
    }
    error_code ignored;
    upstream_->socket.set_option(tcp::no_delay(true), ignored);
    do_send_head();
}

void ClientSession::do_send_head() {
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.upstream_response;
    asio::async_write(upstream_->socket, asio::buffer(upstream_head_),
                      [self = shared_from_this(), keep = upstream_](error_code ec, std::size_t) { self->on_head_sent(ec); });
}

bool ClientSession::may_replay(error_code ec) const {
    // A pooled connection that the upstream closed just as it was reused: the request is
    // replayed once on a new connection when it has no body (nothing of it is lost) and no
    // response byte arrived (HAProxy's retry-on-reused-connection rule).
    if (retried_ || body_ != Body::none || !upstream_ || upstream_->requests_served == 0) return false;
    return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

void ClientSession::replay_on_fresh_connection() {
    retried_ = true;
    response_deadline_ = kNoDeadline;
    discard_upstream();
    do_connect(endpoint_id_);
}

void ClientSession::on_head_sent(error_code ec) {
    upstream_deadline_ = kNoDeadline;
    if (closed_ || exchange_failed_) return;
    if (ec) {
        if (may_replay(ec)) return replay_on_fresh_connection();
        report_upstream_failure();
        return fail_exchange(502, "sending the request upstream failed: " + ec.message(), analysis::ErrorKind::reset);
    }
    response_op_pending_ = true;
    do_read_response_header();
    switch (body_) {
        case Body::none: arm_response_deadline(); break;
        case Body::pending:
            if (expect_continue_) {
                body_ = Body::waiting_continue;
                arm_response_deadline();
                expect_timer_.expires_after(kExpectWait);
                expect_timer_.async_wait([self = shared_from_this(), seq = exchange_seq_](error_code e) {
                    self->on_expect_timer(seq, e);
                });
            } else {
                body_ = Body::relaying;
                pump_request_body();
            }
            break;
        default: break;
    }
}

// ---------------------------------------------------------------- request body pump

void ClientSession::pump_request_body() {
    if (closed_) return;
    if (exchange_failed_ || response_complete_ || body_ != Body::relaying) return body_pump_stopped();
    const std::string_view available = buffer_view(client_buffer_);
    if (!chunked_request_) {
        if (available.empty()) return do_read_body_bytes();
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(body_remaining_, available.size()));
        return do_write_body(available.substr(0, n), n, false, n == body_remaining_);
    }
    const auto step = decoder_->next(available);
    switch (step.status) {
        case http::ChunkedDecoder::Status::data:
            body_bytes_ += step.data.size();
            if (body_bytes_ > config().defaults.limits.body_bytes) {
                client_buffer_.clear();
                return fail_exchange(413, "request body exceeds the limit", std::nullopt);
            }
            return do_write_body(step.data, step.consumed, true, false);
        case http::ChunkedDecoder::Status::need_more:
            client_buffer_.consume(step.consumed);
            return do_read_body_bytes();
        case http::ChunkedDecoder::Status::done:
            client_buffer_.consume(step.consumed);
            return do_write_body({}, 0, true, true);
        case http::ChunkedDecoder::Status::error:
            client_buffer_.clear();  // nothing after a bad chunk is ever parsed
            return fail_exchange(400, std::string("invalid chunked body: ") + decoder_->error(), std::nullopt);
    }
}

void ClientSession::do_read_body_bytes() {
    body_op_pending_ = true;
    client_read_pending_ = true;
    arm_read_deadline(config().defaults.timeouts.body);
    client_read_some(client_buffer_.prepare(kBodyChunk),
                     [self = shared_from_this()](error_code ec, std::size_t n) { self->on_body_bytes(ec, n); });
}

void ClientSession::on_body_bytes(error_code ec, std::size_t bytes) {
    body_op_pending_ = false;
    client_read_pending_ = false;
    if (closed_) return;
    if (lingering_) {
        // The exchange ended while this read was pending; it now drains the client.
        linger_bytes_ += bytes;
        if (ec || linger_bytes_ > kLingerBytes) return abort();
        return do_linger_read();
    }
    read_deadline_ = kNoDeadline;
    if (!ec) client_buffer_.commit(bytes);
    if (exchange_failed_ || response_complete_) return body_pump_stopped();
    if (ec) {
        if (read_timed_out_) return fail_exchange(408, "request body not received in time", std::nullopt);
        return abort();  // the client went away mid-body: nothing to answer
    }
    pump_request_body();
}

void ClientSession::do_write_body(std::string_view data, std::size_t consume, bool chunk_framed, bool last) {
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    body_op_pending_ = true;
    body_write_consume_ = consume;
    body_write_data_bytes_ = data.size();
    body_write_last_ = last;
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.upstream_response;
    auto handler = [self = shared_from_this(), keep = upstream_](error_code ec, std::size_t) { self->on_body_written(ec); };
    if (!chunk_framed) return asio::async_write(upstream_->socket, asio::buffer(data.data(), data.size()), handler);
    if (last) return asio::async_write(upstream_->socket, asio::buffer(last_chunk.data(), last_chunk.size()), handler);
    // Re-encode each decoded span as one chunk: the upstream sees only canaryd's framing.
    chunk_header_size_ = static_cast<std::size_t>(
        std::snprintf(chunk_header_, sizeof chunk_header_, "%zx\r\n", data.size()));
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(chunk_header_, chunk_header_size_),
                                                    asio::buffer(data.data(), data.size()),
                                                    asio::buffer(crlf.data(), crlf.size())};
    asio::async_write(upstream_->socket, buffers, handler);
}

void ClientSession::on_body_written(error_code ec) {
    body_op_pending_ = false;
    upstream_deadline_ = kNoDeadline;
    if (closed_) return;
    if (lingering_) {
        arm_read_deadline(kLingerTime);
        return do_linger_read();
    }
    if (exchange_failed_ || response_complete_) return body_pump_stopped();
    if (ec) {
        report_upstream_failure();
        return fail_exchange(502, "sending the request body upstream failed: " + ec.message(), analysis::ErrorKind::reset);
    }
    client_buffer_.consume(body_write_consume_);
    if (!chunked_request_) body_remaining_ -= body_write_consume_;
    bytes_in_ += body_write_data_bytes_;
    if (body_write_last_) {
        body_ = Body::done;
        arm_response_deadline();  // the upstream now has the whole request
        if (response_complete_) end_exchange();
        return;
    }
    pump_request_body();
}

void ClientSession::body_pump_stopped() {
    // The exchange ended (an error, or an early response) while the pump was busy: the rest
    // of the body is never sent; end_exchange() or the error path decides about the client.
    if (body_ == Body::relaying || body_ == Body::waiting_continue || body_ == Body::pending) body_ = Body::abandoned;
}

}  // namespace canaryd::io
