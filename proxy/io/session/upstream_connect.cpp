// ClientSession: choosing an endpoint of the chosen version, connecting (or reusing a pooled
// connection), sending the request head, and the one retry.
#include "io/session/client_session.hpp"

#include "io/log/log.hpp"
#include "io/server/worker.hpp"
#include "io/upstream/upstream_tls.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

void ClientSession::do_acquire_upstream(std::int64_t exclude_endpoint) {
    auto& x = exchange();
    const auto& version = x.route->versions[static_cast<std::size_t>(x.role)];
    const auto route_index = static_cast<std::size_t>(x.route - x.snapshot->routes.data());
    const int id = worker_.health().pick(version.endpoint_ids, worker_.cursor(route_index, x.role), Clock::now(),
                                         exclude_endpoint);
    if (id < 0) {
        // Retry parity: a version with a single endpoint gets its one retry on that endpoint
        // with a fresh connection, so a transient connect error counts against neither
        // version more than the other (a one-endpoint canary next to a many-endpoint stable).
        if (exclude_endpoint >= 0) return do_connect(static_cast<std::uint32_t>(exclude_endpoint));
        return fail_exchange(503, "no endpoint available", analysis::ErrorKind::no_endpoint);
    }
    x.endpoint_id = static_cast<std::uint32_t>(id);
    // An HTTP/2 upstream multiplexes: its connections are the h2 pool's, each exchange a stream.
    if (!x.snapshot->endpoints[x.endpoint_id].http2) {
        upstream_ = worker_.pools().take(x.endpoint_id, config().defaults.timeouts.idle);
        if (upstream_) return do_send_head();
    }
    do_connect(x.endpoint_id);
}

void ClientSession::do_connect(std::uint32_t endpoint_id) {
    const auto& endpoint = exchange().snapshot->endpoints[endpoint_id];
    if (endpoint.http2) {
        // A stream on a pooled HTTP/2 connection (a new one when none has room): ready when
        // that connection is, within the connect deadline, and retried like a connect.
        upstream_ = worker_.h2_pools().open(endpoint_id, endpoint, config().defaults.timeouts.connect);
        exchange().connecting = true;
        exchange().connect_timed_out = false;
        upstream_deadline_ = Clock::now() + config().defaults.timeouts.connect;
        upstream_->stream->wait_ready([self = shared_from_this(), keep = upstream_](error_code ec) { self->on_connect(ec); });
        return;
    }
    upstream_ = worker_.pools().create(endpoint_id);
    exchange().connecting = true;
    exchange().connect_timed_out = false;
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.connect;
    // Every upstream operation's handler holds the connection, so discarding it while an
    // operation is pending only closes the socket; the memory lives until the handler runs.
    upstream_->socket.async_connect(exchange().snapshot->endpoints[endpoint_id].address,
                                    [self = shared_from_this(), keep = upstream_](error_code ec) { self->on_connect(ec); });
}

void ClientSession::on_connect(error_code ec) {
    auto& x = exchange();
    x.connecting = false;
    upstream_deadline_ = kNoDeadline;
    if (closed_ || x.failed) return;
    if (ec) {
        text().connect_failure = x.connect_timed_out ? "upstream connect timed out" : "upstream refused the connection";
        report_upstream_failure();
        discard_upstream();
        // Nothing was sent, so another endpoint of the same version may take it (SPEC §4).
        if (!x.retried) {
            x.retried = true;
            return do_acquire_upstream(x.endpoint_id);
        }
        return fail_exchange(502, text().connect_failure, analysis::ErrorKind::connect);
    }
    if (upstream_->stream) return do_send_head();  // its connection did TCP and TLS
    error_code ignored;
    upstream_->socket.set_option(tcp::no_delay(true), ignored);
    if (x.snapshot->endpoints[x.endpoint_id].tls) return do_tls_handshake();
    do_send_head();
}

void ClientSession::do_tls_handshake() {
    auto& x = exchange();
    const auto& endpoint = x.snapshot->endpoints[x.endpoint_id];
    upstream_->tls_context = endpoint.tls;
    upstream_->tls = std::make_unique<asio::ssl::stream<WorkerSocket&>>(upstream_->socket, *endpoint.tls);
    SSL* ssl = upstream_->tls->native_handle();
    prepare_upstream_ssl(ssl, endpoint.tls_name, endpoint.tls_verify);
    if (SSL_SESSION* cached = worker_.pools().tls_session(x.endpoint_id, endpoint.tls.get())) {
        // A copy again, so that this connection ending badly cannot spoil the cached one.
        SSL_SESSION* offered = SSL_SESSION_dup(cached);
        SSL_set_session(ssl, offered);
        SSL_SESSION_free(offered);  // the connection holds its own reference
    }
    // The handshake is part of connecting: the same deadline, and a timeout counts as one.
    x.connecting = true;
    upstream_deadline_ = Clock::now() + config().defaults.timeouts.connect;
    upstream_->tls->async_handshake(asio::ssl::stream_base::client,
                                    [self = shared_from_this(), keep = upstream_](error_code ec) { self->on_tls_handshake(ec); });
}

void ClientSession::on_tls_handshake(error_code ec) {
    auto& x = exchange();
    x.connecting = false;
    upstream_deadline_ = kNoDeadline;
    if (closed_ || x.failed) return;
    const auto& endpoint = x.snapshot->endpoints[x.endpoint_id];
    if (ec) {
        note_tls_failure(x.connect_timed_out ? "TLS handshake timed out"
                                             : tls_failure_reason(upstream_->tls->native_handle(), ec));
        report_upstream_failure();
        discard_upstream();
        // A certificate that does not verify will not verify on the retry either, but a
        // handshake cut short may be transient: the one retry of a connect failure applies.
        if (!x.retried && x.connect_timed_out) {
            x.retried = true;
            return do_acquire_upstream(x.endpoint_id);
        }
        return fail_exchange(502, "upstream TLS handshake failed", analysis::ErrorKind::tls);
    }
    if (worker_.pools().tls_reason_changed(x.endpoint_id, "")) log::info("upstream_tls_recovered", {{"endpoint", endpoint.key}});
    do_send_head();
}

void ClientSession::do_send_head() {
    write_to_upstream(asio::buffer(text().upstream_head), [](ClientSession& self, error_code ec) {
        if (self.exchange().failed) return;
        if (ec) {
            if (self.may_replay(ec)) return self.replay_on_fresh_connection();
            self.report_upstream_failure();
            return self.fail_exchange(502, "sending the request upstream failed: " + ec.message(),
                                      analysis::ErrorKind::reset);
        }
        self.response_.start();
        self.body_.after_head_sent();
    });
}

void ClientSession::note_tls_failure(const std::string& reason) {
    const auto& x = exchange();
    const auto& endpoint = x.snapshot->endpoints[x.endpoint_id];
    // One line per endpoint and reason, not one per request of a broken upstream.
    if (worker_.pools().tls_reason_changed(x.endpoint_id, reason))
        log::warn("upstream_tls_failed", {{"route", x.route->config->name},
                                          {"version", config::to_string(x.role)},
                                          {"endpoint", endpoint.key},
                                          {"server_name", endpoint.tls_name},
                                          {"error", reason},
                                          {"worker", worker_.index()}});
}

bool ClientSession::is_tls_alert(error_code ec) const {
    return upstream_ && upstream_->tls && ec.category() == asio::error::get_ssl_category();
}

bool ClientSession::may_replay(error_code ec) {
    // A pooled connection that the upstream closed just as it was reused: the request is
    // replayed once on a new connection when it has no body (nothing of it is lost) and no
    // response byte arrived (HAProxy's retry-on-reused-connection rule).
    if (exchange().retried || !body_.replayable() || !upstream_ || upstream_->requests_served == 0) return false;
    return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

void ClientSession::replay_on_fresh_connection() {
    exchange().retried = true;
    response_deadline_ = kNoDeadline;
    discard_upstream();
    do_connect(exchange().endpoint_id);
}

}  // namespace canaryd::io
