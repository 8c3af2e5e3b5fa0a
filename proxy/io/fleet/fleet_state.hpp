// Fleet mode's shared rollout state (SPEC §9), the etcd side: a background thread that keeps
// this replica's lease (leader election and presence) and reads every route's record, and
// compare-and-swap writes for the control thread. What the records mean is decided in core
// (core/fleet/reconcile) and applied by the RolloutController.
//
// One round every 500 ms (the election's renewal every lease/3): renew or campaign, count
// the replicas, read the records; the round's view goes to `deliver` (the App posts it to the
// control thread). A replica thus applies another's decision within about 0.5 s, well inside
// SPEC's 2 s, without a watch stream to keep alive through the JSON gateway.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"
#include "io/fleet/etcd_client.hpp"
#include "io/fleet/leader_election.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace canaryd::io {

// This process's id in its fleet: host name, pid and a random suffix (several replicas may
// share a host, and a restarted pod may get the same pid 1 on the same host name).
std::string make_replica_id();

struct FleetView {
    bool reachable = false;
    std::string error;       // why not
    bool leader = false;     // this replica holds the lease
    std::string leader_id;   // "" when nobody leads right now
    std::int64_t term = 0;   // the leader key's create revision
    int replicas = 0;        // live presence keys
    std::vector<std::string> replica_ids;
    std::vector<EtcdKeyValue> routes;  // every route record of the fleet (key = full key)
};

class FleetState {
public:
    FleetState(const config::Fleet& fleet, std::string replica_id);
    ~FleetState();
    FleetState(const FleetState&) = delete;
    FleetState& operator=(const FleetState&) = delete;

    void start(std::function<void(FleetView)> deliver);
    // Resigns (the leader key and this replica's presence go at once) and joins the thread.
    void stop();

    // For the control thread, synchronous and bounded by the etcd timeout (per member).
    Result<std::vector<EtcdKeyValue>> read_routes();
    Result<std::optional<EtcdKeyValue>> read_route(const std::string& route);
    // Writes `record` for `route` if its key is still at `expected_revision` (0: absent) and,
    // when `term` is not 0, the leader key is still at that term (a deposed leader's late
    // write is refused). The new revision on success, 0 when a compare failed.
    Result<std::int64_t> write_route(const std::string& route, const std::string& record, std::int64_t expected_revision,
                                     std::int64_t term);

    const std::string& id() const { return id_; }
    std::string route_name_of(const std::string& key) const;  // "" when not a route key

private:
    void run();
    FleetView round(bool renew);

    config::Fleet fleet_;
    std::string id_;
    std::chrono::milliseconds timeout_;
    EtcdClient background_;  // the thread's own client (each keeps its own current member)
    EtcdClient foreground_;  // the control thread's
    LeaderElection election_;
    std::function<void(FleetView)> deliver_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    // The last election result, kept between renewals.
    LeaderView last_election_;
};

}  // namespace canaryd::io
