// The Prometheus client fleet mode will read its signals with (SPEC §9), against a real
// Prometheus scraping two in-process canaryd replicas every second: the fleet-wide sum of
// canaryd_requests_total equals the requests sent to both, the targets API says both are up
// and up to when they have been scraped, a replica that stops shows as down with its error,
// a bad query is the error Prometheus gave, and a Prometheus that is not there says where.
#include "prometheus_server.hpp"

#include "io/fleet/prometheus_client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using namespace canaryd;

namespace {

double now_unix() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string replica_config(const test::Upstream& stable, const test::Upstream& canary) {
    return test::config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                    "]}\n    canary: {version: v2, endpoints: [" + canary.address() +
                                    "]}\n    canary_weight: 50\n");
}

}  // namespace

TEST_CASE("prometheus client: fleet-wide sums over two replicas, targets and scrape times, errors") {
    test::Upstream stable("stable");
    test::Upstream canary("canary");
    auto one = std::make_unique<test::Proxy>(replica_config(stable, canary));
    test::Proxy two(replica_config(stable, canary));
    const auto one_admin = "127.0.0.1:" + std::to_string(one->app().admin_port());
    const auto two_admin = "127.0.0.1:" + std::to_string(two.app().admin_port());
    {
        test::Client a(one->port());
        test::Client b(two.port());
        for (int i = 0; i < 30; ++i) REQUIRE(a.get("/").result_int() == 200);
        for (int i = 0; i < 20; ++i) REQUIRE(b.get("/").result_int() == 200);
    }
    test::PrometheusServer prometheus({one_admin, two_admin});
    io::PrometheusClient client("127.0.0.1", prometheus.port());

    // Both replicas up (each has a sample by then), then scraped again after that moment:
    // at `scraped_until` every replica's data is final and present (bounded: 20 s).
    std::optional<double> both_up_at;
    std::optional<io::PromTargets> targets;
    for (int i = 0; i < 200 && !targets; ++i) {
        auto t = client.targets("canaryd");
        REQUIRE_MESSAGE(t.ok(), t.message());
        if (!both_up_at && t->up == 2) both_up_at = now_unix();
        if (both_up_at && t->up == 2 && t->scraped_until && *t->scraped_until > *both_up_at) targets = *t;
        if (!targets) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE_MESSAGE(targets.has_value(), prometheus.log());
    CHECK(targets->down == 0);
    CHECK(*targets->scraped_until <= now_unix() + 1);

    // Evaluated at the time every replica is known to have been scraped.
    const double at = *targets->scraped_until;
    auto total = client.query("sum(canaryd_requests_total{route=\"api\"})", at);
    REQUIRE_MESSAGE(total.ok(), total.message());
    REQUIRE(total->size() == 1);
    CHECK(total->front().value == 50);
    auto by_version = client.query("sum by (version) (canaryd_requests_total{route=\"api\"})", at);
    REQUIRE(by_version.ok());
    REQUIRE(by_version->size() == 2);
    double summed = 0;
    for (const auto& s : *by_version) {
        CHECK((s.labels.at("version") == "stable" || s.labels.at("version") == "canary"));
        summed += s.value;
    }
    CHECK(summed == 50);
    auto per_replica = client.query("count(canaryd_build_info)", at);
    REQUIRE(per_replica.ok());
    CHECK(per_replica->front().value == 2);
    auto scalar = client.query("scalar(count(canaryd_build_info))", at);
    REQUIRE(scalar.ok());
    CHECK(scalar->front().value == 2);
    CHECK(scalar->front().labels.empty());

    // A bad query: Prometheus's own message.
    auto bad = client.query("sum(canaryd_requests_total", at);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.message().find("parse error") != std::string::npos);

    // Replica one stops: it shows as down, with why, within a few scrapes.
    one.reset();
    bool down = false;
    for (int i = 0; i < 100 && !down; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto t = client.targets("canaryd");
        REQUIRE(t.ok());
        down = t->down == 1 && t->up == 1 && !t->errors.empty();
        if (down) CHECK(t->errors.front().find(one_admin) != std::string::npos);
    }
    CHECK(down);
}

TEST_CASE("prometheus client: a Prometheus that is not there is an error that says where") {
    io::PrometheusClient client("127.0.0.1", test::closed_port(), std::chrono::milliseconds(500));
    auto result = client.query("up", now_unix());
    REQUIRE_FALSE(result.ok());
    CHECK(result.message().find("prometheus http://127.0.0.1:") != std::string::npos);
    CHECK_FALSE(client.targets("canaryd").ok());
}
