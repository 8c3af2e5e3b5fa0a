// What a replica does with the record of a route it read from etcd (SPEC §9). Pure.
//
// The record is the fleet's state; a replica applies it unless it belongs to another canary
// release than this replica's config names (a config rollout in progress: the leader writes
// the new release's first record, the others keep to their file until it exists). A local
// rollback made while etcd was unreachable is written on top of whatever the record says for
// the same release when etcd returns: a rollback always survives, never a raise.
#pragma once

#include "core/fleet/fleet_record.hpp"

#include <cstdint>
#include <string_view>

namespace canaryd::fleet {

enum class Reconcile : std::uint8_t {
    nothing,           // the record says what this replica already does
    adopt,             // apply the record's state here
    publish,           // write this replica's state: the fleet's first record of this release
    publish_rollback,  // write this replica's pending rollback over the record
};
const char* to_string(Reconcile action);

struct ReconcileInput {
    const FleetRecord* record = nullptr;  // null: no record in etcd
    std::string_view configured_release;  // the canary release this replica's config names
    const rollout::RouteState* local = nullptr;
    bool may_publish = false;       // the deciding replica (the leader) starts a release's record
    bool pending_rollback = false;  // a local rollback of this release not yet in etcd
};

Reconcile reconcile(const ReconcileInput& input);

}  // namespace canaryd::fleet
