// The running proxy: owns the worker threads, the listeners, the config snapshots and the
// control loop (signals, reloads). main() builds one and runs it; integration tests start
// one in-process on port 0.
#pragma once

#include "core/config/config.hpp"
#include "core/config/loader.hpp"
#include "io/control/snapshot.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace canaryd::io {

class AccessLogSlot;
class AdminServer;
class BackendSampler;
class ConfigWatch;
class DnsRefresh;
class Drain;
class FleetSignals;
class FleetState;
class ListenerSet;
class Notifier;
class ProcessAdmin;
class RolloutController;
class SignalsAggregator;
class Worker;
struct Metrics;

// A start-up failure with an operator-facing message; caught in main.
struct StartupError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct AppOptions {
    std::string config_path;      // re-read on SIGHUP; empty: no reload source
    std::string config_text;      // what the config was loaded from (the watch's first comparison)
    bool handle_signals = false;  // SIGHUP reloads, SIGTERM/SIGINT stop
    std::uint64_t seed = 0;       // 0: seed the workers' random sources from std::random_device
    // --demo: answers POST /demo?error_rate=PERCENT&latency_ms=MS (the canary's fault knobs).
    std::function<std::string(const std::map<std::string, std::string>& query)> demo_control;
    // The rollout's clock, in seconds on any monotonic scale (step pauses, hold timeouts, the
    // analysis horizon). Empty: steady_clock. Tests pass their own to skip ahead in time.
    std::function<double()> clock;
    // When set, endpoint host names are looked up in this hosts(5)-style file alone, re-read
    // at every lookup: the tests' DNS server, whose answers they change while canaryd runs.
    std::string hosts_file;
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
    // Thread-safe: re-reads the config file, as SIGHUP does. The file is read and its names
    // resolved on the blocking-work thread; the result is applied on the control thread.
    void reload() { reload_file(false); }

    // Bound port of listeners[index] (useful with port 0).
    std::uint16_t listener_port(std::size_t index) const;
    std::uint16_t admin_port() const;
    std::shared_ptr<const Snapshot> snapshot() const { return snapshots_.load(); }

private:
    void start_admin(const config::Config& config);
    void watch_signals();
    // `only_if_changed`: the config watch's reload, skipped when the file reads as it did at
    // the last reload (a write that changed nothing, a burst already applied).
    void reload_file(bool only_if_changed);
    // Starts or stops the config file watch as `watch_config` says (start-up and reloads).
    void configure_watch(const config::Config& config);
    void configure_notifications(const config::Config& config);
    // Fleet mode (SPEC §9): its etcd and Prometheus parts, handed to the rollout controller
    // before the first prepare; their threads start once the state has been read.
    void create_fleet(const config::Config& config);
    void start_fleet();
    // A webhook gate's URL asked once (blocking-work thread): open on 2xx, and what it said.
    static std::pair<bool, std::string> ask_gate(const std::string& url);
    // Applies a loaded and resolved config (control thread). Returns the errors, empty on success.
    std::vector<std::string> apply_config(std::shared_ptr<const config::Config> config, const ResolvedNames& names);
    void finish_reload(config::LoadResult loaded, const ResolvedNames& names);
    // A DNS refresh changed addresses of the config in force: the same config, generation
    // and runtime state on the new addresses (control thread).
    void apply_addresses(const std::shared_ptr<const config::Config>& config, const ResolvedNames& names);
    // Tells the workers which endpoints the snapshot uses, so connections to others close.
    void retain_endpoints(const Snapshot& snapshot);
    // SIGTERM/SIGINT: /readyz 503, grace, close listeners, drain connections, exit (Drain).
    void begin_shutdown(const char* signal_name);
    // What stop() and the destructor both do: nothing accepts, samples or ticks any more.
    void close_inputs();
    void schedule_tick();
    void on_tick();
    double now_seconds() const { return options_.clock(); }

    AppOptions options_;
    std::shared_ptr<const config::Config> initial_config_;
    boost::asio::io_context control_;
    // Blocking work (reading the config file, DNS) runs here, never on the control thread.
    boost::asio::thread_pool blocking_{1};
    std::optional<boost::asio::signal_set> signals_;
    std::shared_ptr<ConfigWatch> config_watch_;
    std::shared_ptr<DnsRefresh> dns_refresh_;
    // The text in force; after start-up read and written on the blocking-work thread only.
    std::string last_config_text_ = options_.config_text;
    EndpointRegistry endpoint_ids_;
    RuntimeRegistry runtimes_;
    SnapshotHolder snapshots_;
    std::uint64_t generation_ = 0;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<ListenerSet> listeners_;
    std::unique_ptr<Drain> drain_;
    std::unique_ptr<AccessLogSlot> access_log_;
    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<SignalsAggregator> aggregator_;
    std::unique_ptr<RolloutController> rollout_;
    std::unique_ptr<FleetState> fleet_state_;
    std::unique_ptr<FleetSignals> fleet_signals_;
    std::unique_ptr<Notifier> notifier_;
    std::unique_ptr<BackendSampler> sampler_;
    std::unique_ptr<ProcessAdmin> process_admin_;
    std::shared_ptr<AdminServer> admin_;
    boost::asio::steady_timer tick_timer_;
    std::chrono::steady_clock::time_point started_at_{};
    std::int64_t tick_ = 0;
    bool stopped_ = false;
};

}  // namespace canaryd::io
