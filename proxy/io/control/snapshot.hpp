// The immutable unit that a request runs on: a validated config, its compiled route table,
// resolved upstream addresses and a link to each route's mutable runtime state. Built off
// the I/O threads (start-up, SIGHUP), then only read (ARCHITECTURE rule 2).
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"
#include "core/rollout/route_runtime.hpp"
#include "core/routing/route_table.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace canaryd::io {

using tcp = boost::asio::ip::tcp;

// Gives every distinct "host:port" a small id that stays the same across reloads, so that
// per-worker pools and health tables are plain vectors indexed by id.
class EndpointRegistry {
public:
    std::uint32_t id_of(const std::string& key);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::uint32_t, std::less<>> ids_;
};

// Runtime state per route name, kept for as long as the process lives so that a reload
// never resets a weight or a latched rollback.
class RuntimeRegistry {
public:
    explicit RuntimeRegistry(unsigned workers = 1) : workers_(workers) {}
    void set_workers(unsigned workers) { workers_ = workers; }  // before the first route

    std::shared_ptr<rollout::RouteRuntime> get_or_create(const std::string& route_name,
                                                         std::uint32_t initial_weight_bp);
    std::shared_ptr<rollout::RouteRuntime> find(const std::string& route_name);

private:
    unsigned workers_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<rollout::RouteRuntime>, std::less<>> routes_;
};

struct CompiledVersion {
    const config::Version* config = nullptr;
    std::vector<std::uint32_t> endpoint_ids;
};

struct CompiledRoute {
    const config::Route* config = nullptr;
    std::shared_ptr<rollout::RouteRuntime> runtime;
    CompiledVersion versions[2];  // indexed by config::Role
    bool has_canary = false;
};

struct ResolvedEndpoint {
    std::string key;  // "host:port"
    std::vector<tcp::endpoint> addresses;
};

struct Snapshot {
    std::uint64_t generation = 0;
    std::shared_ptr<const config::Config> config;
    routing::RouteTable table;
    std::vector<CompiledRoute> routes;         // parallel to config->routes
    std::vector<ResolvedEndpoint> endpoints;   // indexed by endpoint id (gaps: ids unused here)

    explicit Snapshot(std::shared_ptr<const config::Config> c) : config(c), table(std::move(c)) {}
};

// Every host name a config uses, resolved. Blocking (getaddrinfo): run it off the I/O and
// control threads (App resolves a reload on its own blocking-work thread), so that a slow
// DNS server never holds up requests, /healthz or the analysis tick.
struct ResolvedNames {
    std::map<std::string, tcp::endpoint, std::less<>> listeners;               // by "host:port"
    std::map<std::string, std::vector<tcp::endpoint>, std::less<>> endpoints;  // by "host:port"
    std::vector<std::string> errors;  // e.g. a host name that does not resolve
};
ResolvedNames resolve_names(const config::Config& config);

// Compiles the snapshot from names resolved without errors (fast: no I/O) and links
// runtime state.
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config, std::uint64_t generation,
                             const ResolvedNames& names, EndpointRegistry& endpoints, RuntimeRegistry& runtimes);

// The current snapshot, swapped atomically. Workers keep a cached copy and refresh it when
// the generation changes, so the hot path reads one relaxed atomic instead of taking the
// shared_ptr's lock on every request.
class SnapshotHolder {
public:
    void publish(std::shared_ptr<const Snapshot> snapshot);
    std::shared_ptr<const Snapshot> load() const;
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

private:
    std::atomic<std::shared_ptr<const Snapshot>> current_;
    std::atomic<std::uint64_t> generation_{0};
};

class SnapshotCache {
public:
    explicit SnapshotCache(const SnapshotHolder& holder) : holder_(holder) {}

    const std::shared_ptr<const Snapshot>& get() {
        if (holder_.generation() != cached_generation_ || !cached_) {
            cached_ = holder_.load();
            cached_generation_ = cached_ ? cached_->generation : 0;
        }
        return cached_;
    }

private:
    const SnapshotHolder& holder_;
    std::shared_ptr<const Snapshot> cached_;
    std::uint64_t cached_generation_ = 0;
};

}  // namespace canaryd::io
