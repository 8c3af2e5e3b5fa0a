// ClientSession: how an exchange ends (done, failed, aborted), signals and access log, closing.
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
    r.reason = route_ ? routing::to_string(reason_) : "-";
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
    log->write(worker_.index(), r);
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
