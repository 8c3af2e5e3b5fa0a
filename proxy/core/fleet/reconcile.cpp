#include "core/fleet/reconcile.hpp"

namespace canaryd::fleet {

const char* to_string(Reconcile action) {
    switch (action) {
        case Reconcile::nothing: return "nothing";
        case Reconcile::adopt: return "adopt";
        case Reconcile::publish: return "publish";
        case Reconcile::publish_rollback: return "publish_rollback";
    }
    return "nothing";
}

Reconcile reconcile(const ReconcileInput& in) {
    const bool same_release = in.record && in.record->state.canary_release == in.configured_release;
    if (!same_release) {
        if (!in.record && in.pending_rollback) return Reconcile::publish_rollback;
        return in.may_publish ? Reconcile::publish : Reconcile::nothing;
    }
    const auto& fleet = in.record->state;
    if (in.pending_rollback)
        return fleet.state == rollout::State::rolled_back ? Reconcile::adopt : Reconcile::publish_rollback;
    const auto& local = *in.local;
    if (fleet.state != local.state || fleet.weight_bp != local.weight_bp || fleet.step != local.step)
        return Reconcile::adopt;
    return Reconcile::nothing;
}

}  // namespace canaryd::fleet
