#include "io/server/drain.hpp"

#include "io/log/log.hpp"
#include "io/server/listener_set.hpp"
#include "io/server/worker.hpp"

#include <algorithm>

namespace canaryd::io {

Drain::Drain(boost::asio::io_context& control, ListenerSet& listeners,
             const std::vector<std::unique_ptr<Worker>>& workers, std::function<void()> stop)
    : listeners_(listeners), workers_(workers), stop_(std::move(stop)), grace_timer_(control), deadline_(control) {}

void Drain::begin(const char* signal_name, const config::Timeouts& timeouts) {
    if (draining_) {
        // A second signal: no more patience.
        log::warn("forced_exit", {{"signal", signal_name}, {"open_connections", live_sessions()}});
        return stop_();
    }
    draining_ = true;  // /readyz answers 503 from now on
    log::info("draining", {{"signal", signal_name},
                           {"shutdown_grace_ms", timeouts.shutdown_grace.count()},
                           {"drain_ms", timeouts.drain.count()}});
    deadline_.expires_after(std::max(timeouts.drain, timeouts.shutdown_grace));
    deadline_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        log::warn("drain_timeout", {{"open_connections", live_sessions()}});
        stop_();
    });
    // The grace lets load balancers see /readyz fail before the listeners close.
    grace_timer_.expires_after(timeouts.shutdown_grace);
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        listeners_.stop();
        log::info("listeners_closed", {{"open_connections", live_sessions()}});
        for (auto& worker : workers_) worker->begin_drain();
        poll();
    });
}

void Drain::cancel() {
    grace_timer_.cancel();
    deadline_.cancel();
}

std::size_t Drain::live_sessions() const {
    std::size_t total = 0;
    for (const auto& worker : workers_) total += worker->live_sessions();
    return total;
}

void Drain::poll() {
    if (live_sessions() == 0) {
        log::info("drained");
        return stop_();
    }
    grace_timer_.expires_after(std::chrono::milliseconds(50));
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll();
    });
}

}  // namespace canaryd::io
