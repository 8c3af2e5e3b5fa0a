#include "io/server/app.hpp"

#include "core/config/restart_needed.hpp"
#include "core/config/units.hpp"
#include "io/admin/admin_auth.hpp"
#include "io/admin/admin_server.hpp"
#include "io/admin/process_admin.hpp"
#include "io/control/config_file.hpp"
#include "io/control/config_watch.hpp"
#include "io/control/dns_refresh.hpp"
#include "io/control/http_client.hpp"
#include "io/control/notifier.hpp"
#include "io/control/rollout_controller.hpp"
#include "io/fleet/fleet_signals.hpp"
#include "io/fleet/fleet_state.hpp"
#include "io/log/access_log_slot.hpp"
#include "io/log/log.hpp"
#include "io/server/drain.hpp"
#include "io/server/listener.hpp"
#include "io/server/listener_set.hpp"
#include "io/server/worker.hpp"
#include "io/signals/backend_sampler.hpp"
#include "io/signals/metrics.hpp"
#include "io/signals/signals_aggregator.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <csignal>
#include <random>
#include <thread>

namespace canaryd::io {

namespace asio = boost::asio;

App::App(std::shared_ptr<const config::Config> config, AppOptions options)
    : options_(std::move(options)),
      initial_config_(std::move(config)),
      control_(1),
      access_log_(std::make_unique<AccessLogSlot>()),
      metrics_(std::make_unique<Metrics>(std::make_shared<prometheus::Registry>())),
      aggregator_(std::make_unique<SignalsAggregator>(*metrics_)),
      rollout_(std::make_unique<RolloutController>(*metrics_, *aggregator_)),
      notifier_(std::make_unique<Notifier>(*metrics_)),
      tick_timer_(control_),
      started_at_(std::chrono::steady_clock::now()) {
    if (!options_.clock)
        options_.clock = [start = started_at_] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        };
}

App::~App() {
    stopped_ = true;  // handlers that still run below (a finished reload) do nothing
    close_inputs();
    blocking_.join();  // a reload being resolved finishes (its result is never applied)
    // A pending accept holds a socket that belongs to a worker's io_context: let the aborted
    // accepts complete before the workers (and their io_contexts) go away.
    control_.restart();
    control_.poll();
    drain_.reset();
    listeners_.reset();
    workers_.clear();
}

void App::start() {
    const auto& config = *initial_config_;
    const unsigned threads = config.threads != 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    runtimes_.set_workers(threads);
    // Start-up may block on DNS: nothing is served yet.
    auto names = resolve_names(config, options_.hosts_file);
    load_upstream_tls(config, names);
    if (!names.errors.empty()) {
        std::string message = "cannot start:";
        for (const auto& e : names.errors) message += "\n  " + e;
        throw StartupError(message);
    }
    const auto snapshot = build_snapshot(initial_config_, ++generation_, names, endpoint_ids_, runtimes_);
    rollout_->load_state(config.state_file);
    configure_notifications(config);
    rollout_->on_event([this](const boost::json::object& event) { notifier_->publish(event); });
    rollout_->set_gate_poll([this](const std::string& url, std::function<void(bool, std::string)> done) {
        asio::post(blocking_, [this, url, done = std::move(done)]() mutable {
            auto [opened, why] = ask_gate(url);
            asio::post(control_, [this, done = std::move(done), opened, why = std::move(why)]() mutable {
                if (!stopped_) done(opened, std::move(why));
            });
        });
    });
    create_fleet(config);
    aggregator_->prepare(*snapshot);
    rollout_->prepare(*snapshot, now_seconds());
    // Fleet mode: the shared state is read before any listener accepts (SPEC §9).
    rollout_->read_fleet_state(now_seconds());
    snapshots_.publish(snapshot);

    std::random_device entropy;
    std::vector<Worker*> worker_ptrs;
    for (unsigned i = 0; i < threads; ++i) {
        const std::uint64_t seed = options_.seed != 0 ? options_.seed + i : (std::uint64_t{entropy()} << 32) ^ entropy();
        workers_.push_back(std::make_unique<Worker>(i, snapshots_, seed));
        workers_.back()->pools().set_idle_budget(idle_budget_per_worker(threads));
        worker_ptrs.push_back(workers_.back().get());
    }
    listeners_ = std::make_unique<ListenerSet>(control_, worker_ptrs);
    drain_ = std::make_unique<Drain>(control_, *listeners_, workers_, [this] { stop(); });
    if (auto staged = listeners_->stage(config.listeners, names); !staged) throw StartupError(staged.message());
    if (auto opened = access_log_->configure(config.access_log, workers_.size()); !opened)
        throw StartupError(opened.message());
    for (auto& w : workers_) w->set_access_log(access_log_->current());
    start_admin(config);

    for (auto& w : workers_) w->start();
    sampler_ = std::make_unique<BackendSampler>(
        snapshots_, [this](const std::string& route, config::Role role, const std::string& source, BackendReading reading) {
            asio::post(control_, [this, route, role, source, reading = std::move(reading)]() mutable {
                aggregator_->set_backend(route, role, source, std::move(reading));
            });
        });
    sampler_->start();
    start_fleet();
    schedule_tick();
    for (auto& listener : listeners_->commit())
        log::info("listening", {{"address", listener->config().address.host + ":" + std::to_string(listener->port())},
                                {"threads", threads}});
    if (config.state_file.empty())
        log::warn("no_state_file", {{"message", "state_file is not set: a rollback will not survive a restart"}});
    if (options_.handle_signals) watch_signals();
    configure_watch(config);
    dns_refresh_ = std::make_shared<DnsRefresh>(control_, blocking_, options_.hosts_file,
                                                [this](const auto& in_force, const auto& addresses) { apply_addresses(in_force, addresses); });
    dns_refresh_->follow(initial_config_, names);
}

void App::create_fleet(const config::Config& config) {
    if (!config.fleet) return;
    FleetContext context;
    context.config = *config.fleet;
    context.id = make_replica_id();
    if (config.fleet->etcd) {
        fleet_state_ = std::make_unique<FleetState>(*config.fleet, context.id);
        context.state = fleet_state_.get();
    }
    if (config.fleet->prometheus) {
        fleet_signals_ = std::make_unique<FleetSignals>(*config.fleet->prometheus);
        // With etcd only the leader reads; it is told when it leads.
        fleet_signals_->set_active(!config.fleet->etcd);
        context.signals = fleet_signals_.get();
    }
    log::info("fleet", {{"name", config.fleet->name},
                        {"replica", context.id},
                        {"etcd", config.fleet->etcd.has_value()},
                        {"prometheus", config.fleet->prometheus.has_value()}});
    rollout_->enable_fleet(std::move(context));
}

void App::start_fleet() {
    if (fleet_state_)
        fleet_state_->start([this](FleetView view) {
            asio::post(control_, [this, view = std::move(view)] {
                if (!stopped_) rollout_->on_fleet_view(view, now_seconds());
            });
        });
    if (fleet_signals_)
        fleet_signals_->start([this](FleetReading reading) {
            asio::post(control_, [this, reading = std::move(reading)] {
                if (stopped_) return;
                if (auto snapshot = snapshots_.load()) rollout_->on_fleet_reading(reading, *snapshot, now_seconds());
            });
        });
}

void App::configure_watch(const config::Config& config) {
    const bool wanted = config.watch_config && !options_.config_path.empty();
    if (!wanted) {
        if (config_watch_) {
            log::info("config_watch_stopped", {{"path", options_.config_path}});
            config_watch_->stop();
        }
        config_watch_.reset();
        return;
    }
    if (config_watch_) return;
    config_watch_ = std::make_shared<ConfigWatch>(control_, options_.config_path, [this] { reload_file(true); });
    if (auto started = config_watch_->start(); !started) {
        // SIGHUP still reloads; the operator learns why edits alone do not.
        log::warn("config_watch_failed", {{"path", options_.config_path}, {"error", started.error().message}});
        config_watch_->stop();
        config_watch_.reset();
        return;
    }
    boost::json::array directories;
    for (const auto& d : config_watch_->directories()) directories.emplace_back(d);
    log::info("config_watch", {{"path", options_.config_path}, {"directories", std::move(directories)}});
}

void App::start_admin(const config::Config& config) {
    auto tokens = read_admin_tokens(config.admin);
    if (!tokens) throw StartupError(tokens.message());
    process_admin_ = std::make_unique<ProcessAdmin>(
        ProcessAdmin::Parts{snapshots_, *aggregator_, *rollout_, *metrics_, drain_->draining_flag(), [this] { return now_seconds(); },
                            options_.demo_control},
        std::move(tokens).value());
    admin_ = std::make_shared<AdminServer>(control_, [this](const AdminHttpRequest& r) { return process_admin_->handle(r); });
    const auto where = "admin.address " + config.admin.address.to_string() + ": ";
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config.admin.address.host == "localhost" ? "127.0.0.1" : config.admin.address.host, ec);
    if (ec) throw StartupError(where + "not an IP address");
    if (auto err = admin_->open(tcp::endpoint(address, config.admin.address.port))) throw StartupError(where + err.message());
    admin_->start();
    log::info("admin_listening", {{"address", config.admin.address.host + ":" + std::to_string(admin_->port())},
                                  {"token", process_admin_->token_required()}});
}

int App::run() {
    auto guard = asio::make_work_guard(control_);
    control_.run();
    return 0;
}

void App::begin_shutdown(const char* signal_name) {
    if (drain_) drain_->begin(signal_name, snapshots_.load()->config->defaults.timeouts);
}

void App::close_inputs() {
    if (drain_) drain_->cancel();
    tick_timer_.cancel();
    if (sampler_) sampler_->stop();
    if (admin_) admin_->stop();
    if (listeners_) listeners_->stop();
    if (signals_) signals_->cancel();
    if (config_watch_) config_watch_->stop();
    if (dns_refresh_) dns_refresh_->stop();
    if (notifier_) notifier_->stop();
    // The leader resigns: its lease (and the leader key) go at once, another takes over now.
    if (fleet_signals_) fleet_signals_->stop();
    if (fleet_state_) fleet_state_->stop();
    blocking_.stop();  // a queued reload is dropped
}

void App::stop() {
    asio::post(control_, [this] {
        if (stopped_) return;
        stopped_ = true;
        close_inputs();
        for (auto& worker : workers_) worker->stop();
        control_.stop();
        log::info("stopped");
    });
}

std::uint16_t App::listener_port(std::size_t index) const { return listeners_->port(index); }

std::uint16_t App::admin_port() const { return admin_ ? admin_->port() : 0; }

void App::schedule_tick() {
    tick_timer_.expires_at(started_at_ + std::chrono::seconds(tick_ + 1));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_tick();
    });
}

void App::on_tick() {
    ++tick_;
    if (auto snapshot = snapshots_.load()) {
        aggregator_->tick(tick_, *snapshot);
        rollout_->tick(*snapshot, now_seconds());
    }
    access_log_->flush();  // access lines are buffered per worker: written at least once a second
    schedule_tick();
}

void App::watch_signals() {
    signals_.emplace(control_, SIGHUP, SIGTERM, SIGINT);
    signals_->async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            reload();
            return watch_signals();
        }
        begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
        watch_signals();
    });
}

void App::reload_file(bool only_if_changed) {
    if (options_.config_path.empty()) {
        log::warn("reload_skipped", {{"reason", "no config file (demo mode)"}});
        return;
    }
    // One blocking-work thread: reloads are read, resolved and applied in the order asked.
    asio::post(blocking_, [this, only_if_changed, path = options_.config_path] {
        std::string text;
        auto loaded = load_config_file(path, &text);
        // Saves and swaps that leave the text as it was reload nothing (a read failure does).
        if (only_if_changed && !text.empty() && text == last_config_text_) return;
        last_config_text_ = std::move(text);
        auto names = loaded.ok() ? resolve_names(*loaded.config, options_.hosts_file) : ResolvedNames{};
        if (loaded.ok()) load_upstream_tls(*loaded.config, names);
        asio::post(control_, [this, loaded = std::move(loaded), names = std::move(names)]() mutable {
            finish_reload(std::move(loaded), names);
        });
    });
}

void App::finish_reload(config::LoadResult loaded, const ResolvedNames& names) {
    if (stopped_) return;
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors)
            log::error("reload_failed", {{"error", config::format_error(options_.config_path, e)}});
        metrics_->config_reloads.Add({{"result", "fail"}}).Increment();
        return;
    }
    auto errors = apply_config(loaded.config, names);
    for (const auto& e : errors) log::error("reload_failed", {{"error", e}});
    metrics_->config_reloads.Add({{"result", errors.empty() ? "success" : "fail"}}).Increment();
    if (!errors.empty()) return;
    log::info("reloaded", {{"generation", generation_}});
    configure_watch(*loaded.config);
}

std::vector<std::string> App::apply_config(std::shared_ptr<const config::Config> config, const ResolvedNames& names) {
    if (!names.errors.empty()) return names.errors;
    const auto snapshot = build_snapshot(config, generation_ + 1, names, endpoint_ids_, runtimes_);
    const auto previous = snapshots_.load();
    // New listener addresses are bound before anything changes, so a port in use fails the
    // reload as a whole and the old config stays in force.
    // Tokens are re-read (SPEC §10): a file that cannot be read fails the reload as a whole.
    auto tokens = read_admin_tokens(config->admin);
    if (!tokens) return {tokens.message()};
    if (auto staged = listeners_->stage(config->listeners, names); !staged) return {staged.message()};
    if (auto opened = access_log_->configure(config->access_log, workers_.size()); !opened)
        log::error("access_log_failed", {{"error", opened.message()}});
    for (auto& w : workers_) w->set_access_log(access_log_->current());

    ++generation_;
    // The admin listener itself stays until a restart: only while its address is unchanged
    // do the new tokens guard it (else the old listener keeps the old ones).
    if (previous && previous->config->admin.address == config->admin.address) process_admin_->set_tokens(std::move(tokens).value());
    configure_notifications(*config);
    // The rollout machines decide the weight in force: a latched rollback, a pause or a step
    // survive the reload; automatic states follow the file.
    aggregator_->prepare(*snapshot);
    rollout_->prepare(*snapshot, now_seconds());
    snapshots_.publish(snapshot);

    for (auto& listener : listeners_->commit())
        log::info("listening", {{"address", listener->config().address.host + ":" + std::to_string(listener->port())}});
    retain_endpoints(*snapshot);
    dns_refresh_->follow(config, names);

    if (previous)
        for (const auto& note : config::restart_needed(*previous->config, *config))
            log::warn("restart_needed", {{"key", note.key}, {"message", note.message}});
    return {};
}

void App::retain_endpoints(const Snapshot& snapshot) {
    // Idle pooled connections to endpoints no longer in the config (or no longer in DNS)
    // close now; busy ones finish their exchange and are then discarded.
    std::vector<bool> in_use(endpoint_ids_.size(), false);
    for (const auto& route : snapshot.routes)
        for (const auto& version : route.versions)
            for (auto id : version.endpoint_ids) in_use[id] = true;
    for (auto& w : workers_) w->retain_endpoints(in_use);
}

void App::apply_addresses(const std::shared_ptr<const config::Config>& config, const ResolvedNames& names) {
    const auto previous = snapshots_.load();
    if (stopped_ || !previous || previous->config != config) return;
    const auto snapshot = build_snapshot(config, previous->generation, names, endpoint_ids_, runtimes_);
    snapshots_.publish(snapshot);
    retain_endpoints(*snapshot);
}

void App::configure_notifications(const config::Config& config) {
    // A secret file that cannot be read leaves its target out (never sent unsigned).
    for (const auto& e : notifier_->configure(config.notify)) log::error("notify_config_failed", {{"error", e}});
}

std::pair<bool, std::string> App::ask_gate(const std::string& url) {
    auto parsed = config::parse_http_url(url, true);
    if (!parsed) return {false, parsed.message()};
    HttpCall call;
    call.host = parsed->host;
    call.port = parsed->port;
    call.https = parsed->https;
    call.target = parsed->target;
    call.timeout = std::chrono::seconds(2);
    auto reply = http_call(call);
    if (!reply) return {false, reply.message()};
    return {reply->status >= 200 && reply->status < 300, "HTTP " + std::to_string(reply->status)};
}

}  // namespace canaryd::io
