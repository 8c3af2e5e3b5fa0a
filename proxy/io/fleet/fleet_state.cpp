#include "io/fleet/fleet_state.hpp"

#include "core/fleet/fleet_record.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace canaryd::io {

namespace {

std::vector<EtcdEndpoint> endpoints_of(const config::FleetEtcd& etcd) {
    std::vector<EtcdEndpoint> out;
    for (const auto& e : etcd.endpoints) out.push_back({e.host, e.port});
    return out;
}

// Every call is bounded well inside the lease, so a round that fails is noticed (and the
// replica degrades) before the lease could have been lost unnoticed.
std::chrono::milliseconds call_timeout(const config::FleetEtcd& etcd) {
    return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(etcd.lease) / 4,
                      std::chrono::milliseconds(250), std::chrono::milliseconds(2000));
}

constexpr std::chrono::milliseconds kRound{500};

}  // namespace

std::string make_replica_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "canaryd");
    unsigned char random[3] = {};
    (void)RAND_bytes(random, sizeof random);
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%02x%02x%02x", random[0], random[1], random[2]);
    return std::string(host) + "-" + std::to_string(::getpid()) + "-" + suffix;
}

FleetState::FleetState(const config::Fleet& fleet, std::string replica_id)
    : fleet_(fleet),
      id_(std::move(replica_id)),
      timeout_(call_timeout(*fleet.etcd)),
      background_(endpoints_of(*fleet.etcd), timeout_),
      foreground_(endpoints_of(*fleet.etcd), timeout_),
      election_(background_, fleet::leader_key(fleet.etcd->prefix, fleet.name), id_,
                std::chrono::duration_cast<std::chrono::seconds>(fleet.etcd->lease),
                fleet::replica_key(fleet.etcd->prefix, fleet.name, id_)) {}

FleetState::~FleetState() { stop(); }

void FleetState::start(std::function<void(FleetView)> deliver) {
    deliver_ = std::move(deliver);
    thread_ = std::thread([this] { run(); });
}

void FleetState::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    election_.resign();
}

void FleetState::run() {
    const auto renew_every = std::max(kRound, std::chrono::duration_cast<std::chrono::milliseconds>(fleet_.etcd->lease) / 3);
    auto next_renewal = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        const auto now = std::chrono::steady_clock::now();
        const bool renew = now >= next_renewal;
        if (renew) next_renewal = now + renew_every;
        auto view = round(renew);
        // An unreachable etcd is retried on every round, not after a renewal period.
        if (!view.reachable) next_renewal = now;
        deliver_(std::move(view));
        lock.lock();
        wake_.wait_for(lock, kRound, [this] { return stopping_; });
    }
}

FleetView FleetState::round(bool renew) {
    FleetView view;
    if (renew || !last_election_.reachable) last_election_ = election_.step();
    if (!last_election_.reachable) {
        view.error = last_election_.error;
        return view;
    }
    auto replicas = background_.list(fleet::replicas_prefix(fleet_.etcd->prefix, fleet_.name));
    auto routes = replicas ? background_.list(fleet::routes_prefix(fleet_.etcd->prefix, fleet_.name))
                           : Result<std::vector<EtcdKeyValue>>(replicas.error());
    if (!replicas || !routes) {
        view.error = !replicas ? replicas.message() : routes.message();
        last_election_.reachable = false;  // campaign again next round
        return view;
    }
    view.reachable = true;
    view.leader = last_election_.leader;
    view.leader_id = last_election_.leader_id;
    view.term = last_election_.leader_revision;
    view.replicas = static_cast<int>(replicas->size());
    for (const auto& kv : *replicas) view.replica_ids.push_back(kv.value);
    view.routes = std::move(routes).value();
    return view;
}

Result<std::vector<EtcdKeyValue>> FleetState::read_routes() {
    return foreground_.list(fleet::routes_prefix(fleet_.etcd->prefix, fleet_.name));
}

Result<std::optional<EtcdKeyValue>> FleetState::read_route(const std::string& route) {
    return foreground_.get(fleet::route_key(fleet_.etcd->prefix, fleet_.name, route));
}

Result<std::int64_t> FleetState::write_route(const std::string& route, const std::string& record,
                                             std::int64_t expected_revision, std::int64_t term) {
    const auto key = fleet::route_key(fleet_.etcd->prefix, fleet_.name, route);
    std::vector<EtcdCompare> compares;
    compares.push_back({key, expected_revision == 0 ? EtcdCompare::Target::create : EtcdCompare::Target::mod,
                        expected_revision});
    if (term != 0)
        compares.push_back({fleet::leader_key(fleet_.etcd->prefix, fleet_.name), EtcdCompare::Target::create, term});
    return foreground_.put_when(key, record, compares);
}

std::string FleetState::route_name_of(const std::string& key) const {
    const auto prefix = fleet::routes_prefix(fleet_.etcd->prefix, fleet_.name);
    return key.starts_with(prefix) ? key.substr(prefix.size()) : std::string();
}

}  // namespace canaryd::io
