// Leader election over a real etcd (SPEC §9): one leader among replicas, the others see who;
// a leader that dies (stops renewing) is replaced within its lease, with a new term; a leader
// that resigns is replaced at the next step; a deposed leader that comes back follows; an
// unreachable etcd leaves nobody believing it leads.
#include "etcd_server.hpp"

#include "io/fleet/leader_election.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using namespace canaryd;
using namespace std::chrono_literals;

TEST_CASE("leader election: one leader, handover within the lease when it dies, at once when it resigns") {
    test::EtcdServer etcd;
    io::EtcdClient client_a("127.0.0.1", etcd.client_port());
    io::EtcdClient client_b("127.0.0.1", etcd.client_port());
    // 3 s: a sanitizer build on a loaded CI machine must still renew well inside the lease.
    io::LeaderElection a(client_a, "/canaryd/checkout/leader", "replica-a", 3s);
    io::LeaderElection b(client_b, "/canaryd/checkout/leader", "replica-b", 3s);

    const auto first_a = a.step();
    const auto first_b = b.step();
    REQUIRE_MESSAGE(first_a.reachable, first_a.error);
    CHECK(first_a.leader);
    CHECK_FALSE(first_b.leader);
    CHECK(first_b.leader_id == "replica-a");
    CHECK(first_b.leader_revision == first_a.leader_revision);
    // Renewing keeps the term: several lease lengths later, still a and the same revision.
    for (int i = 0; i < 10; ++i) {
        std::this_thread::sleep_for(500ms);
        CHECK(a.step().leader);
        const auto seen = b.step();
        CHECK_FALSE(seen.leader);
        CHECK(seen.leader_revision == first_a.leader_revision);
    }

    // a dies (no more steps): b takes over within the lease (3 s) plus one step.
    const auto died = std::chrono::steady_clock::now();
    io::LeaderView b_view;
    while (std::chrono::steady_clock::now() - died < 8s) {
        std::this_thread::sleep_for(200ms);
        b_view = b.step();
        if (b_view.leader) break;
    }
    REQUIRE(b_view.leader);
    const auto handover = std::chrono::steady_clock::now() - died;
    CHECK(handover < 5500ms);  // lease 3 s, etcd's expiry tick and a 200 ms step
    CHECK(b_view.leader_revision > first_a.leader_revision);  // a new term

    // a comes back: its lease has expired; it follows b.
    const auto back = a.step();
    CHECK(back.reachable);
    CHECK_FALSE(back.leader);
    CHECK(back.leader_id == "replica-b");

    // b resigns: a leads at its next step.
    b.resign();
    const auto after = a.step();
    CHECK(after.leader);
    CHECK(after.leader_revision > b_view.leader_revision);
}

TEST_CASE("leader election: with etcd unreachable nobody leads") {
    io::EtcdClient client("127.0.0.1", test::closed_port(), 300ms);
    io::LeaderElection election(client, "/canaryd/checkout/leader", "replica-a", 2s);
    const auto view = election.step();
    CHECK_FALSE(view.reachable);
    CHECK_FALSE(view.leader);
    CHECK(view.error.find("etcd") != std::string::npos);
}
