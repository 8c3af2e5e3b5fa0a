// ClientSession after a real 101 (RFC 9110 §7.8): the connection carries the upgraded
// protocol, and canaryd only copies bytes both ways, with its own idle timeout.
#include "io/session/client_session.hpp"

#include "io/session/client_session_internal.hpp"

#include <boost/asio/buffer.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
using namespace session_detail;

void ClientSession::start_tunnel() {
    record_response();
    // From here on the bytes are the upgraded protocol's; canaryd only copies them, with its
    // own idle timeout (timeouts.tunnel_idle).
    tunnel_buffers_ = std::make_unique<char[]>(2 * kBodyChunk);
    tunnel_activity_ = Clock::now();
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
            self->upstream_->async_write(pending.data(), write_done);
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
        self->tunnel_activity_ = Clock::now();
        auto on_written = [self, keep, client_to_upstream](error_code e, std::size_t) {
            if (e) return self->close_tunnel();
            self->tunnel_pump(client_to_upstream);
        };
        if (client_to_upstream)
            self->upstream_->async_write(asio::buffer(buffer, n), on_written);
        else
            self->client_write(asio::buffer(buffer, n), on_written);
    };
    if (client_to_upstream)
        client_read_some(asio::buffer(buffer, kBodyChunk), on_read);
    else
        upstream_->async_read_some(asio::buffer(buffer, kBodyChunk), on_read);
}

void ClientSession::close_tunnel() {
    // Either side closing or failing ends the tunnel for both.
    read_deadline_ = kNoDeadline;
    abort();
}

}  // namespace canaryd::io
