#include "io/upstream/upstream_pool.hpp"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace canaryd::io {

std::size_t idle_budget_per_worker(unsigned workers) {
    rlimit limit{};
    std::size_t descriptors = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        descriptors = static_cast<std::size_t>(limit.rlim_cur);
    return std::max<std::size_t>(64, descriptors / (4 * std::max(1u, workers)));
}

std::shared_ptr<UpstreamConnection> UpstreamPools::create(std::uint32_t endpoint_id) {
    return std::make_shared<UpstreamConnection>(ioc_, endpoint_id);
}

namespace {

// Connections idle for less than this are reused without a probe.
constexpr std::chrono::seconds kProbeAfter{1};

// True when the upstream closed the connection or sent bytes nobody asked for.
bool looks_dead(UpstreamConnection& connection) {
    char byte;
    const auto n = ::recv(connection.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

}  // namespace

std::shared_ptr<UpstreamConnection> UpstreamPools::take(std::uint32_t endpoint_id,
                                                        std::chrono::milliseconds max_idle_time) {
    if (endpoint_id >= idle_.size()) return nullptr;
    auto& idle = idle_[endpoint_id];
    const auto now = std::chrono::steady_clock::now();
    while (!idle.empty()) {
        // LIFO: the most recently used connection is the least likely to have been closed
        // by the upstream's own keep-alive timeout.
        auto connection = std::move(idle.back());
        idle.pop_back();
        --idle_total_;
        const auto idle_for = now - connection->idle_since;
        if (idle_for < max_idle_time && connection->socket.is_open() &&
            (idle_for < kProbeAfter || !looks_dead(*connection)))
            return connection;
        boost::system::error_code ignored;
        connection->socket.close(ignored);
    }
    return nullptr;
}

void UpstreamPools::sweep(std::chrono::milliseconds max_idle_time) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& idle : idle_) {
        idle.erase(std::remove_if(idle.begin(), idle.end(),
                                  [&](const std::shared_ptr<UpstreamConnection>& c) {
                                      const auto idle_for = now - c->idle_since;
                                      if (idle_for < kProbeAfter) return false;
                                      if (idle_for < max_idle_time && !looks_dead(*c)) return false;
                                      boost::system::error_code ignored;
                                      c->socket.close(ignored);
                                      --idle_total_;
                                      return true;
                                  }),
                   idle.end());
    }
}

void UpstreamPools::give_back(std::shared_ptr<UpstreamConnection> connection, std::optional<std::uint32_t> max_idle) {
    const auto id = connection->endpoint_id;
    if (id >= idle_.size()) idle_.resize(id + 1);
    auto& idle = idle_[id];
    boost::system::error_code ignored;
    const bool retired = id < in_use_.size() && !in_use_[id];
    if (retired || (max_idle && idle.size() >= *max_idle) || idle_total_ >= idle_budget_ ||
        connection->buffer.size() != 0) {
        // Bytes left over after a complete response mean the upstream is not speaking
        // HTTP/1.1 correctly; never reuse such a connection.
        connection->socket.close(ignored);
        return;
    }
    // An idle connection keeps no read buffer: the pool may hold hundreds of them.
    connection->buffer.shrink_to_fit();
    connection->idle_since = std::chrono::steady_clock::now();
    idle.push_back(std::move(connection));
    ++idle_total_;
}

void UpstreamPools::close_idle(std::uint32_t endpoint_id) {
    if (endpoint_id >= idle_.size()) return;
    boost::system::error_code ignored;
    for (auto& connection : idle_[endpoint_id]) connection->socket.close(ignored);
    idle_total_ -= idle_[endpoint_id].size();
    idle_[endpoint_id].clear();
}

void UpstreamPools::retain(std::vector<bool> in_use) {
    in_use_ = std::move(in_use);
    for (std::uint32_t id = 0; id < idle_.size(); ++id)
        if (id < in_use_.size() && !in_use_[id]) close_idle(id);
}

void UpstreamPools::close_all() {
    for (std::uint32_t id = 0; id < idle_.size(); ++id) close_idle(id);
}

std::size_t UpstreamPools::idle_count(std::uint32_t endpoint_id) const {
    return endpoint_id < idle_.size() ? idle_[endpoint_id].size() : 0;
}

SSL_SESSION* UpstreamPools::tls_session(std::uint32_t endpoint_id, const boost::asio::ssl::context* context) const {
    if (endpoint_id >= tls_.size() || tls_[endpoint_id].context.get() != context) return nullptr;
    return tls_[endpoint_id].session.get();
}

void UpstreamPools::keep_tls_session(const UpstreamConnection& connection) {
    if (!connection.tls) return;
    // After a complete exchange the server's session tickets (TLS 1.3 sends them after the
    // handshake) have been read, so the session is resumable. A copy: OpenSSL marks a session not resumable when the connection it belongs to is
    // freed without a close_notify (ssl_clear_bad_session), which is how a pooled connection
    // usually ends.
    SSL_SESSION* live = SSL_get_session(connection.tls->native_handle());
    SSL_SESSION* session = live && SSL_SESSION_is_resumable(live) ? SSL_SESSION_dup(live) : nullptr;
    if (!session) return;
    if (connection.endpoint_id >= tls_.size()) tls_.resize(connection.endpoint_id + 1);
    auto& state = tls_[connection.endpoint_id];
    state.context = connection.tls_context;
    state.session.reset(session);
}

bool UpstreamPools::tls_reason_changed(std::uint32_t endpoint_id, const std::string& reason) {
    if (endpoint_id >= tls_.size()) tls_.resize(endpoint_id + 1);
    auto& last = tls_[endpoint_id].last_failure;
    if (last == reason) return false;
    last = reason;
    return true;
}

}  // namespace canaryd::io
