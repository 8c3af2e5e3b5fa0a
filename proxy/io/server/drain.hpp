// Graceful shutdown (SPEC §8, SIGTERM/SIGINT): /readyz answers 503 at once, the listeners
// stay open for `shutdown_grace` so load balancers see it, then close; open connections
// finish their exchange (idle keep-alive ones close now) until none is left or `drain`
// passes; a second signal stops at once. Control thread only.
#pragma once

#include "core/config/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace canaryd::io {

class ListenerSet;
class Worker;

class Drain {
public:
    // `stop` ends the process's run (App::stop).
    Drain(boost::asio::io_context& control, ListenerSet& listeners, const std::vector<std::unique_ptr<Worker>>& workers,
          std::function<void()> stop);

    void begin(const char* signal_name, const config::Timeouts& timeouts);
    const bool& draining_flag() const { return draining_; }  // read by /readyz and /status
    void cancel();

private:
    void poll();
    std::size_t live_sessions() const;

    ListenerSet& listeners_;
    const std::vector<std::unique_ptr<Worker>>& workers_;
    std::function<void()> stop_;
    boost::asio::steady_timer grace_timer_;
    boost::asio::steady_timer deadline_;
    bool draining_ = false;
};

}  // namespace canaryd::io
