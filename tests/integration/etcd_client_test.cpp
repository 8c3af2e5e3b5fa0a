// The etcd client fleet mode will keep its rollout state with (SPEC §9), against a real etcd:
// bytes round-trip through the JSON gateway's base64, a prefix lists only its keys, a
// compare-and-swap lets exactly one of two racing writers win, a leased key disappears when
// its lease is not renewed and stays while it is, and a dead etcd is a clear error.
#include "etcd_server.hpp"

#include "io/fleet/etcd_client.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace canaryd;

TEST_CASE("etcd client: get, put, list by prefix, erase, with any bytes in keys and values") {
    test::EtcdServer etcd;
    io::EtcdClient client("127.0.0.1", etcd.client_port());
    auto missing = client.get("canaryd/routes/api");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    const std::string binary("{\"weight\":0}\n\0\xff\x01 end", 19);
    auto revision = client.put("canaryd/routes/api", binary);
    REQUIRE_MESSAGE(revision.ok(), revision.message());
    CHECK(*revision > 0);
    auto got = client.get("canaryd/routes/api");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->value == binary);
    CHECK((*got)->mod_revision == *revision);
    CHECK((*got)->create_revision == *revision);

    REQUIRE(client.put("canaryd/routes/web", "w").ok());
    REQUIRE(client.put("canaryd/routesX", "not under the prefix").ok());
    REQUIRE(client.put("canaryd/leader", "replica-1").ok());
    auto routes = client.list("canaryd/routes/");
    REQUIRE(routes.ok());
    REQUIRE(routes->size() == 2);
    CHECK(routes->at(0).key == "canaryd/routes/api");
    CHECK(routes->at(1).key == "canaryd/routes/web");

    auto erased = client.erase("canaryd/routes/web");
    REQUIRE(erased.ok());
    CHECK(*erased);
    CHECK_FALSE(*client.erase("canaryd/routes/web"));
    CHECK(client.list("canaryd/routes/")->size() == 1);
}

TEST_CASE("etcd client: compare-and-swap: of two writers that read the same revision, one wins") {
    test::EtcdServer etcd;
    io::EtcdClient a("127.0.0.1", etcd.client_port());
    io::EtcdClient b("127.0.0.1", etcd.client_port());
    // Create-only: the first creator wins, the second learns it lost.
    CHECK(*a.put_if("canaryd/routes/api", "rolled_back by a", 0));
    CHECK_FALSE(*b.put_if("canaryd/routes/api", "progressing by b", 0));
    const auto read = a.get("canaryd/routes/api");
    REQUIRE(read.ok());
    const auto seen = (*read)->mod_revision;
    // Both read `seen`; a writes first; b's write on the stale revision is refused.
    CHECK(*a.put_if("canaryd/routes/api", "step 2 by a", seen));
    CHECK_FALSE(*b.put_if("canaryd/routes/api", "step 2 by b", seen));
    CHECK((*a.get("canaryd/routes/api"))->value == "step 2 by a");
}

TEST_CASE("etcd client: a leased key lives while renewed and goes when its holder stops") {
    test::EtcdServer etcd;
    io::EtcdClient client("127.0.0.1", etcd.client_port());
    auto lease = client.grant_lease(std::chrono::seconds(2));
    REQUIRE_MESSAGE(lease.ok(), lease.message());
    REQUIRE(*client.put_if("canaryd/leader", "replica-1", 0, *lease));
    for (int i = 0; i < 6; ++i) {  // 3 s of renewals: longer than the TTL
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        auto renewed = client.keep_alive(*lease);
        REQUIRE_MESSAGE(renewed.ok(), renewed.message());
        CHECK(*renewed);
    }
    CHECK(client.get("canaryd/leader")->has_value());
    // The holder stops renewing (it died): the key goes within the TTL (plus etcd's tick).
    bool gone = false;
    for (int i = 0; i < 60 && !gone; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        gone = !client.get("canaryd/leader")->has_value();
    }
    CHECK(gone);
    auto renewed = client.keep_alive(*lease);
    CHECK((!renewed.ok() || !*renewed));  // an expired lease is not renewed
    // Another replica can take over now.
    auto next = client.grant_lease(std::chrono::seconds(2));
    REQUIRE(next.ok());
    CHECK(*client.put_if("canaryd/leader", "replica-2", 0, *next));
    REQUIRE(client.revoke(*next).ok());
    CHECK_FALSE(client.get("canaryd/leader")->has_value());  // revoked: gone at once
}

TEST_CASE("etcd client: an etcd that is not there is an error that says where") {
    io::EtcdClient client("127.0.0.1", test::closed_port(), std::chrono::milliseconds(500));
    auto got = client.get("canaryd/x");
    REQUIRE_FALSE(got.ok());
    CHECK(got.message().find("etcd http://127.0.0.1:") != std::string::npos);
    CHECK_FALSE(client.put_if("canaryd/x", "v", 0).ok());
}
