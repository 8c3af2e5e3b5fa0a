// The upstream pool at its defaults (SPEC §4): a busy worker keeps as many idle connections
// as it recently needed, so steady load never closes and reopens upstream connections.
#include "support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace canaryd::test;

TEST_CASE("upstream pool: 64 concurrent clients over 10,000 requests open about 64 upstream connections (defaults, one worker)") {
    Upstream stable("stable");
    Upstream canary("canary");
    // One worker, nothing about the pool configured: what a user gets.
    Proxy proxy("threads: 1\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n"
                "  - name: api\n"
                "    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"
                "    canary: {version: v2, endpoints: [" + canary.address() + "]}\n"
                "    canary_weight: 10\n");
    constexpr int kClients = 64;
    constexpr int kPerClient = 157;  // 10,048 requests
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i)
        clients.emplace_back([&] {
            Client client(proxy.port());
            for (int j = 0; j < kPerClient; ++j)
                if (client.get("/").result_int() == 200) ++answered;
        });
    for (auto& c : clients) c.join();
    CHECK(answered == kClients * kPerClient);
    // At most one upstream connection per concurrent exchange (64), plus a few replaced
    // ones; a pool capped below the concurrency would open one per request beyond its cap.
    INFO("stable opened " << stable.connections() << ", canary opened " << canary.connections());
    CHECK(stable.connections() <= kClients + 8);
    CHECK(canary.connections() <= kClients + 8);
    CHECK(stable.connections() + canary.connections() >= 2);
}
