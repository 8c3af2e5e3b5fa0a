#include "io/signals/backend_sampler.hpp"

#include "io/upstream/backend_probe.hpp"

namespace canaryd::io {

BackendSampler::BackendSampler(const SnapshotHolder& snapshots, Publish publish, std::chrono::milliseconds interval)
    : snapshots_(snapshots), publish_(std::move(publish)), interval_(interval) {}

BackendSampler::~BackendSampler() { stop(); }

void BackendSampler::start() { thread_ = std::thread([this] { run(); }); }

void BackendSampler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void BackendSampler::run() {
    auto next = std::chrono::steady_clock::now();
    while (true) {
        {
            std::unique_lock lock(mutex_);
            if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
        }
        sample_all();
        next += interval_;
        const auto now = std::chrono::steady_clock::now();
        if (next < now) next = now;  // fell behind (slow scrapes): do not burst to catch up
    }
}

void BackendSampler::sample_all() {
    const auto snapshot = snapshots_.load();
    if (!snapshot) return;
    // Scrapes must finish well within one interval.
    const auto timeout = interval_ * 8 / 10;
    for (const auto& route : snapshot->routes) {
        for (config::Role role : {config::Role::stable, config::Role::canary}) {
            if (role == config::Role::canary && !route.has_canary) continue;
            const auto& version = *route.versions[static_cast<std::size_t>(role)].config;
            if (version.signals.source == config::BackendSignals::Source::none) continue;
            const auto probe = probe_version(version, timeout);
            const auto key = route.config->name + "/" + config::to_string(role) + "/" + version.release;
            auto& rate = cpu_rates_[key];
            BackendReading reading;
            reading.configured = true;
            if (probe.ok()) {
                const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
                reading.cpu_cores = rate.update(probe.cpu_seconds, now);
                reading.memory_bytes = probe.memory_bytes;
            } else {
                rate.reset();  // the next good sample starts a new rate
                reading.error = probe.error;
            }
            publish_(route.config->name, role, config::to_string(version.signals.source), std::move(reading));
        }
    }
}

}  // namespace canaryd::io
