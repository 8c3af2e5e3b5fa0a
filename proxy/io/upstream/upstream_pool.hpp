// Per-worker keep-alive pools of upstream connections, one per endpoint id (SPEC §4).
//
// Only the worker's own thread touches its pools, so there is no lock. An upstream may
// close an idle connection at any time (its own keep-alive timeout). Watching every idle
// connection with a pending wait costs an epoll_ctl per request with Asio, so instead a
// connection idle for more than a second is probed (a non-blocking MSG_PEEK) before reuse,
// and a once-a-second sweep closes the ones that died or idled out. A body-less request
// that still meets a connection closed in the last second is replayed on a fresh one.
#pragma once

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace canaryd::io {

// A socket bound to a worker's io_context by type: no type-erased executor to copy on
// every operation (measurably cheaper than tcp::socket's any_io_executor on the hot path).
using WorkerSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

struct UpstreamConnection {
    UpstreamConnection(boost::asio::io_context& ioc, std::uint32_t id) : socket(ioc.get_executor()), endpoint_id(id) {}

    WorkerSocket socket;
    boost::beast::flat_buffer buffer;
    std::uint32_t endpoint_id;
    std::uint64_t requests_served = 0;  // > 0 once it came back from the pool
    std::chrono::steady_clock::time_point idle_since{};
};

class UpstreamPools {
public:
    explicit UpstreamPools(boost::asio::io_context& ioc) : ioc_(ioc) {}
    ~UpstreamPools() { close_all(); }
    UpstreamPools(const UpstreamPools&) = delete;
    UpstreamPools& operator=(const UpstreamPools&) = delete;

    // An idle connection to the endpoint that has been idle less than `max_idle_time`, or null.
    std::shared_ptr<UpstreamConnection> take(std::uint32_t endpoint_id, std::chrono::milliseconds max_idle_time);
    // Returns a connection whose last exchange completed cleanly. Closed when the pool of its
    // endpoint already holds `max_idle` connections.
    void give_back(std::shared_ptr<UpstreamConnection> connection, std::uint32_t max_idle);
    std::shared_ptr<UpstreamConnection> create(std::uint32_t endpoint_id);

    // Closes every idle connection of an endpoint no longer in the config.
    void drop_endpoint(std::uint32_t endpoint_id);
    // Closes idle connections older than `max_idle_time` or found closed by their upstream.
    void sweep(std::chrono::milliseconds max_idle_time);
    void close_all();
    std::size_t idle_count(std::uint32_t endpoint_id) const;

private:

    boost::asio::io_context& ioc_;
    std::vector<std::vector<std::shared_ptr<UpstreamConnection>>> idle_;  // by endpoint id; LIFO
};

}  // namespace canaryd::io
