#include "io/client_session.hpp"

#include "http/error_page.hpp"
#include "http/hop_by_hop.hpp"
#include "io/forwarding.hpp"
#include "io/sticky_hash.hpp"
#include "io/worker.hpp"
#include "routing/split.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace canaryd::io {

namespace beast = boost::beast;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Bounded relay buffer: memory per exchange does not grow with the body size (SPEC §4).
constexpr std::size_t kBodyChunk = 16 * 1024;
// How long a closing connection keeps reading what the client still sends, so that the
// kernel does not answer with RST and destroy the response we just wrote (the reason
// nginx and HAProxy linger).
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 256 * 1024;

std::string_view path_of(std::string_view target) {
    auto end = target.find_first_of("?#");
    return end == std::string_view::npos ? target : target.substr(0, end);
}

}  // namespace

ClientSession::ClientSession(Worker& worker, tcp::socket socket) : worker_(worker), client_(std::move(socket)) {}

const config::Timeouts& ClientSession::timeouts() const {
    return (snapshot_ ? snapshot_ : worker_.snapshot())->config->defaults.timeouts;
}

char* ClientSession::body_buffer() {
    if (!body_buffer_) body_buffer_ = std::make_unique<char[]>(kBodyChunk);
    return body_buffer_.get();
}

void ClientSession::start() {
    error_code ec;
    auto peer = client_.socket().remote_endpoint(ec);
    if (ec) return;  // the client is already gone
    peer_ip_ = peer.address().to_string();
    client_.socket().set_option(tcp::no_delay(true), ec);
    do_read_request();
}

// ---------------------------------------------------------------- request side

void ClientSession::do_read_request() {
    snapshot_.reset();
    route_ = nullptr;
    retried_ = false;
    request_body_started_ = false;
    response_started_ = false;
    if (client_buffer_.size() != 0) return do_read_request_header();  // pipelined request waiting
    // Between requests the idle timeout applies; the header deadline starts with its first byte.
    client_.expires_after(timeouts().idle);
    client_.async_read_some(client_buffer_.prepare(4096),
                            beast::bind_front_handler(&ClientSession::on_first_bytes, shared_from_this()));
}

void ClientSession::on_first_bytes(error_code ec, std::size_t bytes) {
    if (ec) return abort();  // idle timeout, EOF or reset between requests: nothing to answer
    client_buffer_.commit(bytes);
    do_read_request_header();
}

void ClientSession::do_read_request_header() {
    const auto& config = *worker_.snapshot()->config;
    request_.emplace();
    request_->header_limit(static_cast<std::uint32_t>(config.defaults.limits.header_bytes));
    request_->body_limit(config.defaults.limits.body_bytes);
    // An absolute deadline for the whole header: one byte a second cannot keep it open.
    client_.expires_after(config.defaults.timeouts.header);
    http::async_read_header(client_, client_buffer_, *request_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_request_header(ec); });
}

void ClientSession::on_request_header(error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset) return abort();
    if (ec == beast::error::timeout) return send_error(408, "request header not received in time", true);
    if (ec == http::error::header_limit) return send_error(431, "request header block too large", true);
    if (ec == http::error::body_limit) return send_error(413, "declared body exceeds the limit", true);
    if (ec) return send_error(400, ec.message(), true);

    const auto& request = request_->get();
    if (request.version() == 11 && request.find(http::field::host) == request.end())
        return send_error(400, "missing Host header", true);
    client_keep_alive_ = request.keep_alive();
    if (auto id = request.find("x-request-id"); id != request.end() && is_acceptable_request_id(id->value()))
        request_id_ = std::string(id->value());
    else
        request_id_ = format_request_id(worker_.random64(), worker_.random64());
    route_request();
}

void ClientSession::route_request() {
    snapshot_ = worker_.snapshot();
    const auto& request = request_->get();
    std::string host;
    if (auto h = request.find(http::field::host); h != request.end()) host = routing::normalize_host(h->value());
    const int index = snapshot_->table.match(host, path_of(request.target()));
    if (index < 0) return send_error(404, "no route matches this host and path", !request_->is_done());
    route_ = &snapshot_->routes[static_cast<std::size_t>(index)];

    auto header = [&](std::string_view name) -> std::optional<std::string_view> {
        auto it = request.find(name);
        if (it == request.end()) return std::nullopt;
        return it->value();
    };
    const auto& route = *route_->config;
    routing::SplitInput input;
    input.override_role = routing::match_override(route.overrides, header);
    if (route.sticky) {
        if (auto key = routing::sticky_key(*route.sticky, header))
            input.sticky_bucket = sticky_bucket(route.sticky->salt, *key);
    }
    input.random_bp = worker_.random_bp();
    const auto weight = route_->runtime->canary_weight_bp.load(std::memory_order_acquire);
    role_ = routing::choose_version(weight, route_->has_canary, input).role;
    do_acquire_upstream(-1);
}

// ---------------------------------------------------------------- upstream side

void ClientSession::do_acquire_upstream(std::int64_t exclude_endpoint) {
    const auto& version = route_->versions[static_cast<std::size_t>(role_)];
    const auto route_index = static_cast<std::size_t>(route_ - snapshot_->routes.data());
    const int id = worker_.health().pick(version.endpoint_ids, worker_.cursor(route_index, role_),
                                         std::chrono::steady_clock::now(), exclude_endpoint);
    if (id < 0) {
        if (exclude_endpoint >= 0) return upstream_failed(502, "upstream refused the connection");
        return send_error(503, "no endpoint available for " + route_->config->name + "/" + config::to_string(role_),
                          !request_->is_done());
    }
    endpoint_id_ = static_cast<std::uint32_t>(id);
    upstream_ = worker_.pools().take(endpoint_id_, timeouts().idle);
    if (upstream_) return do_send_request_header();
    do_connect(endpoint_id_);
}

void ClientSession::do_connect(std::uint32_t endpoint_id) {
    upstream_ = worker_.pools().create(endpoint_id);
    upstream_->stream.expires_after(timeouts().connect);
    upstream_->stream.async_connect(snapshot_->endpoints[endpoint_id].addresses,
                                    [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
                                        self->on_connect(ec);
                                    });
}

void ClientSession::on_connect(error_code ec) {
    if (ec) {
        const auto& ids = route_->versions[static_cast<std::size_t>(role_)].endpoint_ids;
        worker_.health().report_failure(endpoint_id_, ids, std::chrono::steady_clock::now());
        discard_upstream();
        // Nothing was sent, so another endpoint of the same version may take it (SPEC §4).
        if (!retried_) {
            retried_ = true;
            return do_acquire_upstream(endpoint_id_);
        }
        return upstream_failed(502, ec == beast::error::timeout ? "upstream connect timed out"
                                                                : "upstream refused the connection");
    }
    error_code ignored;
    upstream_->stream.socket().set_option(tcp::no_delay(true), ignored);
    do_send_request_header();
}

void ClientSession::do_send_request_header() {
    const auto& request = request_->get();
    const ForwardContext context{peer_ip_, "http", request_id_};
    build_upstream_request(request.base(), request.chunked(), context, upstream_request_.base());
    upstream_request_.body().data = nullptr;
    upstream_request_.body().size = 0;
    upstream_request_.body().more = !request_->is_done();
    upstream_request_writer_.emplace(upstream_request_);
    upstream_->stream.expires_after(timeouts().upstream_response);
    http::async_write_header(upstream_->stream, *upstream_request_writer_,
                             [self = shared_from_this()](error_code ec, std::size_t) {
                                 self->on_request_header_sent(ec);
                             });
}

bool ClientSession::may_retry_upstream(error_code ec) const {
    // A pooled connection the upstream closed just as we reused it: safe to replay on a new
    // connection when no byte of the request body has been consumed (HAProxy's "retry on
    // reused connection" rule) and no byte of response arrived.
    if (retried_ || request_body_started_ || !upstream_ || upstream_->requests_served == 0) return false;
    return ec == asio::error::eof || ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

void ClientSession::retry_on_fresh_connection() {
    retried_ = true;
    discard_upstream();
    do_connect(endpoint_id_);
}

void ClientSession::on_request_header_sent(error_code ec) {
    if (ec) {
        if (may_retry_upstream(ec)) return retry_on_fresh_connection();
        return upstream_failed(502, "sending the request upstream failed: " + ec.message());
    }
    if (request_->is_done()) return do_write_request_body(0, true);
    do_read_request_body();
}

void ClientSession::do_read_request_body() {
    auto& body = request_->get().body();
    body.data = body_buffer();
    body.size = kBodyChunk;
    client_.expires_after(timeouts().idle);
    http::async_read_some(client_, client_buffer_, *request_, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_request_body_read(ec);
    });
}

void ClientSession::on_request_body_read(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        discard_upstream();
        if (ec == beast::error::timeout) return send_error(408, "request body not received in time", true);
        if (ec == http::error::body_limit) return send_error(413, "request body exceeds the limit", true);
        if (ec == http::error::partial_message || ec == http::error::end_of_stream ||
            ec == asio::error::connection_reset || ec == asio::error::eof)
            return abort();
        return send_error(400, ec.message(), true);
    }
    const std::size_t got = kBodyChunk - request_->get().body().size;
    const bool done = request_->is_done();
    if (got == 0 && !done) return do_read_request_body();
    if (got > 0) request_body_started_ = true;
    do_write_request_body(got, done);
}

void ClientSession::do_write_request_body(std::size_t bytes, bool last) {
    auto& out = upstream_request_.body();
    out.data = bytes > 0 ? body_buffer() : nullptr;
    out.size = bytes;
    out.more = !last;
    upstream_->stream.expires_after(timeouts().upstream_response);
    http::async_write(upstream_->stream, *upstream_request_writer_,
                      [self = shared_from_this()](error_code e, std::size_t) { self->on_request_body_written(e); });
}

void ClientSession::on_request_body_written(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        if (may_retry_upstream(ec)) return retry_on_fresh_connection();
        return upstream_failed(502, "sending the request body upstream failed: " + ec.message());
    }
    if (upstream_request_writer_->is_done()) return do_read_response_header();
    do_read_request_body();
}

void ClientSession::do_read_response_header() {
    response_.emplace();
    response_->header_limit(static_cast<std::uint32_t>(snapshot_->config->defaults.limits.header_bytes));
    response_->body_limit(boost::none);  // responses are streamed, never held
    if (request_->get().method() == http::verb::head) response_->skip(true);
    upstream_->stream.expires_after(timeouts().upstream_response);
    http::async_read_header(upstream_->stream, upstream_->buffer, *response_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_response_header(ec); });
}

void ClientSession::on_response_header(error_code ec) {
    if (ec) {
        if (may_retry_upstream(ec)) return retry_on_fresh_connection();
        if (ec == beast::error::timeout) return upstream_failed(504, "upstream did not answer in time");
        return upstream_failed(502, "invalid or missing upstream response: " + ec.message());
    }
    const auto& response = response_->get();
    const unsigned status = response.result_int();
    if (status >= 100 && status < 200) {
        if (status == 101) return upstream_failed(502, "upstream switched protocols without an upgrade request");
        // RFC 9110 §15.2: a proxy forwards 1xx responses, except to HTTP/1.0 clients.
        if (request_->get().version() < 11) return do_read_response_header();
        interim_response_.emplace();
        interim_response_->result(status);
        interim_response_->version(11);
        for (const auto& f : response)
            if (!canaryd::http::is_always_hop_by_hop(f.name_string())) interim_response_->insert(f.name_string(), f.value());
        client_.expires_after(timeouts().idle);
        return http::async_write(client_, *interim_response_,
                                 [self = shared_from_this()](error_code e, std::size_t) {
                                     self->on_interim_response_sent(e);
                                 });
    }
    do_send_response_header();
}

void ClientSession::on_interim_response_sent(error_code ec) {
    interim_response_.reset();
    if (ec) return abort();
    do_read_response_header();
}

void ClientSession::do_send_response_header() {
    const auto& response = response_->get();
    const ForwardContext context{peer_ip_, "http", request_id_};
    build_client_response(response.base(), context, client_response_.base());
    // HTTP/1.0 clients get a 1.0 response so that keep-alive is spelt out for them.
    if (request_->get().version() < 11) client_response_.version(10);
    const auto& version_header = snapshot_->config->defaults.version_header;
    if (!version_header.empty()) {
        const auto& version = route_->versions[static_cast<std::size_t>(role_)];
        client_response_.set(version_header, std::string(config::to_string(role_)) + "/" + version.config->release);
    }
    // The client connection stays open only if its request was read to the end.
    client_keep_alive_ = client_keep_alive_ && request_->is_done();
    if (!response_->is_done()) {
        if (response.chunked()) {
            client_response_.chunked(true);
        } else if (!response_->content_length()) {
            // Delimited by the upstream closing: re-frame as chunked for HTTP/1.1 clients so
            // the client connection survives; HTTP/1.0 clients get a close-delimited body.
            if (request_->get().version() >= 11)
                client_response_.chunked(true);
            else
                client_keep_alive_ = false;
        }
    }
    client_response_.keep_alive(client_keep_alive_);
    client_response_.body().data = nullptr;
    client_response_.body().size = 0;
    client_response_.body().more = !response_->is_done();
    client_response_writer_.emplace(client_response_);
    client_.expires_after(timeouts().idle);
    http::async_write_header(client_, *client_response_writer_,
                             [self = shared_from_this()](error_code ec, std::size_t) {
                                 self->on_response_header_sent(ec);
                             });
}

void ClientSession::on_response_header_sent(error_code ec) {
    response_started_ = true;
    if (ec) return abort();
    // HEAD, 204 and 304 responses and Content-Length: 0 carry no body (RFC 9112 §6.3).
    if (response_->is_done()) return finish_exchange();
    do_read_response_body();
}

void ClientSession::do_read_response_body() {
    auto& body = response_->get().body();
    body.data = body_buffer();
    body.size = kBodyChunk;
    upstream_->stream.expires_after(timeouts().upstream_response);
    http::async_read_some(upstream_->stream, upstream_->buffer, *response_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_response_body_read(ec); });
}

void ClientSession::on_response_body_read(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        // The upstream failed mid-body. The client must see a broken response, never a
        // short one that looks complete (no fake chunk terminator).
        discard_upstream();
        return abort();
    }
    const bool done = response_->is_done();
    const std::size_t got = kBodyChunk - response_->get().body().size;
    if (got == 0 && !done) return do_read_response_body();
    auto& out = client_response_.body();
    out.data = got > 0 ? body_buffer() : nullptr;
    out.size = got;
    out.more = !done;
    client_.expires_after(timeouts().idle);
    http::async_write(client_, *client_response_writer_,
                      [self = shared_from_this()](error_code e, std::size_t) { self->on_response_body_written(e); });
}

void ClientSession::on_response_body_written(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        discard_upstream();
        return abort();
    }
    if (client_response_writer_->is_done()) return finish_exchange();
    do_read_response_body();
}

void ClientSession::finish_exchange() {
    worker_.health().report_success(endpoint_id_);
    const bool upstream_reusable = response_->is_done() && response_->get().keep_alive() &&
                                   upstream_request_writer_ && upstream_request_writer_->is_done();
    if (upstream_reusable) {
        ++upstream_->requests_served;
        worker_.pools().give_back(std::move(upstream_), snapshot_->config->defaults.upstream.max_idle_per_endpoint);
    }
    discard_upstream();
    upstream_request_writer_.reset();
    client_response_writer_.reset();
    response_.reset();
    if (client_keep_alive_) return do_read_request();
    do_close();
}

// ---------------------------------------------------------------- failures

void ClientSession::upstream_failed(unsigned status, std::string detail) {
    discard_upstream();
    if (response_started_) return abort();
    const std::string where = route_ ? " (route " + route_->config->name + ", " + config::to_string(role_) + ")" : "";
    send_error(status, detail + where, !request_->is_done());
}

void ClientSession::send_error(unsigned status, std::string_view detail, bool close_after) {
    if (response_started_) return abort();
    response_started_ = true;
    const bool keep_alive = !close_after && client_keep_alive_ && request_ && request_->is_done();
    auto& response = error_response_.emplace();
    response.result(status);
    response.version(request_ && request_->get().version() < 11 ? 10 : 11);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.set(http::field::cache_control, "no-store");
    if (!request_id_.empty()) response.set("x-request-id", request_id_);
    response.body() = canaryd::http::error_body(status, detail);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    client_.expires_after(timeouts().idle);
    http::async_write(client_, response, [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
        self->on_error_sent(ec, !keep_alive);
    });
}

void ClientSession::on_error_sent(error_code ec, bool close_after) {
    error_response_.reset();
    if (ec) return abort();
    if (close_after) return do_close();
    do_read_request();
}

void ClientSession::discard_upstream() {
    if (!upstream_) return;
    error_code ignored;
    upstream_->stream.socket().close(ignored);
    upstream_.reset();
}

void ClientSession::do_close() {
    error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    client_buffer_.clear();
    client_.expires_after(kLingerTime);
    client_.async_read_some(client_buffer_.prepare(4096),
                            beast::bind_front_handler(&ClientSession::on_linger_read, shared_from_this()));
}

void ClientSession::on_linger_read(error_code ec, std::size_t bytes) {
    linger_bytes_ += bytes;
    if (ec || linger_bytes_ > kLingerBytes) return abort();
    client_.async_read_some(client_buffer_.prepare(4096),
                            beast::bind_front_handler(&ClientSession::on_linger_read, shared_from_this()));
}

void ClientSession::abort() {
    discard_upstream();
    error_code ignored;
    client_.socket().close(ignored);
}

}  // namespace canaryd::io
