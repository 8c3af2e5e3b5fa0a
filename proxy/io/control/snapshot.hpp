// The immutable unit that a request runs on: a validated config, its compiled route table,
// resolved upstream addresses and a link to each route's mutable runtime state. Built off
// the I/O threads (start-up, SIGHUP), then only read (ARCHITECTURE rule 2).
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"
#include "core/rollout/route_runtime.hpp"
#include "core/routing/route_table.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

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

// One member of a version's split. A configured IP literal is one member; a host name is one
// member per address it resolves to (as Envoy's strict DNS clusters), so every pod behind a
// Service name gets its share, its pool and its own passive health.
struct ResolvedEndpoint {
    std::string key;   // "10.0.0.7:8080", or "api.prod.svc:8080@10.0.0.7:8080" for a name
    std::string host;  // the configured "host:port" (the Host of a request that had none)
    tcp::endpoint address;
    // TLS (the version's `tls:`), or null for plain HTTP. A TLS endpoint's key says so and
    // names `tls_name`, so that it never shares a pool with a plain or other-named one.
    std::shared_ptr<boost::asio::ssl::context> tls;
    std::string tls_name;  // SNI and the name the certificate must carry
    bool tls_verify = true;
    bool http2 = false;    // the version's `protocol: http2` (its key says so: pools never mix)
};

// "10.0.0.7:8080", "[fd00::7]:8080".
std::string endpoint_text(const tcp::endpoint& e);

struct Snapshot {
    std::uint64_t generation = 0;
    std::shared_ptr<const config::Config> config;
    routing::RouteTable table;
    std::vector<CompiledRoute> routes;         // parallel to config->routes
    std::vector<ResolvedEndpoint> endpoints;   // indexed by endpoint id (gaps: ids unused here)

    explicit Snapshot(std::shared_ptr<const config::Config> c) : config(c), table(std::move(c)) {}
};

// Every host name a config uses, resolved (name_resolver.hpp; `hosts_file` empty: the system
// resolver). Blocking: run it off the I/O and control threads (App resolves on its own
// blocking-work thread), so that a slow DNS server never holds up requests, /healthz or the
// analysis tick.
struct ResolvedNames {
    std::map<std::string, tcp::endpoint, std::less<>> listeners;               // by "host:port"
    std::map<std::string, std::vector<tcp::endpoint>, std::less<>> endpoints;  // by "host:port"
    std::map<std::string, std::string, std::less<>> failed;  // endpoint "host:port" -> why not
    // Each version's upstream TLS context (upstream_tls.hpp), by tls_key().
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>, std::less<>> upstream_tls;
    std::vector<std::string> errors;  // for the operator, e.g. a host name that does not resolve
};
ResolvedNames resolve_names(const config::Config& config, const std::string& hosts_file);
// Builds every version's upstream TLS context into `names` (reading its files: off the
// control thread too); a file that is wrong is an error in `names.errors`.
void load_upstream_tls(const config::Config& config, ResolvedNames& names);
std::string tls_key(const std::string& route, config::Role role);

// Compiles the snapshot from names resolved without errors (fast: no I/O) and links
// runtime state.
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config, std::uint64_t generation,
                             const ResolvedNames& names, EndpointRegistry& endpoints, RuntimeRegistry& runtimes);

// The current snapshot, swapped atomically. Workers keep a cached copy and refresh it when
// the publish count changes, so the hot path reads one atomic instead of taking the
// shared_ptr's lock on every request. The count, not the config generation: a DNS refresh
// publishes a new snapshot of the same config.
class SnapshotHolder {
public:
    void publish(std::shared_ptr<const Snapshot> snapshot);
    std::shared_ptr<const Snapshot> load() const;
    std::uint64_t published() const { return published_.load(std::memory_order_acquire); }

private:
    std::atomic<std::shared_ptr<const Snapshot>> current_;
    std::atomic<std::uint64_t> published_{0};
};

class SnapshotCache {
public:
    explicit SnapshotCache(const SnapshotHolder& holder) : holder_(holder) {}

    const std::shared_ptr<const Snapshot>& get() {
        // Read the count first: a publish that lands in between is seen on the next call.
        if (const auto published = holder_.published(); published != cached_published_ || !cached_) {
            cached_published_ = published;
            cached_ = holder_.load();
        }
        return cached_;
    }

private:
    const SnapshotHolder& holder_;
    std::shared_ptr<const Snapshot> cached_;
    std::uint64_t cached_published_ = 0;
};

}  // namespace canaryd::io
