// The running proxy: owns the worker threads, the listeners, the config snapshots and the
// control loop (signals, reloads). main() builds one and runs it; integration tests start
// one in-process on port 0.
#pragma once

#include "config/config.hpp"
#include "io/snapshot.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace canaryd::io {

class AccessLog;
class AdminServer;
class BackendSampler;
class Listener;
class RolloutController;
class SignalsAggregator;
class Worker;
struct AdminHttpRequest;
struct AdminHttpResponse;
struct Metrics;

// A start-up failure with an operator-facing message; caught in main.
struct StartupError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct AppOptions {
    std::string config_path;      // re-read on SIGHUP; empty: no reload source
    bool handle_signals = false;  // SIGHUP reloads, SIGTERM/SIGINT stop
    std::uint64_t seed = 0;       // 0: seed the workers' random sources from std::random_device
    // --demo: answers POST /demo?error_rate=PERCENT&latency_ms=MS (the canary's fault knobs).
    std::function<std::string(const std::map<std::string, std::string>& query)> demo_control;
};

class App {
public:
    App(std::shared_ptr<const config::Config> config, AppOptions options);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Resolves endpoints, starts the workers, binds the listeners. Throws StartupError.
    void start();
    // Runs the control loop on the calling thread until stop(). Returns the exit code.
    int run();
    // Thread-safe: stops at once (tests, and the end of a drain).
    void stop();
    // Thread-safe: what SIGTERM does (graceful drain, then stop).
    void shutdown() {
        boost::asio::post(control_, [this] { begin_shutdown("request"); });
    }

    // Bound port of listeners[index] (useful with port 0).
    std::uint16_t listener_port(std::size_t index) const;
    std::uint16_t admin_port() const;
    std::shared_ptr<const Snapshot> snapshot() const { return snapshots_.load(); }
    // Replaces the config as a reload would (used by SIGHUP and by tests). Returns the errors,
    // empty on success. Control thread only (or before run()).
    std::vector<std::string> apply_config(std::shared_ptr<const config::Config> config);
    // Re-reads the config file, as SIGHUP does. Thread-safe (runs on the control thread).
    void reload();
    boost::asio::io_context& control_context() { return control_; }

private:
    void watch_signals();
    void reload_from_file();
    std::shared_ptr<Listener> open_listener(const config::Listener& listener_config, std::string& error);
    // SIGTERM/SIGINT: /readyz 503, grace, close listeners, drain connections, exit.
    void begin_shutdown(const char* signal_name);
    void poll_drained();
    std::size_t live_sessions() const;
    void schedule_tick();
    void on_tick();
    double now_seconds() const;
    AdminHttpResponse handle_admin(const AdminHttpRequest& request);

    AppOptions options_;
    std::shared_ptr<const config::Config> initial_config_;
    boost::asio::io_context control_;
    std::optional<boost::asio::signal_set> signals_;
    EndpointRegistry endpoint_ids_;
    RuntimeRegistry runtimes_;
    SnapshotHolder snapshots_;
    std::uint64_t generation_ = 0;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<Worker*> worker_ptrs_;
    std::vector<std::shared_ptr<Listener>> listeners_;
    std::unique_ptr<AccessLog> access_log_;
    // Replaced access logs stay open: a worker may be writing a line to one right now.
    std::vector<std::unique_ptr<AccessLog>> retired_access_logs_;
    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<SignalsAggregator> aggregator_;
    std::unique_ptr<RolloutController> rollout_;
    std::unique_ptr<BackendSampler> sampler_;
    std::shared_ptr<AdminServer> admin_;
    std::string admin_token_;  // empty: mutating calls need no token (loopback only)
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer grace_timer_;
    boost::asio::steady_timer drain_deadline_;
    bool shutting_down_ = false;
    bool stopped_ = false;
    std::chrono::steady_clock::time_point started_at_{};
    std::int64_t tick_ = 0;
    bool draining_ = false;
    bool started_ = false;
};

}  // namespace canaryd::io
