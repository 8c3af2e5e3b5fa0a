// The analyzer on real traffic, end to end (SPEC §6, issue "Analyzer: valid on real
// traffic"): failures that come in clumps and a slowdown that hits both versions leave a
// healthy canary alone; an edited guardrail is applied on reload and the log says which;
// the evidence is exported; a one-endpoint canary gets its connect retry like the stable.
#include "process.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <random>

using namespace canaryd::test;

namespace {

// Both versions behave alike: every request has a 0.3 % chance of a reset-like event that
// fails it and the next 9 requests of the same upstream (a clump), and both slow down 3x
// while `slow` is set.
struct SharedTrouble {
    std::atomic<bool> slow{false};
    std::atomic<std::uint64_t> failures{0};

    Upstream::Handler handler(const std::string& name, std::uint64_t seed) {
        auto rng = std::make_shared<std::mt19937_64>(seed);
        auto clump_left = std::make_shared<int>(0);
        auto mutex = std::make_shared<std::mutex>();
        return [this, name, rng, clump_left, mutex](const http::request<http::string_body>&) {
            bool fail = false;
            {
                std::lock_guard lock(*mutex);
                if (*clump_left == 0 && std::uniform_real_distribution<double>(0, 1)(*rng) < 0.003) *clump_left = 10;
                if (*clump_left > 0) {
                    --*clump_left;
                    fail = true;
                }
            }
            if (fail) ++failures;
            http::response<http::string_body> response{fail ? http::status::service_unavailable : http::status::ok, 11};
            response.body() = fail ? "reset" : name;
            return response;
        };
    }
    canaryd::io::EmbeddedBackend::Delay delay() {
        return [this] { return std::chrono::milliseconds(slow ? 6 : 2); };
    }
};

const boost::json::value& route0(const boost::json::value& status) { return status.at("routes").at(0); }

}  // namespace

TEST_CASE("clumped failures and a 3x slowdown of both versions do not roll back a healthy canary") {
    SharedTrouble trouble;
    Upstream stable("stable", trouble.handler("stable", 1), trouble.delay());
    Upstream canary("canary", trouble.handler("canary", 2), trouble.delay());
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                   "]}\n    canary: {version: v2, endpoints: [" + canary.address() + "]}\n"
                                   "    canary_weight: 20\n"
                                   "    analysis:\n      min_requests: 50\n      guardrails:\n"
                                   "        - {metric: success_rate, max_drop: 0}\n"
                                   "        - {metric: latency_p99, max_ratio: 1.25}\n"));
    const auto admin = proxy.app().admin_port();
    {
        std::vector<std::unique_ptr<LoadLoop>> load;
        for (int i = 0; i < 4; ++i) load.push_back(std::make_unique<LoadLoop>(proxy.port()));
        auto passing = wait_for_status(admin, [](const boost::json::value& v) {
            return route0(v).at("last_decision").is_object() &&
                   route0(v).at("last_decision").at("verdict").as_string() == "pass";
        });
        CHECK(route0(passing).at("last_decision").at("verdict").as_string() == "pass");
        std::this_thread::sleep_for(std::chrono::seconds(3));
        trouble.slow = true;  // a shared dependency slows down: both versions, the same seconds
        std::this_thread::sleep_for(std::chrono::seconds(12));
        trouble.slow = false;
        std::this_thread::sleep_for(std::chrono::seconds(4));
    }
    const auto status = admin_status(admin);
    CHECK(route0(status).at("state").as_string() == "steady");
    CHECK(route0(status).at("canary_weight").to_number<double>() == 20);
    // The trouble really happened, to both versions: clumps of failures were served.
    CHECK(trouble.failures.load() >= 20);
    const auto metrics = Client(admin).get("/metrics").body();
    CHECK(metrics.find("canaryd_requests_total{code=\"503\",release=\"v2\",route=\"api\",version=\"canary\"}") !=
          std::string::npos);
    CHECK(metrics.find("canaryd_requests_total{code=\"503\",release=\"v1\",route=\"api\",version=\"stable\"}") !=
          std::string::npos);
    // Operators can watch the evidence of each guardrail.
    CHECK(metrics.find("canaryd_guardrail_evidence{guardrail=\"success_rate\",route=\"api\"}") != std::string::npos);
    CHECK(metrics.find("canaryd_guardrail_evidence{guardrail=\"latency_p99\",route=\"api\"}") != std::string::npos);
    CHECK(metrics.find("canaryd_guardrail_verdict{guardrail=\"latency_p99\",route=\"api\",verdict=\"fail\"} 0") !=
          std::string::npos);
    // No rollback, and every series an alert could watch is there at 0.
    for (const char* guardrail : {"success_rate", "latency_p99", "operator"})
        CHECK_MESSAGE(metrics.find("canaryd_rollbacks_total{guardrail=\"" + std::string(guardrail) + "\",route=\"api\"} 0\n") !=
                          std::string::npos,
                      guardrail);
    CHECK(metrics.find("canaryd_rollbacks_total{guardrail=\"success_rate\",route=\"api\"} 1") == std::string::npos);
}

TEST_CASE("a reload applies edited guardrails, keeps the unchanged ones and says which, dry_run never acts") {
    std::atomic<bool> failing{false};
    Upstream stable("stable");
    Upstream canary("canary", [&failing](const http::request<http::string_body>&) {
        http::response<http::string_body> response{failing ? http::status::internal_server_error : http::status::ok, 11};
        response.body() = "canary";
        return response;
    });
    const auto port = closed_port();
    const auto admin = closed_port();
    auto config = [&](const std::string& guardrails) {
        return "threads: 1\nlisteners:\n  - address: 127.0.0.1:" + std::to_string(port) +
               "\nadmin: {address: 127.0.0.1:" + std::to_string(admin) + "}\nroutes:\n  - name: api\n"
               "    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"
               "    canary: {version: v2, endpoints: [" + canary.address() + "]}\n    canary_weight: 30\n"
               "    analysis:\n      min_requests: 20\n      guardrails:\n" + guardrails;
    };
    CanarydProcess process(config("        - {metric: success_rate, max_drop: 0}\n"
                                  "        - {metric: latency_p99, max_ratio: 1.25}\n"),
                           admin);
    LoadLoop load(port);
    wait_for_status(admin, [](const boost::json::value& v) {
        return route0(v).at("last_decision").is_object() && route0(v).at("last_decision").at("verdict").as_string() == "pass";
    });
    // Same number of guardrails: one bound edited, one switched to dry-run.
    process.write_config(config("        - {metric: success_rate, max_drop: 0, dry_run: true}\n"
                                "        - {metric: latency_p99, max_ratio: 1.5}\n"));
    process.signal(SIGHUP);
    for (int i = 0; i < 200 && process.log().find("analysis_reconfigured") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto log = process.log();
    const auto at = log.find("\"event\":\"analysis_reconfigured\"");
    REQUIRE(at != std::string::npos);
    const auto line = log.substr(at, log.find('\n', at) - at);
    CHECK(line.find("\"guardrails_started_over\":[\"latency_p99\"]") != std::string::npos);
    CHECK(line.find("\"guardrails_removed\":[]") != std::string::npos);
    // The canary now fails every request: the dry-run guardrail sees it, nothing acts.
    failing = true;
    const std::string dry_failure = "canaryd_guardrail_verdict{guardrail=\"success_rate\",route=\"api\",verdict=\"fail\"} 1";
    bool seen = false;
    for (int i = 0; i < 300 && !seen; ++i) {
        seen = Client(admin).get("/metrics").body().find(dry_failure) != std::string::npos;
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(seen);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const auto status = admin_status(admin);
    CHECK(route0(status).at("state").as_string() == "steady");
    CHECK(route0(status).at("canary_weight").to_number<double>() == 30);
    CHECK(process.log().find("\"dry_run\":true") != std::string::npos);
    CHECK(process.log().find("\"event\":\"rollback\"") == std::string::npos);
}

TEST_CASE("retry parity: a one-endpoint canary's connect failure is retried on the same endpoint") {
    // An upstream whose accept queue is full drops the first SYN (a transient connect
    // failure: a listener restarting, a full backlog). The test frees the queue while the
    // proxy waits, so only the retry can succeed.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 0) == 0);
    socklen_t length = sizeof address;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    const auto upstream_port = ntohs(address.sin_port);
    // Fill the accept queue (a backlog of 0 holds one connection). The proxy's first SYN is
    // then dropped, and the kernel would only send it again after a second — after the
    // 500 ms connect timeout — so without a retry the request fails.
    const int filler = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);

    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                       "]}\n    canary: {version: v2, endpoints: [127.0.0.1:" +
                                       std::to_string(upstream_port) + "]}\n    canary_weight: 0.01\n"
                                       "    overrides: [{header: x-canary, value: always, to: canary}]\n",
                                   "defaults: {timeouts: {connect: 500ms}}\n"));
    std::optional<http::response<http::string_body>> response;
    std::thread client([&] { response = Client(proxy.port()).get("/", {{"x-canary", "always"}}); });
    // While the first attempt waits for its SYN to be answered, drain the queue.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (;;) {
        pollfd ready{listener, POLLIN, 0};
        if (::poll(&ready, 1, 0) <= 0) break;
        const int queued = ::accept(listener, nullptr, nullptr);
        if (queued < 0) break;
        ::close(queued);
    }
    // The retry's connection arrives on a free queue: answer it.
    pollfd ready{listener, POLLIN, 0};
    REQUIRE(::poll(&ready, 1, 5000) == 1);
    const int connection = ::accept(listener, nullptr, nullptr);
    REQUIRE(connection >= 0);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
        const auto n = ::read(connection, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
    }
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ncanary";
    CHECK(::write(connection, answer.data(), answer.size()) == static_cast<ssize_t>(answer.size()));
    client.join();
    REQUIRE(response);
    CHECK(response->result_int() == 200);
    CHECK(response->body() == "canary");
    ::close(connection);
    ::close(filler);
    ::close(listener);
}
