#include "core/fleet/fleet_record.hpp"
#include "core/fleet/reconcile.hpp"

#include <doctest/doctest.h>

using namespace canaryd;
using fleet::Reconcile;
using rollout::State;

namespace {

fleet::FleetRecord record(const std::string& release, State state, std::uint32_t weight_bp, int step) {
    fleet::FleetRecord r;
    r.state.canary_release = release;
    r.state.state = state;
    r.state.weight_bp = weight_bp;
    r.state.step = step;
    r.state.reason = "guardrail success_rate failed";
    r.state.actor = "analyzer";
    r.state.time = "2026-12-08T10:00:00Z";
    r.event = "rollback";
    r.decided_by = "pod-a-1-3f2c";
    r.term = 42;
    return r;
}

}  // namespace

TEST_CASE("fleet record: round trip, and every malformed record is an error that says what is wrong") {
    const auto original = record("v2", State::rolled_back, 0, 1);
    auto parsed = fleet::parse_fleet_record(fleet::render_fleet_record(original));
    REQUIRE(parsed.ok());
    CHECK(*parsed == original);

    CHECK(fleet::parse_fleet_record("not json").message().find("not valid JSON") != std::string::npos);
    CHECK(fleet::parse_fleet_record("[]").message().find("object") != std::string::npos);
    CHECK(fleet::parse_fleet_record(R"({"format": 2, "route_state": {}})").message().find("format") != std::string::npos);
    CHECK(fleet::parse_fleet_record(R"({"format": 1})").message().find("route_state") != std::string::npos);
    CHECK(fleet::parse_fleet_record(
              R"({"format": 1, "route_state": {"canary_release": "v2", "state": "sideways", "weight_bp": 0, "step": 0}})")
              .message()
              .find("sideways") != std::string::npos);
    CHECK_FALSE(fleet::parse_fleet_record(
                    R"({"format": 1, "route_state": {"canary_release": "v2", "state": "steady", "weight_bp": 20000, "step": 0}})")
                    .ok());
}

TEST_CASE("fleet keys: one layout under the prefix and the fleet's name") {
    CHECK(fleet::leader_key("/canaryd/", "checkout") == "/canaryd/checkout/leader");
    CHECK(fleet::route_key("/canaryd/", "checkout", "api") == "/canaryd/checkout/routes/api");
    CHECK(fleet::route_key("/canaryd/", "checkout", "api").starts_with(fleet::routes_prefix("/canaryd/", "checkout")));
    CHECK(fleet::replica_key("/x/", "f", "id-1") == "/x/f/replicas/id-1");
}

TEST_CASE("reconcile: apply the fleet's state, publish a release's first record, a pending rollback always wins") {
    const auto local = record("v2", State::progressing, 500, 0).state;
    fleet::ReconcileInput in;
    in.configured_release = "v2";
    in.local = &local;

    // No record yet: a follower keeps to its config, the leader writes the first record.
    CHECK(fleet::reconcile(in) == Reconcile::nothing);
    in.may_publish = true;
    CHECK(fleet::reconcile(in) == Reconcile::publish);
    in.may_publish = false;

    // The same release: apply what differs, nothing when it already matches.
    auto same = record("v2", State::progressing, 500, 0);
    in.record = &same;
    CHECK(fleet::reconcile(in) == Reconcile::nothing);
    auto advanced = record("v2", State::progressing, 2000, 1);
    in.record = &advanced;
    CHECK(fleet::reconcile(in) == Reconcile::adopt);
    auto rolled_back = record("v2", State::rolled_back, 0, 0);
    in.record = &rolled_back;
    CHECK(fleet::reconcile(in) == Reconcile::adopt);

    // Another release in etcd (a config rollout in progress): followers wait, the leader writes.
    auto older = record("v1", State::promoted, 10000, 3);
    in.record = &older;
    CHECK(fleet::reconcile(in) == Reconcile::nothing);
    in.may_publish = true;
    CHECK(fleet::reconcile(in) == Reconcile::publish);
    in.may_publish = false;

    // A rollback made while etcd was away is written over a raise, and cleared by a rollback.
    in.pending_rollback = true;
    in.record = &advanced;
    CHECK(fleet::reconcile(in) == Reconcile::publish_rollback);
    in.record = &rolled_back;
    CHECK(fleet::reconcile(in) == Reconcile::adopt);
    in.record = nullptr;
    CHECK(fleet::reconcile(in) == Reconcile::publish_rollback);
    in.record = &older;  // never over another release's record from a follower
    CHECK(fleet::reconcile(in) == Reconcile::nothing);
}
