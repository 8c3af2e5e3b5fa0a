// ClientSession: the connection (TLS, deadlines, draining), reading and parsing request
// heads, and picking the route and version of each exchange.
#include "io/session/client_session.hpp"

#include "io/session/client_session_internal.hpp"

#include "core/grpc/grpc_status.hpp"
#include "core/http/request_head.hpp"
#include "core/http/upstream_request.hpp"
#include "core/routing/decide.hpp"
#include "io/h2/http2_connection.hpp"
#include "io/server/worker.hpp"
#include "io/session/sticky_hash.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
using namespace session_detail;

ClientSession::ClientSession(Worker& worker, WorkerSocket socket, std::shared_ptr<asio::ssl::context> tls_context)
    : worker_(worker),
      registry_(worker.sessions()),
      socket_(std::move(socket)),
      tls_context_(std::move(tls_context)) {
    registry_->sessions.insert(this);
    registry_->count.fetch_add(1, std::memory_order_release);
}

ClientSession::ClientSession(Worker& worker, std::shared_ptr<StreamPipe> pipe, std::string peer_ip, bool https)
    : worker_(worker),
      registry_(worker.sessions()),
      socket_(worker.context().get_executor()),
      pipe_(std::move(pipe)),
      pipe_https_(https) {
    peer_ip_ = std::move(peer_ip);
    registry_->sessions.insert(this);
    registry_->count.fetch_add(1, std::memory_order_release);
}

ClientSession::~ClientSession() {
    registry_->sessions.erase(this);
    registry_->count.fetch_sub(1, std::memory_order_release);
}

void ClientSession::drain() {
    if (h2_) return h2_->drain();  // GOAWAY: the streams in flight finish
    // Waiting for the first byte of a next request: nothing is in flight, close now.
    if (!closed_ && !lingering_ && waiting_first_byte_ && client_read_pending_) abort();
}

const config::Config& ClientSession::config() const {
    // Between exchanges (no buffers) the worker's current snapshot applies.
    const bool in_exchange = buffers_ && buffers_->exchange.snapshot;
    return *(in_exchange ? buffers_->exchange.snapshot : worker_.snapshot())->config;
}

void ClientSession::start() {
    if (pipe_) return do_read_head();  // a stream: its request is already in the pipe
    error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (ec) return;  // the client is already gone
    peer_ip_ = peer.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);
    // Synchronous reads (do_await_request) must never block the worker; asynchronous
    // operations are unaffected by this mode.
    socket_.non_blocking(true, ec);
    if (!tls_context_) return do_read_head();
    // TLS: the handshake must finish within the header timeout, like a request head.
    tls_ = std::make_unique<asio::ssl::stream<WorkerSocket&>>(socket_, *tls_context_);
    client_read_pending_ = true;
    read_deadline_ = Clock::now() + config().defaults.timeouts.header;
    tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](error_code e) {
        self->client_read_pending_ = false;
        self->read_deadline_ = kNoDeadline;
        if (e || self->closed_) return self->abort();
        // ALPN chose h2 (RFC 7301; RFC 9113 §3.2): the connection is HTTP/2 from its first byte.
        const unsigned char* protocol = nullptr;
        unsigned int length = 0;
        SSL_get0_alpn_selected(self->tls_->native_handle(), &protocol, &length);
        if (length == 2 && protocol[0] == 'h' && protocol[1] == '2') return self->become_http2({});
        self->do_read_head();
    });
}

// ---------------------------------------------------------------- HTTP/2

namespace {
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}  // namespace

bool ClientSession::starts_http2() {
    // Only as a connection's first bytes (h2c by prior knowledge, RFC 9113 §3.3), and only
    // on a real connection (a stream cannot nest one).
    if (pipe_ || exchange_seq_ != 1) return false;
    const auto bytes = buffer_view(client_buffer_);
    const auto n = std::min(bytes.size(), kHttp2Preface.size());
    return bytes.substr(0, n) == kHttp2Preface.substr(0, n);
}

void ClientSession::become_http2(std::string_view received) {
    read_deadline_ = kNoDeadline;
    if (buffers_) worker_.take_back(std::move(buffers_));
    h2_ = std::make_shared<Http2Connection>(worker_, shared_from_this(), peer_ip_, tls_ != nullptr);
    h2_->start(received);
}

void ClientSession::raw_close() {
    abort();
    h2_.reset();
}

void ClientSession::shutdown_client_send() {
    if (pipe_) return pipe_->end_response();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
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
    if (h2_) return h2_->check_deadlines(now);
    if (now >= write_deadline_ && client_write_pending_) return abort();  // the client does not read
    if (now >= read_deadline_ && client_read_pending_) {
        read_deadline_ = kNoDeadline;
        if (client_write_pending_) return abort();  // cannot answer 408 mid-write
        // Cancelling the socket completes the read with operation_aborted; the flag tells the
        // read handler it was a timeout, so it can still answer 408 on the open socket.
        read_timed_out_ = true;
        if (pipe_) {
            pipe_->cancel_read();
        } else {
            error_code ignored;
            socket_.cancel(ignored);
        }
    }
    if (now >= response_deadline_ && response_.reading() && !exchange().response_started) {
        response_deadline_ = kNoDeadline;
        response_.note_timeout();
        discard_upstream_socket();  // completes the pending read
    }
    if (now >= upstream_deadline_ && upstream_) {
        upstream_deadline_ = kNoDeadline;
        if (exchange().connecting) exchange().connect_timed_out = true;
        discard_upstream_socket();  // a connect or a body transfer that stalled
    }
    if (now >= expect_deadline_) {
        expect_deadline_ = kNoDeadline;
        response_.on_expect_deadline();
    }
    if (tunnel_buffers_ && now - tunnel_activity_ >= config().defaults.timeouts.tunnel_idle) close_tunnel();
}

void ClientSession::discard_upstream_socket() {
    if (!upstream_) return;
    upstream_->cancel_pending();
}

// ---------------------------------------------------------------- request head

void ClientSession::do_read_head() {
    ++exchange_seq_;
    if (buffers_) reset_exchange();  // a pipelined request: the buffers stay, their state starts over
    write_deadline_ = response_deadline_ = upstream_deadline_ = expect_deadline_ = kNoDeadline;
    upstream_.reset();
    if (worker_.draining()) {
        // Shutting down: the exchange that just ended was the last on this connection.
        if (buffers_) exchange().access_logged = true;
        return do_close();
    }
    if (client_buffer_.size() != 0) {
        // A pipelined request is already buffered: its header deadline starts now.
        arm_read_deadline(config().defaults.timeouts.header);
        return parse_head();
    }
    // Between requests the idle timeout applies; the header deadline starts with the first byte.
    waiting_first_byte_ = true;
    arm_read_deadline(config().defaults.timeouts.idle);
    do_await_request(false);
}

// An idle keep-alive connection holds no read buffer: with thousands of them, memory per
// connection is what counts (bench/compare.sh measures it). So read what is already there
// (the same non-blocking recv Asio's async read would try first), and if nothing is, free
// the buffer and wait for readability instead of parking a read into it. Asio's reactor is
// edge-triggered and a wait is never speculative, so the recv must come first: bytes that
// arrived earlier raised no new edge. The worker is single-threaded, so no event can slip
// between the recv and the wait being queued.
void ClientSession::do_await_request(bool from_readiness) {
    // TLS reads go through the stream's own record buffers; a stream's through its pipe.
    if (tls_ || pipe_) return do_read_head_bytes();
    error_code ec;
    const auto bytes = socket_.read_some(client_buffer_.prepare(kHeadReadChunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        client_buffer_.shrink_to_fit();
        if (buffers_) worker_.take_back(std::move(buffers_));
        client_read_pending_ = true;
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code e) {
            self->client_read_pending_ = false;
            if (self->closed_) return;
            if (e) return self->on_head_bytes(e, 0);  // idle timeout, drain or reset
            self->do_await_request(true);              // the recv finds the bytes or the end of stream
        });
        return;
    }
    if (from_readiness) return on_head_bytes(ec, bytes);
    // The bytes were there before this exchange's caller finished: handle them as a queued
    // completion, as Asio's own speculative read does, so that work already queued on this
    // worker runs first (another session handing its upstream connection back to the pool).
    client_read_pending_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this(), ec, bytes] { self->on_head_bytes(ec, bytes); });
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
    if (starts_http2()) {
        const auto bytes = buffer_view(client_buffer_);
        if (bytes.size() < kHttp2Preface.size()) return do_read_head_bytes();  // the rest of the preface
        std::string received(bytes);
        client_buffer_.clear();
        return become_http2(received);
    }
    const auto& limits = config().defaults.limits;
    http::HeadLimits head_limits;
    head_limits.request_line_bytes = limits.request_line_bytes;
    head_limits.header_bytes = limits.header_bytes;
    head_limits.field_bytes = limits.field_bytes;
    head_limits.field_count = limits.field_count;
    auto& parsed = head_parse();
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
    auto& x = exchange();
    x.snapshot = worker_.snapshot();
    const auto& config = *x.snapshot->config;
    x.started = Clock::now();
    if (worker_.access_log()) {
        text().method.assign(head.method);
        text().path.assign(head.origin_target);
    }
    x.method_is_head = head.is_head_method();
    x.client_version = head.version;
    x.client_keep_alive = head.keep_alive;
    x.upgrade_requested = head.upgrade;
    x.grpc = grpc::is_grpc_content_type(head.find("content-type"));
    if (x.grpc)
        if (auto timeout = grpc::parse_timeout(head.find("grpc-timeout"))) x.grpc_timeout = *timeout;
    text().upgrade_protocols.assign(head.upgrade_protocols);
    body_.begin(head);
    if (auto id = head.find("x-request-id"); http::is_acceptable_request_id(id))
        text().request_id.assign(id);
    else
        http::assign_request_id(worker_.random64(), worker_.random64(), text().request_id);

    // A declared body over the limit is refused before any upstream is involved.
    if (head.framing == http::BodyFraming::content_length && head.content_length > config.defaults.limits.body_bytes) {
        client_buffer_.consume(head.head_bytes);
        return send_error(413, "declared body exceeds the limit", true);
    }

    const std::string host = routing::normalize_host(head.host);
    const int index = x.snapshot->table.match(host, path_of(head.origin_target));
    if (index < 0) {
        client_buffer_.consume(head.head_bytes);
        return send_error(404, "no route matches this host and path", false);
    }
    x.route = &x.snapshot->routes[static_cast<std::size_t>(index)];
    const auto weight = x.route->runtime->canary_weight_bp.load(std::memory_order_acquire);
    const auto decision = routing::decide(*x.route->config, x.route->has_canary, head, weight, worker_.random_bp(),
                                          [](std::string_view salt, std::string_view key) { return sticky_bucket(salt, key); });
    x.role = decision.role;
    x.reason = decision.reason;
    x.recorder = &x.route->runtime->recorder(worker_.index(), x.role);
    x.recorder->begin();

    const auto& version = x.route->versions[static_cast<std::size_t>(x.role)];
    http::ForwardInfo info;
    info.peer_ip = peer_ip_;
    info.scheme = tls_ || pipe_https_ ? "https" : "http";
    info.request_id = text().request_id;
    info.fallback_host = version.endpoint_ids.empty() ? std::string_view("localhost")
                                                       : std::string_view(x.snapshot->endpoints[version.endpoint_ids[0]].host);
    info.upgrade = x.upgrade_requested;
    http::append_upstream_head(text().upstream_head, head, info);
    client_buffer_.consume(head.head_bytes);  // `head` views die here
    do_acquire_upstream(-1);
}

void ClientSession::reset_exchange() {
    auto& b = *buffers_;
    b.exchange = Exchange{};
    b.exchange.started = Clock::now();
    b.text.clear();
    b.body = RequestBodyPump::State{};
    b.relay = ResponseRelay::State{};
}

void ClientSession::borrow_buffers() {
    buffers_ = worker_.lend();
    reset_exchange();
}

std::uint64_t ClientSession::microseconds_since_start() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - exchange().started).count());
}

}  // namespace canaryd::io
