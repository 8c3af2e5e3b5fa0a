#include "io/worker.hpp"

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

std::uint32_t& Worker::cursor(std::size_t route_index, config::Role role) {
    // Cursors only spread load; one that outlives a reload and points at another route's
    // endpoints is harmless.
    const std::size_t slot = route_index * 2 + static_cast<std::size_t>(role);
    if (slot >= cursors_.size()) cursors_.resize(slot + 1, 0);
    return cursors_[slot];
}

}  // namespace canaryd::io
