#include "io/client_session.hpp"

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

namespace {

// Bounded relay buffers: memory per exchange does not grow with the body size (SPEC §4).
constexpr std::size_t kBodyChunk = 16 * 1024;
constexpr std::size_t kHeadReadChunk = 2 * 1024;  // most request heads fit; larger ones grow the buffer
constexpr std::size_t kUpstreamReadChunk = 16 * 1024;
// How long a closing connection keeps reading what the client still sends, so that the
// kernel does not answer with RST and destroy the response just written (why nginx and
// HAProxy linger).
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 1024 * 1024;
// How long the upstream gets to answer "Expect: 100-continue" before canaryd sends the
// 100 itself (RFC 9110 §10.1.1: a client should not wait indefinitely; curl waits 1 s).
constexpr std::chrono::seconds kExpectWait{1};

std::string_view path_of(std::string_view target) {
    auto end = target.find('?');
    return end == std::string_view::npos ? target : target.substr(0, end);
}

std::string_view buffer_view(const beast::flat_buffer& buffer) {
    auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

// The protocol name of an Upgrade list element, without its version ("websocket/13").
std::string_view protocol_name(std::string_view element) {
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
    auto end = element.find_first_of("/ \t,");
    return element.substr(0, end);
}

// True when the upstream's chosen protocol is one the client offered (RFC 9110 §7.8).
bool offered(std::string_view client_list, std::string_view chosen) {
    const auto name = protocol_name(chosen);
    if (name.empty()) return false;
    while (!client_list.empty()) {
        auto comma = client_list.find(',');
        if (http::iequals(protocol_name(client_list.substr(0, comma)), name)) return true;
        if (comma == std::string_view::npos) break;
        client_list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

ClientSession::ClientSession(Worker& worker, WorkerSocket socket, std::shared_ptr<asio::ssl::context> tls_context)
    : worker_(worker),
      registry_(worker.sessions()),
      socket_(std::move(socket)),
      tls_context_(std::move(tls_context)),
      expect_timer_(worker.context()) {
    registry_->sessions.insert(this);
    registry_->count.fetch_add(1, std::memory_order_release);
}

ClientSession::~ClientSession() {
    registry_->sessions.erase(this);
    registry_->count.fetch_sub(1, std::memory_order_release);
}

void ClientSession::drain() {
    // Waiting for the first byte of a next request: nothing is in flight, close now.
    if (!closed_ && !lingering_ && waiting_first_byte_ && client_read_pending_) abort();
}

const config::Config& ClientSession::config() const {
    return *(snapshot_ ? snapshot_ : worker_.snapshot())->config;
}

void ClientSession::start() {
    error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (ec) return;  // the client is already gone
    peer_ip_ = peer.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);
    if (!tls_context_) return do_read_head();
    // TLS: the handshake must finish within the header timeout, like a request head.
    tls_.emplace(socket_, *tls_context_);
    client_read_pending_ = true;
    read_deadline_ = Clock::now() + config().defaults.timeouts.header;
    tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](error_code e) {
        self->client_read_pending_ = false;
        self->read_deadline_ = kNoDeadline;
        if (e || self->closed_) return self->abort();
        self->do_read_head();
    });
}

// ---------------------------------------------------------------- deadlines

// Deadlines are plain time points that the worker checks ten times a second
// (check_deadlines): arming one costs a clock read, not a timer operation and a cancelled
// handler per request.
void ClientSession::arm_read_deadline(Duration timeout) {
    read_timed_out_ = false;
    read_deadline_ = Clock::now() + timeout;
}

void ClientSession::arm_write_deadline(Duration timeout) { write_deadline_ = Clock::now() + timeout; }

void ClientSession::check_deadlines(Clock::time_point now) {
    if (closed_) return;
    if (now >= write_deadline_ && client_write_pending_) return abort();  // the client does not read
    if (now >= read_deadline_ && client_read_pending_) {
        read_deadline_ = kNoDeadline;
        if (client_write_pending_) return abort();  // cannot answer 408 mid-write
        // Cancelling the socket completes the read with operation_aborted; the flag tells the
        // read handler it was a timeout, so it can still answer 408 on the open socket.
        read_timed_out_ = true;
        error_code ignored;
        socket_.cancel(ignored);
    }
    if (now >= response_deadline_ && response_op_pending_ && !response_started_) {
        response_deadline_ = kNoDeadline;
        response_timed_out_ = true;
        discard_upstream_socket();  // completes the pending read
    }
    if (now >= upstream_deadline_ && upstream_) {
        upstream_deadline_ = kNoDeadline;
        if (connecting_) connect_timed_out_ = true;
        discard_upstream_socket();  // a connect or a body transfer that stalled
    }
    if (tunnel_buffers_ && now - tunnel_activity_ >= config().defaults.timeouts.tunnel_idle) close_tunnel();
}

void ClientSession::discard_upstream_socket() {
    if (!upstream_) return;
    error_code ignored;
    upstream_->socket.close(ignored);
}

// ---------------------------------------------------------------- request head

void ClientSession::do_read_head() {
    ++exchange_seq_;
    body_op_pending_ = false;
    response_op_pending_ = false;
    write_deadline_ = response_deadline_ = upstream_deadline_ = kNoDeadline;
    snapshot_.reset();
    route_ = nullptr;
    upstream_.reset();
    retried_ = false;
    decoder_.reset();
    body_ = Body::none;
    body_bytes_ = 0;
    body_remaining_ = 0;
    head_parsed_ = false;
    upstream_eof_ = false;
    response_decoder_.reset();
    response_remaining_ = 0;
    response_timed_out_ = false;
    response_started_ = false;
    response_complete_ = false;
    response_deferred_ = false;
    sent_continue_ = false;
    exchange_failed_ = false;
    request_id_.clear();
    method_.clear();
    path_.clear();
    bytes_in_ = bytes_out_ = 0;
    access_logged_ = false;
    started_ = std::chrono::steady_clock::now();
    latency_us_ = 0;
    final_status_ = 0;
    if (worker_.draining()) {
        // Shutting down: the exchange that just ended was the last on this connection.
        access_logged_ = true;
        return do_close();
    }
    if (client_buffer_.size() != 0) {
        // A pipelined request is already buffered: its header deadline starts now.
        arm_read_deadline(config().defaults.timeouts.header);
        return parse_head();
    }
    // An idle keep-alive connection holds no read buffer: with thousands of them, memory per
    // connection is what counts (bench/compare.sh measures it).
    client_buffer_.shrink_to_fit();
    // Between requests the idle timeout applies; the header deadline starts with the first byte.
    waiting_first_byte_ = true;
    arm_read_deadline(config().defaults.timeouts.idle);
    do_read_head_bytes();
}

void ClientSession::do_read_head_bytes() {
    client_read_pending_ = true;
    client_read_some(client_buffer_.prepare(kHeadReadChunk),
                     [self = shared_from_this()](error_code ec, std::size_t n) { self->on_head_bytes(ec, n); });
}

void ClientSession::on_head_bytes(error_code ec, std::size_t bytes) {
    client_read_pending_ = false;
    if (closed_) return;
    if (ec) {
        // Idle timeout, EOF or reset before a request started: nothing to answer.
        if (read_timed_out_ && !waiting_first_byte_)
            return send_error(408, "request header not received in time", true);
        return abort();
    }
    client_buffer_.commit(bytes);
    if (waiting_first_byte_) {
        waiting_first_byte_ = false;
        // An absolute deadline for the whole head: one byte a second cannot keep it open.
        arm_read_deadline(config().defaults.timeouts.header);
    }
    parse_head();
}

void ClientSession::parse_head() {
    const auto& limits = config().defaults.limits;
    http::HeadLimits head_limits;
    head_limits.request_line_bytes = limits.request_line_bytes;
    head_limits.header_bytes = limits.header_bytes;
    head_limits.field_bytes = limits.field_bytes;
    head_limits.field_count = limits.field_count;
    auto& parsed = head_parse_;
    http::parse_request_head(buffer_view(client_buffer_), head_limits, parsed);
    switch (parsed.state) {
        case http::HeadState::incomplete: return do_read_head_bytes();
        case http::HeadState::error:
            read_deadline_ = kNoDeadline;
            // After a framing error nothing after the bad message may be parsed as a request.
            client_buffer_.clear();
            return send_error(parsed.error.status, parsed.error.reason, true);
        case http::HeadState::complete:
            read_deadline_ = kNoDeadline;
            return on_head(parsed.head);
    }
}

void ClientSession::on_head(const http::RequestHead& head) {
    snapshot_ = worker_.snapshot();
    const auto& config = *snapshot_->config;
    started_ = std::chrono::steady_clock::now();
    if (worker_.access_log()) {
        method_.assign(head.method);
        path_.assign(head.origin_target);
    }
    method_is_head_ = head.is_head_method();
    client_version_ = head.version;
    client_keep_alive_ = head.keep_alive;
    expect_continue_ = head.expect_continue;
    upgrade_requested_ = head.upgrade;
    upgrade_protocols_.assign(head.upgrade_protocols);
    chunked_request_ = head.framing == http::BodyFraming::chunked;
    body_remaining_ = head.framing == http::BodyFraming::content_length ? head.content_length : 0;
    body_ = head.framing == http::BodyFraming::none ? Body::none : Body::pending;
    if (chunked_request_) decoder_.emplace();
    if (auto id = head.find("x-request-id"); http::is_acceptable_request_id(id))
        request_id_.assign(id);
    else
        http::assign_request_id(worker_.random64(), worker_.random64(), request_id_);

    // A declared body over the limit is refused before any upstream is involved.
    if (head.framing == http::BodyFraming::content_length && head.content_length > config.defaults.limits.body_bytes) {
        client_buffer_.consume(head.head_bytes);
        return send_error(413, "declared body exceeds the limit", true);
    }

    const std::string host = routing::normalize_host(head.host);
    const int index = snapshot_->table.match(host, path_of(head.origin_target));
    if (index < 0) {
        client_buffer_.consume(head.head_bytes);
        return send_error(404, "no route matches this host and path", false);
    }
    route_ = &snapshot_->routes[static_cast<std::size_t>(index)];
    const auto& route = *route_->config;
    auto header = [&](std::string_view name) -> std::optional<std::string_view> {
        if (!head.has(name)) return std::nullopt;
        return head.find(name);
    };
    routing::SplitInput input;
    input.override_role = routing::match_override(route.overrides, header);
    if (route.sticky) {
        if (auto key = routing::sticky_key(*route.sticky, header))
            input.sticky_bucket = sticky_bucket(route.sticky->salt, *key);
    }
    input.random_bp = worker_.random_bp();
    const auto weight = route_->runtime->canary_weight_bp.load(std::memory_order_acquire);
    role_ = routing::choose_version(weight, route_->has_canary, input).role;
    recorder_ = &route_->runtime->recorder(worker_.index(), role_);
    recorder_->begin();

    const auto& version = route_->versions[static_cast<std::size_t>(role_)];
    http::ForwardInfo info;
    info.peer_ip = peer_ip_;
    info.scheme = tls_ ? "https" : "http";
    info.request_id = request_id_;
    info.fallback_host = version.endpoint_ids.empty() ? std::string_view("localhost")
                                                       : std::string_view(snapshot_->endpoints[version.endpoint_ids[0]].key);
    info.upgrade = upgrade_requested_;
    upstream_head_.clear();
    http::append_upstream_head(upstream_head_, head, info);
    client_buffer_.consume(head.head_bytes);  // `head` views die here
    do_acquire_upstream(-1);
}

// ---------------------------------------------------------------- upstream selection

void ClientSession::do_acquire_upstream(std::int64_t exclude_endpoint) {
    const auto& version = route_->versions[static_cast<std::size_t>(role_)];
    const auto route_index = static_cast<std::size_t>(route_ - snapshot_->routes.data());
    const int id = worker_.health().pick(version.endpoint_ids, worker_.cursor(route_index, role_),
                                         std::chrono::steady_clock::now(), exclude_endpoint);
    if (id < 0) {
        if (exclude_endpoint >= 0) return fail_exchange(502, connect_failure_, analysis::ErrorKind::connect);
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

// ---------------------------------------------------------------- end of an exchange

void ClientSession::end_exchange() {
    if (closed_) return;
    response_deadline_ = kNoDeadline;
    expect_timer_.cancel();
    const bool request_complete = body_ == Body::none || body_ == Body::done;
    const bool upstream_reusable =
        upstream_ && !exchange_failed_ && response_complete_ && upstream_keep_alive_ && request_complete && !body_op_pending_;
    if (upstream_reusable) {
        ++upstream_->requests_served;
        worker_.pools().give_back(std::move(upstream_), snapshot_->config->defaults.upstream.max_idle_per_endpoint);
    }
    discard_upstream();
    if (body_op_pending_) {
        // The body pump is still busy (the upstream answered before the body was complete):
        // finish with FIN and let the pump's pending read become the lingering read.
        lingering_ = true;
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        arm_read_deadline(kLingerTime);
        return;
    }
    if (response_keep_alive_ && request_complete) return do_read_head();
    do_close();
}

void ClientSession::fail_exchange(unsigned status, std::string detail,
                                  std::optional<analysis::ErrorKind> upstream_error) {
    if (exchange_failed_ || closed_) return;
    if (upstream_error) record_error(status, *upstream_error);
    else record_abandoned();  // the client's fault (408, 413, bad chunk): not the version's
    exchange_failed_ = true;
    response_deadline_ = kNoDeadline;
    expect_timer_.cancel();
    discard_upstream();
    if (response_started_ || client_write_pending_) return abort();
    if (route_) detail += " (route " + route_->config->name + ", " + config::to_string(role_) + ")";
    send_error(status, detail, false);
}

void ClientSession::send_error(unsigned status, std::string_view detail, bool force_close) {
    if (closed_) return;
    if (response_started_ || client_write_pending_) return abort();
    response_started_ = true;
    const bool request_complete = body_ == Body::none || body_ == Body::done;
    response_keep_alive_ =
        !force_close && client_keep_alive_ && request_complete && !body_op_pending_ && !worker_.draining();
    error_response_status_ = status;
    error_text_.clear();
    http::append_error_response(error_text_, status, detail, client_version_, response_keep_alive_, request_id_);
    client_write_pending_ = true;
    arm_write_deadline(config().defaults.timeouts.idle);
    client_write(asio::buffer(error_text_), [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_error_sent(ec);
    });
}

void ClientSession::on_error_sent(error_code ec) {
    client_write_pending_ = false;
    write_deadline_ = kNoDeadline;
    if (closed_) return;
    if (ec) return abort();
    exchange_failed_ = true;
    write_access_log(error_response_status_, false);
    end_exchange();
}

// ---------------------------------------------------------------- connection helpers

void ClientSession::discard_upstream() {
    if (!upstream_) return;
    error_code ignored;
    upstream_->socket.close(ignored);
    upstream_.reset();
}

void ClientSession::report_upstream_failure() {
    if (!route_) return;
    const auto& ids = route_->versions[static_cast<std::size_t>(role_)].endpoint_ids;
    if (worker_.health().report_failure(endpoint_id_, ids, std::chrono::steady_clock::now())) {
        const auto& health = worker_.health().health(endpoint_id_);
        const auto seconds = std::chrono::duration<double>(health.ejected_until - std::chrono::steady_clock::now()).count();
        log::warn("endpoint_ejected", {{"route", route_->config->name},
                                       {"version", config::to_string(role_)},
                                       {"endpoint", snapshot_->endpoints[endpoint_id_].key},
                                       {"worker", worker_.index()},
                                       {"times_ejected", health.times_ejected},
                                       {"for_seconds", seconds}});
    }
}

void ClientSession::do_close() {
    if (closed_) return;
    lingering_ = true;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    arm_read_deadline(kLingerTime);
    do_linger_read();
}

void ClientSession::do_linger_read() {
    if (closed_) return;
    client_buffer_.clear();
    client_read_pending_ = true;
    socket_.async_read_some(client_buffer_.prepare(kHeadReadChunk), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->client_read_pending_ = false;
        self->linger_bytes_ += n;
        if (ec || self->linger_bytes_ > kLingerBytes) return self->abort();
        self->do_linger_read();
    });
}

void ClientSession::record_response() {
    if (!recorder_) return;
    const auto& statuses = snapshot_->config->defaults.signals.failure_statuses;
    recorder_->finish(final_status_, latency_us_, analysis::is_failure(final_status_, false, statuses), std::nullopt);
    recorder_ = nullptr;
}

void ClientSession::record_error(unsigned status, analysis::ErrorKind kind) {
    if (!recorder_) return;
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
    recorder_->finish(status, static_cast<std::uint64_t>(elapsed.count()), true, kind);
    recorder_ = nullptr;
}

void ClientSession::record_abandoned() {
    if (!recorder_) return;
    recorder_->abandon();
    recorder_ = nullptr;
}

void ClientSession::write_access_log(unsigned status, bool from_upstream) {
    if (access_logged_) return;
    access_logged_ = true;
    AccessLog* log = worker_.access_log();
    if (!log || (method_.empty() && status == 0)) return;  // nothing was requested
    AccessRecord r;
    r.route = route_ ? std::string_view(route_->config->name) : "-";
    r.version = route_ ? config::to_string(role_) : "-";
    r.release = route_ ? std::string_view(route_->versions[static_cast<std::size_t>(role_)].config->release) : "";
    r.method = method_;
    r.path = path_;
    r.request_id = request_id_;
    r.peer = peer_ip_;
    r.status = status;
    r.source = status == 0 ? "aborted" : from_upstream ? "upstream" : "canaryd";
    r.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    r.upstream_ms = static_cast<double>(latency_us_) / 1000.0;
    r.bytes_in = bytes_in_;
    r.bytes_out = bytes_out_;
    log->write(r);
}

void ClientSession::abort() {
    if (closed_) return;
    if (!response_complete_) write_access_log(0, false);
    record_abandoned();
    closed_ = true;
    exchange_failed_ = true;
    discard_upstream();
    read_deadline_ = kNoDeadline;
    write_deadline_ = kNoDeadline;
    expect_timer_.cancel();
    response_deadline_ = kNoDeadline;
    error_code ignored;
    socket_.close(ignored);
}

}  // namespace canaryd::io
