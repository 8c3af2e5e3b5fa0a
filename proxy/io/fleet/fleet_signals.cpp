#include "io/fleet/fleet_signals.hpp"

#include <chrono>
#include <cmath>

namespace canaryd::io {

namespace {

// A lag this long means some replica is no longer being scraped in time: say so.
constexpr double kLaggingAfter = 15;

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

FleetReading failed(std::string kind, std::string error) {
    FleetReading r;
    r.error_kind = std::move(kind);
    r.error = std::move(error);
    return r;
}

}  // namespace

FleetSignals::FleetSignals(const config::FleetPrometheus& prometheus)
    : config_(prometheus), client_(prometheus.host, prometheus.port, prometheus.timeout) {}

FleetSignals::~FleetSignals() { stop(); }

void FleetSignals::start(std::function<void(FleetReading)> deliver) {
    deliver_ = std::move(deliver);
    thread_ = std::thread([this] { run(); });
}

void FleetSignals::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::string FleetSignals::selected(const std::string& metric) const {
    return config_.selector.empty() ? metric : metric + "{" + config_.selector + "}";
}

std::optional<FleetReading> FleetSignals::read_once(double now) {
    if (last_progress_ == 0) last_progress_ = now;
    auto scraped = client_.query("min(timestamp(" + selected("up") + " == 1))", now);
    if (!scraped) return failed("prometheus", scraped.message());
    if (scraped->empty() || !std::isfinite(scraped->front().value))
        return failed("prometheus_empty", "no healthy target matches " + selected("up") + " (is Prometheus scraping the replicas' admin /metrics?)");
    const double at = std::floor(scraped->front().value);
    if (at <= last_at_) {
        if (now - last_progress_ > kLaggingAfter)
            return failed("prometheus_lagging", "no replica scraped since " + std::to_string(static_cast<long long>(last_at_)) +
                                                    " (" + std::to_string(static_cast<int>(now - last_progress_)) + " s)");
        return std::nullopt;  // nothing new and final yet
    }
    FleetReading reading;
    reading.at = at;
    auto count = client_.query("count(" + selected("up") + " == 1)", at);
    auto targets = client_.query(selected("up"), at);
    auto requests = client_.query(selected("canaryd_requests_total"), at);
    auto buckets = client_.query(selected("canaryd_request_duration_seconds_bucket"), at);
    auto cpu = client_.query(selected("canaryd_backend_cpu_cores"), at);
    auto memory = client_.query(selected("canaryd_backend_memory_bytes"), at);
    for (const auto* r : {&count, &targets, &requests, &buckets, &cpu, &memory})
        if (!*r) return failed("prometheus", r->message());
    reading.replicas = count->empty() ? 0 : static_cast<int>(count->front().value);
    reading.targets = std::move(targets).value();
    reading.requests = std::move(requests).value();
    reading.buckets = std::move(buckets).value();
    reading.cpu = std::move(cpu).value();
    reading.memory = std::move(memory).value();
    reading.ok = true;
    last_at_ = at;
    last_progress_ = now;
    return reading;
}

FleetReading FleetSignals::read_targets(double now) {
    FleetReading reading;
    reading.targets_only = true;
    auto targets = client_.query(selected("up"), now);
    if (!targets) return failed("prometheus", targets.message());
    reading.ok = true;
    reading.at = now;
    reading.targets = std::move(targets).value();
    for (const auto& t : reading.targets) reading.replicas += t.value == 1;
    return reading;
}

void FleetSignals::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        if (active_.load(std::memory_order_relaxed)) {
            if (auto reading = read_once(unix_now())) deliver_(std::move(*reading));
        } else {
            last_progress_ = 0;  // a replica that becomes active again does not report a lag it never watched
            auto reading = read_targets(unix_now());
            reading.targets_only = true;
            deliver_(std::move(reading));
        }
        lock.lock();
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
}

}  // namespace canaryd::io
