#include "io/server/worker.hpp"

#include "io/session/client_session.hpp"

#include <boost/asio/post.hpp>

namespace canaryd::io {

Worker::Worker(unsigned index, const SnapshotHolder& snapshots, std::uint64_t seed)
    // Only this worker's thread touches its sockets (other threads only post() to it), so
    // the reactor's per-descriptor locking is pure cost.
    : ioc_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      work_(ioc_.get_executor()),
      housekeeping_(ioc_),
      index_(index),
      snapshots_(snapshots),
      pools_(ioc_),
      h2_pools_(ioc_),
      rng_(seed) {}

Worker::~Worker() {
    stop();
    // Close pooled sockets while the io_context still exists; pending handlers are then
    // destroyed (never invoked) by the io_context's destructor.
    pools_.close_all();
    h2_pools_.close_all();
}

void Worker::start() {
    schedule_housekeeping();
    thread_ = std::thread([this] { ioc_.run(); });
}

void Worker::schedule_housekeeping() {
    // Ten times a second: the sessions' deadlines (a timer per operation would cost a timer
    // update and a cancelled handler on almost every request); once a second: the pools.
    housekeeping_.expires_after(std::chrono::milliseconds(100));
    housekeeping_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        const auto now = std::chrono::steady_clock::now();
        // Copy first: a session that times out may be destroyed and change the set.
        std::vector<std::weak_ptr<ClientSession>> live;
        live.reserve(sessions_->sessions.size());
        for (auto* session : sessions_->sessions) live.push_back(session->weak_from_this());
        for (auto& weak : live)
            if (auto session = weak.lock()) session->check_deadlines(now);
        h2_pools_.check(now);
        if (++housekeeping_ticks_ % 10 == 0)
            if (const auto& snapshot = this->snapshot()) {
                pools_.sweep(snapshot->config->defaults.timeouts.idle);
                h2_pools_.sweep(snapshot->config->defaults.timeouts.idle);
            }
        schedule_housekeeping();
    });
}

void Worker::stop() {
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    housekeeping_.cancel();  // only once the worker thread is gone: the timer is its alone
}

const std::shared_ptr<const Snapshot>& Worker::snapshot() { return snapshots_.get(); }

namespace {

// Spare exchange buffers a worker keeps: enough for a busy worker's concurrent exchanges to
// cycle without allocating, bounded so that a burst does not pin its memory for good.
constexpr std::size_t kSpareBuffers = 256;

}  // namespace

std::unique_ptr<ExchangeBuffers> Worker::lend() {
    if (spare_buffers_.empty()) return std::make_unique<ExchangeBuffers>();
    auto buffers = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
    return buffers;
}

void Worker::take_back(std::unique_ptr<ExchangeBuffers> buffers) {
    if (spare_buffers_.size() < kSpareBuffers) spare_buffers_.push_back(std::move(buffers));
}

void Worker::begin_drain() {
    boost::asio::post(ioc_, [this] {
        draining_ = true;
        // Copy first: closing a session may destroy it and change the set.
        std::vector<std::weak_ptr<ClientSession>> live;
        for (auto* session : sessions_->sessions) live.push_back(session->weak_from_this());
        for (auto& weak : live)
            if (auto session = weak.lock()) session->drain();
    });
}

void Worker::retain_endpoints(std::vector<bool> in_use) {
    boost::asio::post(ioc_, [this, in_use = std::move(in_use)]() mutable { pools_.retain(std::move(in_use)); });
}

std::uint32_t& Worker::cursor(std::size_t route_index, config::Role role) {
    // Cursors only spread load; one that outlives a reload and points at another route's
    // endpoints is harmless.
    const std::size_t slot = route_index * 2 + static_cast<std::size_t>(role);
    if (slot >= cursors_.size()) cursors_.resize(slot + 1, 0);
    return cursors_[slot];
}

}  // namespace canaryd::io
