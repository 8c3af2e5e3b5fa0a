#include "core/fleet/authority.hpp"

namespace canaryd::fleet {

const char* to_string(Authority authority) {
    switch (authority) {
        case Authority::full: return "full";
        case Authority::rollback_only: return "rollback_only";
        case Authority::none: return "none";
    }
    return "none";
}

Authorities authorities(const Situation& s) {
    Authorities a;
    if (!s.etcd && !s.prometheus) return a;  // standalone: local full
    if (s.etcd && !s.etcd_ok) {
        a.fleet_analysis = Authority::none;
        a.local_analysis = Authority::rollback_only;
        return a;
    }
    const bool decides = !s.etcd || s.leader;
    if (!decides) {
        a.fleet_analysis = Authority::none;
        a.local_analysis = Authority::none;
        return a;
    }
    if (s.prometheus) {
        a.fleet_analysis = Authority::full;
        a.local_analysis = s.prometheus_ok ? Authority::none : Authority::rollback_only;
    } else {
        a.fleet_analysis = Authority::none;
        a.local_analysis = Authority::full;
    }
    return a;
}

}  // namespace canaryd::fleet
