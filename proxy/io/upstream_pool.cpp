#include "io/upstream_pool.hpp"

#include <algorithm>

namespace canaryd::io {

std::shared_ptr<UpstreamConnection> UpstreamPools::create(std::uint32_t endpoint_id) {
    return std::make_shared<UpstreamConnection>(ioc_, endpoint_id);
}

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
        boost::system::error_code ignored;
        connection->stream.socket().cancel(ignored);  // stops the close watch
        if (now - connection->idle_since < max_idle_time && connection->stream.socket().is_open())
            return connection;
        connection->stream.socket().close(ignored);
    }
    return nullptr;
}

void UpstreamPools::give_back(std::shared_ptr<UpstreamConnection> connection, std::uint32_t max_idle) {
    const auto id = connection->endpoint_id;
    if (id >= idle_.size()) idle_.resize(id + 1);
    auto& idle = idle_[id];
    boost::system::error_code ignored;
    if (idle.size() >= max_idle || connection->buffer.size() != 0) {
        // Bytes left over after a complete response mean the upstream is not speaking
        // HTTP/1.1 correctly; never reuse such a connection.
        connection->stream.socket().close(ignored);
        return;
    }
    connection->stream.expires_never();
    connection->buffer.shrink_to_fit();  // an idle connection keeps no read buffer
    connection->idle_since = std::chrono::steady_clock::now();
    idle.push_back(connection);
    watch(connection);
}

void UpstreamPools::watch(const std::shared_ptr<UpstreamConnection>& connection) {
    connection->stream.socket().async_wait(
        boost::asio::ip::tcp::socket::wait_read,
        [this, weak = std::weak_ptr<UpstreamConnection>(connection)](const boost::system::error_code& ec) {
            if (ec == boost::asio::error::operation_aborted) return;  // taken for a request, or shut down
            auto watched = weak.lock();
            if (!watched) return;
            // Readable while idle: the upstream closed the connection or sent bytes nobody asked for.
            remove(watched.get());
            boost::system::error_code ignored;
            watched->stream.socket().close(ignored);
        });
}

void UpstreamPools::remove(const UpstreamConnection* connection) {
    if (connection->endpoint_id >= idle_.size()) return;
    auto& idle = idle_[connection->endpoint_id];
    idle.erase(std::remove_if(idle.begin(), idle.end(), [&](const auto& c) { return c.get() == connection; }),
               idle.end());
}

void UpstreamPools::drop_endpoint(std::uint32_t endpoint_id) {
    if (endpoint_id >= idle_.size()) return;
    boost::system::error_code ignored;
    for (auto& connection : idle_[endpoint_id]) connection->stream.socket().close(ignored);
    idle_[endpoint_id].clear();
}

void UpstreamPools::close_all() {
    for (std::uint32_t id = 0; id < idle_.size(); ++id) drop_endpoint(id);
}

std::size_t UpstreamPools::idle_count(std::uint32_t endpoint_id) const {
    return endpoint_id < idle_.size() ? idle_[endpoint_id].size() : 0;
}

}  // namespace canaryd::io
