#include "io/worker.hpp"

#include "io/client_session.hpp"

#include <boost/asio/post.hpp>

namespace canaryd::io {

Worker::Worker(unsigned index, const SnapshotHolder& snapshots, std::uint64_t seed)
    : ioc_(1), work_(ioc_.get_executor()), index_(index), snapshots_(snapshots), pools_(ioc_), rng_(seed) {}

Worker::~Worker() {
    stop();
    // Close pooled sockets while the io_context still exists; pending handlers are then
    // destroyed (never invoked) by the io_context's destructor.
    pools_.close_all();
}

void Worker::start() {
    thread_ = std::thread([this] { ioc_.run(); });
}

void Worker::stop() {
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
}

const std::shared_ptr<const Snapshot>& Worker::snapshot() { return snapshots_.get(); }

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
    boost::asio::post(ioc_, [this, in_use = std::move(in_use)] {
        for (std::uint32_t id = 0; id < in_use.size(); ++id)
            if (!in_use[id]) pools_.drop_endpoint(id);
    });
}

std::uint32_t& Worker::cursor(std::size_t route_index, config::Role role) {
    // Cursors only spread load; one that outlives a reload and points at another route's
    // endpoints is harmless.
    const std::size_t slot = route_index * 2 + static_cast<std::size_t>(role);
    if (slot >= cursors_.size()) cursors_.resize(slot + 1, 0);
    return cursors_[slot];
}

}  // namespace canaryd::io
