// Who may change a route's rollout, and how far, in each fleet situation (SPEC §9). Pure.
//
// A replica runs up to two analyses of a route: the fleet analysis (blocks summed over every
// replica, from Prometheus) and its local analysis (its own requests). Only one decision
// counts per fleet, so:
//   - alone (no fleet): the local analysis decides everything;
//   - with etcd, the leader decides — on the fleet analysis when there is one, else on its
//     local one — and followers only apply what etcd says;
//   - etcd unreachable (degraded): nobody raises a weight or advances a step; every replica's
//     local analysis may still roll back (written to etcd when it returns);
//   - Prometheus unreachable: the fleet analysis holds (no blocks), and the deciding
//     replica's local analysis guards with rollbacks only;
//   - Prometheus without etcd: every replica judges the same fleet-wide numbers and decides
//     for itself (no shared state; steps follow each replica's own clock).
#pragma once

#include <cstdint>

namespace canaryd::fleet {

enum class Authority : std::uint8_t {
    full,           // advance, promote, pause on hold timeouts, roll back
    rollback_only,  // only a failing verdict acts
    none,           // evaluate and show, never act
};
const char* to_string(Authority authority);

struct Situation {
    bool etcd = false;           // fleet.etcd is configured
    bool prometheus = false;     // fleet.prometheus is configured
    bool leader = false;         // holds the leader lease (meaningful with etcd)
    bool etcd_ok = true;         // the last round with etcd succeeded
    bool prometheus_ok = true;   // fleet blocks are arriving
};

struct Authorities {
    Authority fleet_analysis = Authority::none;
    Authority local_analysis = Authority::full;
};

Authorities authorities(const Situation& situation);

}  // namespace canaryd::fleet
