// Per-worker keep-alive pools of upstream connections, one per endpoint id (SPEC §4).
//
// Only the worker's own thread touches its pools, so there is no lock. An idle connection
// is watched for readability: an upstream that closes it (or sends stray bytes) gets it
// dropped from the pool at once instead of failing the next request sent on it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace canaryd::io {

struct UpstreamConnection {
    UpstreamConnection(boost::asio::io_context& ioc, std::uint32_t id) : stream(ioc), endpoint_id(id) {}

    boost::beast::tcp_stream stream;
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
    void close_all();
    std::size_t idle_count(std::uint32_t endpoint_id) const;

private:
    void watch(const std::shared_ptr<UpstreamConnection>& connection);
    void remove(const UpstreamConnection* connection);

    boost::asio::io_context& ioc_;
    std::vector<std::vector<std::shared_ptr<UpstreamConnection>>> idle_;  // by endpoint id; LIFO
};

}  // namespace canaryd::io
