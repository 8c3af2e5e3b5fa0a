#include "io/control/snapshot.hpp"

#include "io/control/name_resolver.hpp"
#include "io/upstream/upstream_tls.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>

namespace canaryd::io {

std::uint32_t EndpointRegistry::id_of(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = ids_.emplace(key, static_cast<std::uint32_t>(ids_.size()));
    return it->second;
}

std::size_t EndpointRegistry::size() const {
    std::lock_guard lock(mutex_);
    return ids_.size();
}

std::shared_ptr<rollout::RouteRuntime> RuntimeRegistry::get_or_create(const std::string& route_name,
                                                                      std::uint32_t initial_weight_bp) {
    std::lock_guard lock(mutex_);
    auto& slot = routes_[route_name];
    if (!slot) {
        slot = std::make_shared<rollout::RouteRuntime>(route_name, workers_);
        slot->canary_weight_bp.store(initial_weight_bp, std::memory_order_release);
    }
    return slot;
}

std::shared_ptr<rollout::RouteRuntime> RuntimeRegistry::find(const std::string& route_name) {
    std::lock_guard lock(mutex_);
    auto it = routes_.find(route_name);
    return it == routes_.end() ? nullptr : it->second;
}

std::string endpoint_text(const tcp::endpoint& e) {
    const auto address = e.address().to_string();
    const auto port = std::to_string(e.port());
    return e.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}

ResolvedNames resolve_names(const config::Config& config, const std::string& hosts_file) {
    boost::asio::io_context ioc;
    ResolvedNames names;
    for (const auto& listener : config.listeners) {
        const auto key = listener.address.to_string();
        if (names.listeners.contains(key)) continue;
        auto addresses = resolve_host(ioc, listener.address, hosts_file);
        if (!addresses) names.errors.push_back("listener " + key + ": cannot resolve the host");
        else names.listeners.emplace(key, addresses->front());
    }
    for (const auto& route : config.routes) {
        auto resolve_version = [&](const config::Version& version) {
            for (const auto& hp : version.endpoints) {
                const auto key = hp.to_string();
                if (names.endpoints.contains(key)) continue;
                auto addresses = resolve_host(ioc, hp, hosts_file);
                if (!addresses) {
                    names.errors.push_back("routes." + route.name + ": " + addresses.message());
                    names.failed.emplace(key, addresses.message());
                }
                names.endpoints.emplace(key, addresses ? std::move(addresses).value() : std::vector<tcp::endpoint>{});
            }
        };
        resolve_version(route.stable);
        if (route.canary) resolve_version(*route.canary);
    }
    return names;
}

std::string tls_key(const std::string& route, config::Role role) { return route + "/" + config::to_string(role); }

void load_upstream_tls(const config::Config& config, ResolvedNames& names) {
    for (const auto& route : config.routes) {
        auto load = [&](const config::Version& version, config::Role role) {
            if (!version.tls) return;
            auto context = make_upstream_tls_context(*version.tls, version.protocol == config::Version::Protocol::http2);
            if (!context) names.errors.push_back("routes." + route.name + "." + config::to_string(role) + "." + context.message());
            else names.upstream_tls.emplace(tls_key(route.name, role), std::move(context).value());
        };
        load(route.stable, config::Role::stable);
        if (route.canary) load(*route.canary, config::Role::canary);
    }
}

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config, std::uint64_t generation,
                                               const ResolvedNames& names, EndpointRegistry& endpoints,
                                               RuntimeRegistry& runtimes) {
    auto snapshot = std::make_shared<Snapshot>(config);
    snapshot->generation = generation;
    for (const auto& route : config->routes) {
        CompiledRoute compiled;
        compiled.config = &route;
        // Runtime state is created with the configured weight the first time a route is seen;
        // later snapshots re-use it, and the reload logic decides whether the weight follows
        // the file.
        compiled.runtime = runtimes.get_or_create(route.name, route.canary ? route.canary_weight_bp : 0);
        compiled.has_canary = route.canary.has_value();
        auto compile_version = [&](const config::Version& version, config::Role role, CompiledVersion& out) {
            out.config = &version;
            std::shared_ptr<boost::asio::ssl::context> tls;
            if (version.tls) tls = names.upstream_tls.at(tls_key(route.name, role));
            for (const auto& hp : version.endpoints) {
                const std::string host = hp.to_string();
                const bool literal = is_ip_literal(hp.host);
                const std::string tls_name = !tls ? "" : version.tls->server_name.empty() ? hp.host : version.tls->server_name;
                for (const auto& address : names.endpoints.at(host)) {
                    std::string key = literal ? host : host + "@" + endpoint_text(address);
                    if (tls) key += " tls:" + tls_name + (version.tls->cert_file.empty() ? "" : "+client-cert");
                    const bool http2 = version.protocol == config::Version::Protocol::http2;
                    if (http2) key += " h2";
                    const auto id = endpoints.id_of(key);
                    if (std::find(out.endpoint_ids.begin(), out.endpoint_ids.end(), id) != out.endpoint_ids.end())
                        continue;  // two names of one version that share an address: one member
                    out.endpoint_ids.push_back(id);
                    if (snapshot->endpoints.size() <= id) snapshot->endpoints.resize(id + 1);
                    auto& resolved = snapshot->endpoints[id];
                    if (resolved.key.empty())
                        resolved = ResolvedEndpoint{std::move(key), host, address, tls, tls_name,
                                                    !version.tls || version.tls->verify, http2};
                }
            }
        };
        compile_version(route.stable, config::Role::stable, compiled.versions[0]);
        if (route.canary) compile_version(*route.canary, config::Role::canary, compiled.versions[1]);
        snapshot->routes.push_back(std::move(compiled));
    }
    return snapshot;
}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> snapshot) {
    current_.store(std::move(snapshot), std::memory_order_release);
    published_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Snapshot> SnapshotHolder::load() const { return current_.load(std::memory_order_acquire); }

}  // namespace canaryd::io
