#include "io/app.hpp"

#include "admin/admin_request.hpp"
#include "admin/status_view.hpp"
#include "io/access_log.hpp"
#include "io/admin_auth.hpp"
#include "io/admin_server.hpp"
#include "io/backend_sampler.hpp"
#include "io/config_file.hpp"
#include "io/listener.hpp"
#include "io/log.hpp"
#include "io/metrics.hpp"
#include "io/rollout_controller.hpp"
#include "io/signals_aggregator.hpp"
#include "io/tls_context.hpp"
#include "io/worker.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "config/units.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

namespace canaryd::io {

namespace asio = boost::asio;

App::App(std::shared_ptr<const config::Config> config, AppOptions options)
    : options_(std::move(options)),
      initial_config_(std::move(config)),
      control_(1),
      metrics_(std::make_unique<Metrics>(std::make_shared<prometheus::Registry>())),
      aggregator_(std::make_unique<SignalsAggregator>(*metrics_)),
      rollout_(std::make_unique<RolloutController>(*metrics_, *aggregator_)),
      tick_timer_(control_),
      grace_timer_(control_),
      drain_deadline_(control_),
      started_at_(std::chrono::steady_clock::now()) {}

App::~App() {
    if (sampler_) sampler_->stop();
    if (admin_) admin_->stop();
    tick_timer_.cancel();
    for (auto& listener : listeners_) listener->stop();
    // A pending accept holds a socket that belongs to a worker's io_context: let the aborted
    // accepts complete before the workers (and their io_contexts) go away.
    control_.restart();
    control_.poll();
    listeners_.clear();
    workers_.clear();
}

void App::start() {
    const auto& config = *initial_config_;
    const unsigned threads = config.threads != 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    runtimes_.set_workers(threads);
    auto build = build_snapshot(initial_config_, ++generation_, endpoint_ids_, runtimes_);
    if (!build.snapshot) {
        std::string message = "cannot start:";
        for (const auto& e : build.errors) message += "\n  " + e;
        throw StartupError(message);
    }
    rollout_->load_state(config.state_file);
    aggregator_->prepare(*build.snapshot);
    rollout_->prepare(*build.snapshot, now_seconds());
    snapshots_.publish(build.snapshot);

    std::random_device entropy;
    for (unsigned i = 0; i < threads; ++i) {
        const std::uint64_t seed = options_.seed != 0 ? options_.seed + i : (std::uint64_t{entropy()} << 32) ^ entropy();
        workers_.push_back(std::make_unique<Worker>(i, snapshots_, seed));
    }
    for (auto& w : workers_) worker_ptrs_.push_back(w.get());

    for (const auto& listener_config : config.listeners) {
        std::string error;
        auto listener = open_listener(listener_config, error);
        if (!listener) throw StartupError(error);
        listeners_.push_back(listener);
    }
    if (!config.access_log.empty()) {
        try {
            access_log_ = std::make_unique<AccessLog>(config.access_log, workers_.size());
        } catch (const std::exception& e) {
            throw StartupError(e.what());
        }
        for (auto& w : workers_) w->set_access_log(access_log_.get());
    }
    if (!config.admin.token_file.empty()) admin_token_ = read_admin_token(config.admin.token_file);
    admin_ = std::make_shared<AdminServer>(control_, [this](const AdminHttpRequest& r) { return handle_admin(r); });
    {
        boost::system::error_code ec;
        auto address = asio::ip::make_address(config.admin.address.host == "localhost" ? "127.0.0.1" : config.admin.address.host, ec);
        if (ec) throw StartupError("admin.address " + config.admin.address.to_string() + ": not an IP address");
        if (auto err = admin_->open(tcp::endpoint(address, config.admin.address.port)))
            throw StartupError("admin.address " + config.admin.address.to_string() + ": " + err.message());
    }

    for (auto& w : workers_) w->start();
    admin_->start();
    log::info("admin_listening", {{"address", config.admin.address.host + ":" + std::to_string(admin_->port())},
                                  {"token", !admin_token_.empty()}});
    sampler_ = std::make_unique<BackendSampler>(
        snapshots_, [this](const std::string& route, config::Role role, const std::string& source, BackendReading reading) {
            asio::post(control_, [this, route, role, source, reading = std::move(reading)]() mutable {
                aggregator_->set_backend(route, role, source, std::move(reading));
            });
        });
    sampler_->start();
    schedule_tick();
    for (auto& listener : listeners_) {
        listener->start();
        log::info("listening", {{"address", listener->config().address.host + ":" + std::to_string(listener->port())},
                                {"threads", threads}});
    }
    if (config.state_file.empty())
        log::warn("no_state_file", {{"message", "state_file is not set: a rollback will not survive a restart"}});
    if (options_.handle_signals) watch_signals();
    started_ = true;
}

std::shared_ptr<Listener> App::open_listener(const config::Listener& listener_config, std::string& error) {
    std::shared_ptr<asio::ssl::context> tls;
    if (listener_config.tls) {
        tls = make_tls_context(*listener_config.tls, error);
        if (!tls) {
            error = "listener " + listener_config.address.to_string() + ": " + error;
            return nullptr;
        }
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(listener_config.address.host, ec);
    if (ec) {
        tcp::resolver resolver(control_);
        auto results = resolver.resolve(listener_config.address.host, "", ec);
        if (ec || results.empty()) {
            error = "listener " + listener_config.address.to_string() + ": cannot resolve the host";
            return nullptr;
        }
        address = results.begin()->endpoint().address();
    }
    auto listener = std::make_shared<Listener>(control_, worker_ptrs_, listener_config);
    if (auto err = listener->open(tcp::endpoint(address, listener_config.address.port))) {
        error = "listener " + listener_config.address.to_string() + ": " + err.message();
        return nullptr;
    }
    listener->set_tls_context(std::move(tls));
    return listener;
}

int App::run() {
    auto guard = asio::make_work_guard(control_);
    control_.run();
    return 0;
}

void App::begin_shutdown(const char* signal_name) {
    if (shutting_down_) {
        // A second signal: no more patience.
        log::warn("forced_exit", {{"signal", signal_name}, {"open_connections", live_sessions()}});
        return stop();
    }
    shutting_down_ = true;
    draining_ = true;  // /readyz answers 503 from now on
    const auto& timeouts = snapshots_.load()->config->defaults.timeouts;
    log::info("draining", {{"signal", signal_name},
                           {"shutdown_grace_ms", timeouts.shutdown_grace.count()},
                           {"drain_ms", timeouts.drain.count()}});
    drain_deadline_.expires_after(std::max(timeouts.drain, timeouts.shutdown_grace));
    drain_deadline_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        log::warn("drain_timeout", {{"open_connections", live_sessions()}});
        stop();
    });
    // The grace lets load balancers see /readyz fail before the listeners close.
    grace_timer_.expires_after(timeouts.shutdown_grace);
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        for (auto& listener : listeners_) listener->stop();
        log::info("listeners_closed", {{"open_connections", live_sessions()}});
        for (auto& worker : workers_) worker->begin_drain();
        poll_drained();
    });
}

std::size_t App::live_sessions() const {
    std::size_t total = 0;
    for (const auto& worker : workers_) total += worker->live_sessions();
    return total;
}

void App::poll_drained() {
    if (live_sessions() == 0) {
        log::info("drained");
        return stop();
    }
    grace_timer_.expires_after(std::chrono::milliseconds(50));
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll_drained();
    });
}

void App::stop() {
    asio::post(control_, [this] {
        if (stopped_) return;
        stopped_ = true;
        grace_timer_.cancel();
        drain_deadline_.cancel();
        if (sampler_) sampler_->stop();
        if (admin_) admin_->stop();
        tick_timer_.cancel();
        for (auto& listener : listeners_) listener->stop();
        if (signals_) signals_->cancel();
        for (auto& worker : workers_) worker->stop();
        control_.stop();
        log::info("stopped");
    });
}

std::uint16_t App::listener_port(std::size_t index) const { return listeners_.at(index)->port(); }

std::uint16_t App::admin_port() const { return admin_ ? admin_->port() : 0; }

void App::schedule_tick() {
    tick_timer_.expires_at(started_at_ + std::chrono::seconds(tick_ + 1));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_tick();
    });
}

double App::now_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
}

void App::on_tick() {
    ++tick_;
    if (auto snapshot = snapshots_.load()) {
        aggregator_->tick(tick_, *snapshot);
        rollout_->tick(*snapshot, now_seconds());
    }
    // Access lines are buffered per worker: written at least once a second.
    if (access_log_) access_log_->flush();
    for (auto& retired : retired_access_logs_) retired->flush();
    schedule_tick();
}

AdminHttpResponse App::handle_admin(const AdminHttpRequest& request) {
    AdminHttpResponse response;
    auto text = [&](unsigned status, std::string body) {
        response.status = status;
        response.body = std::move(body);
        return response;
    };
    // Every mutating call is authenticated before its path is even looked at (SPEC §7).
    if (admin::is_mutating_method(request.method) && !admin_token_.empty() &&
        !bearer_token_matches(request.authorization, admin_token_)) {
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"canaryd\"");
        return text(401, "401 Unauthorized: this call needs Authorization: Bearer <admin token>\n");
    }
    const auto route = admin::route_admin_request(request.method, request.target);
    if (route.error_status == 405) {
        response.headers.emplace_back("Allow", route.allow);
        return text(405, "405 Method Not Allowed: use " + route.allow + "\n");
    }
    if (route.error_status != 0) return text(404, "404 Not Found: no admin endpoint " + request.target + "\n");
    switch (route.endpoint) {
        case admin::Endpoint::healthz: return text(200, "ok\n");
        case admin::Endpoint::readyz:
            return draining_ ? text(503, "draining\n") : text(200, "ready\n");
        case admin::Endpoint::status: {
            auto snapshot = snapshots_.load();
            auto view = aggregator_->status(*snapshot);
            rollout_->fill_status(view);
            view.draining = draining_;
            response.content_type = "application/json";
            return text(200, admin::render_status_json(view));
        }
        case admin::Endpoint::metrics:
            response.content_type = "text/plain; version=0.0.4; charset=utf-8";
            return text(200, metrics_->serialize());
        case admin::Endpoint::events: {
            response.content_type = "application/json";
            std::size_t limit = 100;
            if (auto it = route.query.find("limit"); it != route.query.end())
                limit = static_cast<std::size_t>(std::clamp(std::atoi(it->second.c_str()), 1, 256));
            return text(200, rollout_->events_json(limit));
        }
        case admin::Endpoint::demo:
            if (!options_.demo_control) return text(404, "404 Not Found: /demo exists only in canaryd --demo\n");
            response.content_type = "application/json";
            return text(200, options_.demo_control(route.query));
        case admin::Endpoint::rollback:
        case admin::Endpoint::promote:
        case admin::Endpoint::pause:
        case admin::Endpoint::resume:
        case admin::Endpoint::weight: {
            OperatorAction action = OperatorAction::rollback;
            if (route.endpoint == admin::Endpoint::promote) action = OperatorAction::promote;
            if (route.endpoint == admin::Endpoint::pause) action = OperatorAction::pause;
            if (route.endpoint == admin::Endpoint::resume) action = OperatorAction::resume;
            std::optional<std::uint32_t> weight;
            if (route.endpoint == admin::Endpoint::weight) {
                action = OperatorAction::weight;
                auto it = route.query.find("canary");
                if (it == route.query.end()) return text(400, "400 Bad Request: give the weight as &canary=PERCENT\n");
                auto parsed = config::parse_weight_bp(it->second);
                if (!parsed.value) return text(400, "400 Bad Request: canary: " + parsed.error + "\n");
                weight = *parsed.value;
            }
            const auto route_it = route.query.find("route");
            // Who acted, for /events and the log: the token holder and where they called from.
            const std::string actor = (admin_token_.empty() ? "operator@" : "token@") + request.peer;
            auto result = rollout_->act(*snapshots_.load(), action, route_it == route.query.end() ? "" : route_it->second,
                                        weight, actor, now_seconds());
            if (result.status == 200) response.content_type = "application/json";
            return text(result.status, std::move(result.body));
        }
        default:
            return text(404, "404 Not Found\n");
    }
}

void App::reload() {
    asio::post(control_, [this] { reload_from_file(); });
}

void App::watch_signals() {
    signals_.emplace(control_, SIGHUP, SIGTERM, SIGINT);
    signals_->async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            reload_from_file();
            return watch_signals();
        }
        begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
        watch_signals();
    });
}

void App::reload_from_file() {
    if (options_.config_path.empty()) {
        log::warn("reload_skipped", {{"reason", "no config file (demo mode)"}});
        return;
    }
    auto result = load_config_file(options_.config_path);
    if (!result.ok()) {
        for (const auto& e : result.errors)
            log::error("reload_failed", {{"error", config::format_error(options_.config_path, e)}});
        metrics_->config_reloads.Add({{"result", "fail"}}).Increment();
        return;
    }
    auto errors = apply_config(result.config);
    for (const auto& e : errors) log::error("reload_failed", {{"error", e}});
    metrics_->config_reloads.Add({{"result", errors.empty() ? "success" : "fail"}}).Increment();
    if (errors.empty()) log::info("reloaded", {{"generation", generation_}});
}

std::vector<std::string> App::apply_config(std::shared_ptr<const config::Config> config) {
    auto build = build_snapshot(config, generation_ + 1, endpoint_ids_, runtimes_);
    if (!build.snapshot) return build.errors;
    const auto previous = snapshots_.load();
    // New listener addresses are bound before anything changes, so a port in use fails the
    // reload as a whole and the old config stays in force.
    std::vector<std::shared_ptr<Listener>> next_listeners;
    std::vector<std::shared_ptr<Listener>> opened;
    std::vector<std::pair<std::shared_ptr<Listener>, std::shared_ptr<asio::ssl::context>>> rotated;
    for (const auto& listener_config : config->listeners) {
        // Each open listener serves at most one config entry (two ":0" entries are two ports).
        auto same = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) {
            return l->config() == listener_config &&
                   std::find(next_listeners.begin(), next_listeners.end(), l) == next_listeners.end();
        });
        if (same != listeners_.end()) {
            if (listener_config.tls) {
                // Certificates are re-read on every reload (rotation without a restart).
                std::string error;
                auto tls = make_tls_context(*listener_config.tls, error);
                if (!tls) {
                    for (auto& l : opened) l->stop();
                    return {"listener " + listener_config.address.to_string() + ": " + error};
                }
                rotated.emplace_back(*same, std::move(tls));
            }
            next_listeners.push_back(*same);
            continue;
        }
        std::string error;
        auto listener = open_listener(listener_config, error);
        if (!listener) {
            for (auto& l : opened) l->stop();
            return {error};
        }
        opened.push_back(listener);
        next_listeners.push_back(listener);
    }
    std::string access_log_error;
    if (config->access_log != (access_log_ ? access_log_->path() : "")) {
        if (config->access_log.empty()) {
            retired_access_logs_.push_back(std::move(access_log_));
        } else {
            try {
                auto log = std::make_unique<AccessLog>(config->access_log, workers_.size());
                if (access_log_) retired_access_logs_.push_back(std::move(access_log_));
                access_log_ = std::move(log);
            } catch (const std::exception& e) {
                access_log_error = e.what();
            }
        }
        for (auto& w : workers_) w->set_access_log(access_log_.get());
    } else if (access_log_) {
        access_log_error = access_log_->reopen();  // log rotation: SIGHUP reopens the file
    }
    if (!access_log_error.empty()) log::error("access_log_failed", {{"error", access_log_error}});

    ++generation_;
    // The rollout machines decide the weight in force: a latched rollback, a pause or a step
    // survive the reload; automatic states follow the file.
    aggregator_->prepare(*build.snapshot);
    rollout_->prepare(*build.snapshot, now_seconds());
    snapshots_.publish(build.snapshot);

    for (auto& listener : listeners_) {
        if (std::find(next_listeners.begin(), next_listeners.end(), listener) != next_listeners.end()) continue;
        listener->stop();  // its established connections carry on
        log::info("listener_closed", {{"address", listener->config().address.to_string()}});
    }
    for (auto& [listener, tls] : rotated) listener->set_tls_context(std::move(tls));
    for (auto& listener : opened) {
        listener->start();
        log::info("listening", {{"address", listener->config().address.host + ":" + std::to_string(listener->port())}});
    }
    listeners_ = std::move(next_listeners);
    // Idle pooled connections to endpoints no longer in the config close now; busy ones
    // finish their exchange and are then discarded.
    std::vector<bool> in_use(endpoint_ids_.size(), false);
    for (const auto& route : build.snapshot->routes)
        for (const auto& version : route.versions)
            for (auto id : version.endpoint_ids) in_use[id] = true;
    for (auto& w : workers_) w->retain_endpoints(in_use);

    if (previous) {
        const auto& old = *previous->config;
        if (old.threads != config->threads)
            log::warn("restart_needed", {{"key", "threads"}, {"message", "the number of worker threads changes on restart"}});
        if (!(old.admin.address == config->admin.address) || old.admin.token_file != config->admin.token_file)
            log::warn("restart_needed", {{"key", "admin"}, {"message", "the admin listener and token change on restart"}});
        if (old.state_file != config->state_file)
            log::warn("restart_needed", {{"key", "state_file"}, {"message", "the state file changes on restart"}});
    }
    return {};
}

}  // namespace canaryd::io
