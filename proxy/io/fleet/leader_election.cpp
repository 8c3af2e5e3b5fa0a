#include "io/fleet/leader_election.hpp"

namespace canaryd::io {

LeaderElection::LeaderElection(EtcdClient& etcd, std::string key, std::string id, std::chrono::seconds lease,
                               std::string presence_key)
    : etcd_(etcd), key_(std::move(key)), id_(std::move(id)), presence_key_(std::move(presence_key)), ttl_(lease) {}

LeaderView LeaderElection::unreachable(const std::string& error) {
    LeaderView view;
    view.error = error;
    return view;
}

LeaderView LeaderElection::step() {
    if (lease_ != 0) {
        auto renewed = etcd_.keep_alive(lease_);
        if (!renewed) return unreachable(renewed.message());
        if (!*renewed) lease_ = 0;  // expired while etcd or this replica was away: a new term
    }
    if (lease_ == 0) {
        auto granted = etcd_.grant_lease(ttl_);
        if (!granted) return unreachable(granted.message());
        lease_ = *granted;
        if (!presence_key_.empty()) {
            // Under the new lease: it lives exactly as long as this replica keeps renewing.
            auto present = etcd_.put(presence_key_, id_, lease_);
            if (!present) {
                lease_ = 0;  // try the whole round again next step
                return unreachable(present.message());
            }
        }
    }
    auto campaigned = etcd_.put_if(key_, id_, 0, lease_);
    if (!campaigned) return unreachable(campaigned.message());
    auto holder = etcd_.get(key_);
    if (!holder) return unreachable(holder.message());
    LeaderView view;
    view.reachable = true;
    if (holder->has_value()) {
        const auto& kv = **holder;
        view.leader_id = kv.value;
        view.leader_revision = kv.create_revision;
        // Ours only under this very lease: a key left by an earlier lease of this replica is
        // a term that has ended.
        view.leader = kv.value == id_ && kv.lease == lease_;
    }
    return view;
}

void LeaderElection::resign() {
    if (lease_ == 0) return;
    (void)etcd_.revoke(lease_);  // unreachable etcd: the lease expires on its own
    lease_ = 0;
}

}  // namespace canaryd::io
