// ClientSession: how an exchange ends (done, failed, aborted), its signals and access-log
// line, and closing the connection.
#include "io/session/client_session.hpp"

#include "core/grpc/grpc_status.hpp"
#include "core/http/error_page.hpp"
#include "io/log/access_log.hpp"
#include "io/log/log.hpp"
#include "io/server/worker.hpp"
#include "io/session/client_session_internal.hpp"

#include <boost/asio/buffer.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
using namespace session_detail;

// ---------------------------------------------------------------- end of an exchange

void ClientSession::end_exchange() {
    if (closed_) return;
    auto& x = exchange();
    response_deadline_ = kNoDeadline;
    expect_deadline_ = kNoDeadline;
    // A complete exchange has read the server's session tickets: the session is resumable,
    // whether or not the connection itself is kept.
    if (upstream_ && !x.failed && x.response_complete) worker_.pools().keep_tls_session(*upstream_);
    const bool upstream_reusable = upstream_ && !x.failed && x.response_complete && response_.upstream_keep_alive() &&
                                   body_.complete() && !body_.busy();
    if (upstream_reusable) {
        ++upstream_->requests_served;
        worker_.pools().give_back(std::move(upstream_), x.snapshot->config->defaults.upstream.max_idle_per_endpoint);
    }
    discard_upstream();
    if (body_.busy()) {
        // The body pump is still busy (the upstream answered before the body was complete):
        // finish with FIN and let the pump's pending read become the lingering read.
        lingering_ = true;
        shutdown_client_send();
        arm_read_deadline(kLingerTime);
        return;
    }
    if (x.response_keep_alive && body_.complete()) return do_read_head();
    do_close();
}

void ClientSession::fail_exchange(unsigned status, std::string detail,
                                  std::optional<analysis::ErrorKind> upstream_error) {
    auto& x = exchange();
    if (x.failed || closed_) return;
    if (upstream_error) record_error(status, *upstream_error);
    else record_abandoned();  // the client's fault (408, 413, bad chunk): not the version's
    x.failed = true;
    response_deadline_ = kNoDeadline;
    expect_deadline_ = kNoDeadline;
    discard_upstream();
    if (x.response_started || client_write_pending_) return abort();
    if (x.route) detail += " (route " + x.route->config->name + ", " + config::to_string(x.role) + ")";
    send_error(status, detail, false);
}

void ClientSession::send_error(unsigned status, std::string_view detail, bool force_close) {
    auto& x = exchange();
    if (closed_) return;
    if (x.response_started || client_write_pending_) return abort();
    x.response_started = true;
    x.response_keep_alive =
        !force_close && x.client_keep_alive && body_.complete() && !body_.busy() && !worker_.draining();
    x.error_response_status = status;
    text().error.clear();
    if (x.grpc) grpc::append_error_response(text().error, status, detail, text().request_id);  // never an HTML page
    else http::append_error_response(text().error, status, detail, x.client_version, x.response_keep_alive, text().request_id);
    write_to_client(asio::buffer(text().error), [](ClientSession& self) {
        self.exchange().failed = true;
        self.write_access_log(self.exchange().error_response_status, false);
        self.end_exchange();
    });
}

// ---------------------------------------------------------------- connection helpers

void ClientSession::discard_upstream() {
    if (!upstream_) return;
    upstream_->close();
    upstream_.reset();
}

void ClientSession::report_upstream_failure() {
    const auto& x = exchange();
    if (!x.route) return;
    const auto& ids = x.route->versions[static_cast<std::size_t>(x.role)].endpoint_ids;
    if (worker_.health().report_failure(x.endpoint_id, ids, Clock::now())) {
        const auto& health = worker_.health().health(x.endpoint_id);
        const auto seconds = std::chrono::duration<double>(health.ejected_until - Clock::now()).count();
        log::warn("endpoint_ejected", {{"route", x.route->config->name},
                                       {"version", config::to_string(x.role)},
                                       {"endpoint", x.snapshot->endpoints[x.endpoint_id].key},
                                       {"worker", worker_.index()},
                                       {"times_ejected", health.times_ejected},
                                       {"for_seconds", seconds}});
    }
}

void ClientSession::do_close() {
    if (closed_) return;
    lingering_ = true;
    shutdown_client_send();
    arm_read_deadline(kLingerTime);
    do_linger_read();
}

void ClientSession::do_linger_read() {
    if (closed_) return;
    client_buffer_.clear();
    client_read_pending_ = true;
    client_read_some(client_buffer_.prepare(kHeadReadChunk), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->client_read_pending_ = false;
        self->linger_bytes_ += n;
        if (ec || self->linger_bytes_ > kLingerBytes) return self->abort();
        self->do_linger_read();
    });
}

void ClientSession::record_response() {
    auto& x = exchange();
    if (!x.recorder) return;
    const auto& statuses = x.snapshot->config->defaults.signals.failure_statuses;
    if (x.grpc) {
        // No grpc-status at all is a broken call (gRPC's UNKNOWN).
        const int grpc_status = x.grpc_status >= 0 ? x.grpc_status : grpc::kUnknown;
        x.recorder->finish(x.final_status, x.latency_us, analysis::is_grpc_failure(x.final_status, x.grpc_status, false, statuses),
                           std::nullopt, x.final_status == 200 ? grpc_status : -1);
    } else {
        x.recorder->finish(x.final_status, x.latency_us, analysis::is_failure(x.final_status, false, statuses), std::nullopt);
    }
    x.recorder = nullptr;
}

void ClientSession::record_error(unsigned status, analysis::ErrorKind kind) {
    auto& x = exchange();
    if (!x.recorder) return;
    // A gRPC client is told the gRPC status canaryd's error maps to; that is what it saw.
    x.recorder->finish(status, microseconds_since_start(), true, kind, x.grpc ? grpc::status_for_http(status) : -1);
    x.recorder = nullptr;
}

void ClientSession::record_abandoned() {
    if (!exchange().recorder) return;
    exchange().recorder->abandon();
    exchange().recorder = nullptr;
}

void ClientSession::write_access_log(unsigned status, bool from_upstream) {
    auto& x = exchange();
    if (x.access_logged) return;
    x.access_logged = true;
    AccessLog* log = worker_.access_log();
    if (!log || (text().method.empty() && status == 0)) return;  // nothing was requested
    AccessRecord r;
    r.route = x.route ? std::string_view(x.route->config->name) : "-";
    r.version = x.route ? config::to_string(x.role) : "-";
    r.reason = x.route ? routing::to_string(x.reason) : "-";
    r.release = x.route ? std::string_view(x.route->versions[static_cast<std::size_t>(x.role)].config->release) : "";
    r.method = text().method;
    r.path = text().path;
    r.request_id = text().request_id;
    r.peer = peer_ip_;
    r.status = status;
    r.source = status == 0 ? "aborted" : from_upstream ? "upstream" : "canaryd";
    r.duration_ms = static_cast<double>(microseconds_since_start()) / 1000.0;
    r.upstream_ms = static_cast<double>(x.latency_us) / 1000.0;
    r.bytes_in = x.bytes_in;
    r.bytes_out = x.bytes_out;
    log->write(worker_.index(), r);
}

void ClientSession::abort() {
    if (closed_) return;
    // No buffers: the connection was between exchanges, nothing to log or record.
    if (buffers_) {
        if (!exchange().response_complete) write_access_log(0, false);
        record_abandoned();
        exchange().failed = true;
    }
    closed_ = true;
    discard_upstream();
    read_deadline_ = kNoDeadline;
    write_deadline_ = kNoDeadline;
    expect_deadline_ = kNoDeadline;
    response_deadline_ = kNoDeadline;
    if (pipe_) pipe_->close();
    error_code ignored;
    socket_.close(ignored);
}

}  // namespace canaryd::io
