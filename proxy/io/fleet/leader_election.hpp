// Which replica of a fleet is its leader (SPEC §9): the one whose etcd lease holds the
// leader key. The leader runs the fleet's analysis and writes its rollout state; when it
// dies its lease stops being renewed, etcd deletes the key within `lease`, and the next
// replica to campaign takes over. A leader that shuts down cleanly resigns (revokes its
// lease) so the handover is immediate.
//
// step() is one round — renew the lease (or get a new one when it expired), campaign
// (create the key only if it does not exist, bound to the lease), read who holds it — called
// every lease/3 on a thread that may block. It never decides alone that it still leads: only
// what etcd says counts, so two replicas never both think they lead for longer than one
// step after a lease expiry. `leader_revision` (the key's create revision) changes with every
// new term: writes made "as leader" compare it, so a deposed leader's late write is refused.
#pragma once

#include "io/fleet/etcd_client.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace canaryd::io {

struct LeaderView {
    bool reachable = false;       // etcd answered this round
    bool leader = false;          // this replica holds the key
    std::string leader_id;        // who holds it ("" when nobody does right now)
    std::int64_t leader_revision = 0;  // the term: create revision of the leader key
    std::string error;            // why etcd was not reachable
};

class LeaderElection {
public:
    // `presence_key` (optional): written with this replica's id under its lease, so the
    // fleet's live replicas are the keys under one prefix.
    LeaderElection(EtcdClient& etcd, std::string key, std::string id, std::chrono::seconds lease,
                   std::string presence_key = "");

    LeaderView step();
    // Revokes the lease (its keys go at once); the next step campaigns again.
    void resign();
    const std::string& id() const { return id_; }

private:
    LeaderView unreachable(const std::string& error);

    EtcdClient& etcd_;
    std::string key_;
    std::string id_;
    std::string presence_key_;
    std::chrono::seconds ttl_;
    std::int64_t lease_ = 0;
};

}  // namespace canaryd::io
