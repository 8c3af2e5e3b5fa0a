// One I/O thread's world: its io_context, its upstream pools, its endpoint health table and
// its random source. Nothing here is shared with another worker (ARCHITECTURE: share nothing
// on the request path); the config snapshot is read through a per-worker cache.
#pragma once

#include "core/routing/endpoint_health.hpp"
#include "io/control/snapshot.hpp"
#include "io/h2/upstream_h2.hpp"
#include "io/upstream/upstream_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

namespace canaryd::io {

class ClientSession;
class AccessLog;
struct ExchangeBuffers;

// The client sessions alive on one worker, so that a drain can reach the idle ones. Shared
// with the sessions, so it outlives every one of them whatever the destruction order.
struct SessionRegistry {
    std::unordered_set<ClientSession*> sessions;  // worker thread only
    std::atomic<std::size_t> count{0};            // read by the control thread
};

class Worker {
public:
    Worker(unsigned index, const SnapshotHolder& snapshots, std::uint64_t seed);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();  // runs the io_context on a new thread
    void stop();   // stops the loop and joins the thread

    boost::asio::io_context& context() { return ioc_; }
    unsigned index() const { return index_; }

    // Only from this worker's thread:
    const std::shared_ptr<const Snapshot>& snapshot();
    UpstreamPools& pools() { return pools_; }
    Http2UpstreamPool& h2_pools() { return h2_pools_; }
    routing::EndpointHealthTable& health() { return health_; }
    std::uint32_t random_bp() { return static_cast<std::uint32_t>(rng_() % config::kWeightScale); }
    std::uint64_t random64() { return rng_(); }
    std::uint32_t& cursor(std::size_t route_index, config::Role role);
    const std::shared_ptr<SessionRegistry>& sessions() { return sessions_; }
    bool draining() const { return draining_; }
    // Exchange buffers for this worker's sessions, from a bounded free list: busy connections
    // reuse capacity, idle ones hold none.
    std::unique_ptr<ExchangeBuffers> lend();
    void take_back(std::unique_ptr<ExchangeBuffers> buffers);
    AccessLog* access_log() const { return access_log_.load(std::memory_order_acquire); }

    // Thread-safe (posted to the worker): from now on every response says Connection:
    // close, and idle keep-alive connections are closed.
    void begin_drain();
    // Thread-safe: the endpoints the snapshot in force uses; connections to the others close
    // (idle ones now, busy ones when their exchange ends).
    void retain_endpoints(std::vector<bool> in_use);
    std::size_t live_sessions() const { return sessions_->count.load(std::memory_order_acquire); }
    void set_access_log(AccessLog* log) { access_log_.store(log, std::memory_order_release); }

private:
    void schedule_housekeeping();

    boost::asio::io_context ioc_;  // first member: destroyed last, after everything using it
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    boost::asio::steady_timer housekeeping_;  // session deadlines, pool sweep
    std::uint64_t housekeeping_ticks_ = 0;
    unsigned index_;
    SnapshotCache snapshots_;
    UpstreamPools pools_;
    Http2UpstreamPool h2_pools_;  // upstreams with `protocol: http2`
    routing::EndpointHealthTable health_;
    std::mt19937_64 rng_;
    std::vector<std::uint32_t> cursors_;
    std::shared_ptr<SessionRegistry> sessions_ = std::make_shared<SessionRegistry>();
    std::vector<std::unique_ptr<ExchangeBuffers>> spare_buffers_;
    bool draining_ = false;
    std::atomic<AccessLog*> access_log_{nullptr};
    std::thread thread_;
};

}  // namespace canaryd::io
