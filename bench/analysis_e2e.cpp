// The analyzer end to end: a real canaryd process in front of two in-process backends whose
// failure rate and latency the bench controls, driven by paced keep-alive clients at about
// 100 requests/s (10 % to the canary, so ~10 canary requests/s), judged from /status the way
// an operator sees it. It reports figures; it asserts nothing (tests assert behaviour).
//
//   build/bench/analysis_e2e [--canaryd build/canaryd] [--runs 9] [--parallel 3]
//
// Scenarios (issue #10's end-to-end targets):
//   regression  both versions fail 0.1 %; after 10 healthy seconds the canary fails 5 %;
//               `success_rate max_drop 0.5` must roll back, median ≤ 20 s after the onset.
//   slowdown    after 10 s both versions get 3x slower for 20 s, then recover; 60 s per run;
//               no guardrail (success, p50, p99) may roll the healthy canary back.
#include "io/tools/embedded_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kRequestsPerSecond = 100;
constexpr int kClients = 8;
constexpr double kBaseFailurePercent = 0.1;
constexpr double kMedianLatencyMs = 8;   // lognormal, σ 0.5: p99 ≈ 26 ms
constexpr double kLatencySigma = 0.5;

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// One version's backend: failure rate and a latency multiplier the scenario changes.
struct Knobs {
    std::atomic<double> failure_percent{kBaseFailurePercent};
    std::atomic<double> latency_factor{1.0};
};

canaryd::io::EmbeddedBackend::Handler failing_page(Knobs& knobs, std::uint64_t seed) {
    auto rng = std::make_shared<std::mt19937_64>(seed);
    auto guard = std::make_shared<std::mutex>();
    return [&knobs, rng, guard](const http::request<http::string_body>&) {
        http::response<http::string_body> response{http::status::ok, 11};
        std::lock_guard lock(*guard);
        if (std::uniform_real_distribution<double>(0, 100)(*rng) < knobs.failure_percent.load())
            response.result(http::status::internal_server_error);
        response.body() = "ok\n";
        return response;
    };
}

canaryd::io::EmbeddedBackend::Delay lognormal_delay(Knobs& knobs, std::uint64_t seed) {
    auto rng = std::make_shared<std::mt19937_64>(seed);
    auto guard = std::make_shared<std::mutex>();
    return [&knobs, rng, guard] {
        std::lock_guard lock(*guard);
        const double ms = kMedianLatencyMs * knobs.latency_factor.load() *
                          std::exp(kLatencySigma * std::normal_distribution<double>()(*rng));
        return std::chrono::milliseconds(std::max<long>(1, std::lround(ms)));
    };
}

std::optional<std::string> http_get(std::uint16_t port, const std::string& target) {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    boost::system::error_code ec;
    stream.expires_after(2s);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return std::nullopt;
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(stream, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    if (ec || response.result_int() != 200) return std::nullopt;
    return response.body();
}

// Paced keep-alive clients: each sends at its share of the rate; a slow answer delays only
// that client's next request (the others keep the pace).
void drive_traffic(std::uint16_t port, const std::atomic<bool>& running, int client, std::atomic<std::uint64_t>& sent) {
    const auto gap = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(kClients / kRequestsPerSecond));
    auto next = clock_type::now() + gap * client / kClients;
    while (running) {
        boost::asio::io_context ioc;
        beast::tcp_stream stream(ioc);
        boost::system::error_code ec;
        stream.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        beast::flat_buffer buffer;
        while (!ec && running) {
            std::this_thread::sleep_until(next);
            next += gap;
            http::request<http::empty_body> request{http::verb::get, "/", 11};
            request.set(http::field::host, "bench");
            stream.expires_after(5s);
            http::write(stream, request, ec);
            http::response<http::string_body> response;
            if (!ec) http::read(stream, buffer, response, ec);
            ++sent;
        }
        std::this_thread::sleep_for(50ms);
    }
}

struct RunResult {
    bool started = false;
    std::optional<double> rolled_back_after_s;  // seconds after the scenario's onset
    std::string guardrail;                      // the guardrail named in the rollback reason
    std::uint64_t requests = 0;
    std::string failure;                        // why the run is void
};

enum class Scenario { regression, slowdown };

RunResult run_once(const std::string& canaryd, Scenario scenario, int run) {
    RunResult result;
    Knobs stable_knobs, canary_knobs;
    boost::asio::io_context backends(1);
    canaryd::io::EmbeddedBackend stable(backends, 0, failing_page(stable_knobs, 1000 + run),
                                        lognormal_delay(stable_knobs, 2000 + run));
    canaryd::io::EmbeddedBackend canary(backends, 0, failing_page(canary_knobs, 3000 + run),
                                        lognormal_delay(canary_knobs, 4000 + run));
    stable.start();
    canary.start();
    auto work = boost::asio::make_work_guard(backends);
    std::thread backend_thread([&] { backends.run(); });

    const std::uint16_t listen_port = free_port(), admin_port = free_port();
    const std::string config_path =
        "/tmp/canaryd-analysis-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(run) + ".yaml";
    // Defaults everywhere except what the scenario needs: the ports, the split, the guardrails.
    std::ofstream(config_path) << "threads: 1\nlisteners: [{address: 127.0.0.1:" << listen_port << "}]\n"
                               << "admin: {address: 127.0.0.1:" << admin_port << "}\n"
                               << "routes:\n  - name: api\n"
                               << "    stable: {version: v1, endpoints: [127.0.0.1:" << stable.port() << "]}\n"
                               << "    canary: {version: v2, endpoints: [127.0.0.1:" << canary.port() << "]}\n"
                               << "    canary_weight: 10\n"
                               << "    analysis:\n      guardrails:\n"
                               << "        - {metric: success_rate, max_drop: 0.5}\n"
                               << "        - {metric: latency_p50, max_ratio: 1.25}\n"
                               << "        - {metric: latency_p99, max_ratio: 1.25}\n";
    const std::string log_path = config_path + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args{const_cast<char*>(canaryd.c_str()), const_cast<char*>("--config"),
                            const_cast<char*>(config_path.c_str()), nullptr};
    pid_t pid = 0;
    const bool spawned = posix_spawn(&pid, canaryd.c_str(), &actions, nullptr, args.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&actions);

    const auto up_deadline = clock_type::now() + 10s;
    while (spawned && clock_type::now() < up_deadline && !http_get(admin_port, "/healthz"))
        std::this_thread::sleep_for(50ms);
    result.started = spawned && http_get(admin_port, "/healthz").has_value();
    if (!result.started) {
        std::ifstream log(log_path);
        std::string line, last;
        while (std::getline(log, line)) last = line;
        result.failure = spawned ? "not up in 10 s: " + last : "cannot spawn " + canaryd;
    }

    if (result.started) {
        std::atomic<bool> running{true};
        std::atomic<std::uint64_t> sent{0};
        std::vector<std::thread> clients;
        for (int c = 0; c < kClients; ++c)
            clients.emplace_back([&, c] { drive_traffic(listen_port, running, c, sent); });

        const auto start = clock_type::now();
        const auto onset = start + 10s;
        const auto slowdown_end = onset + 20s;
        const auto end = scenario == Scenario::regression ? onset + 60s : start + 60s;
        bool onset_applied = false, recovered = false;
        while (clock_type::now() < end) {
            const auto now = clock_type::now();
            if (!onset_applied && now >= onset) {
                onset_applied = true;
                if (scenario == Scenario::regression) {
                    canary_knobs.failure_percent = 5.0;
                } else {
                    stable_knobs.latency_factor = 3.0;
                    canary_knobs.latency_factor = 3.0;
                }
            }
            if (scenario == Scenario::slowdown && !recovered && now >= slowdown_end) {
                recovered = true;
                stable_knobs.latency_factor = 1.0;
                canary_knobs.latency_factor = 1.0;
            }
            if (auto body = http_get(admin_port, "/status")) {
                boost::system::error_code ec;
                const auto status = boost::json::parse(*body, ec);
                if (!ec && status.is_object()) {
                    const auto& route = status.as_object().at("routes").as_array().at(0).as_object();
                    if (route.at("state").as_string() == "rolled_back") {
                        result.rolled_back_after_s = std::chrono::duration<double>(now - onset).count();
                        if (const auto* decision = route.if_contains("last_decision"); decision && decision->is_object())
                            if (const auto* g = decision->as_object().if_contains("guardrail"); g && g->is_string())
                                result.guardrail = std::string(g->as_string());
                        break;
                    }
                }
            }
            std::this_thread::sleep_for(100ms);
        }
        running = false;
        for (auto& c : clients) c.join();
        result.requests = sent.load();
    }
    if (spawned) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
    }
    ::unlink(config_path.c_str());
    ::unlink(log_path.c_str());
    backends.stop();
    backend_thread.join();
    return result;
}

std::vector<RunResult> run_many(const std::string& canaryd, Scenario scenario, int runs, int parallel) {
    std::vector<RunResult> results(runs);
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < parallel; ++t)
        pool.emplace_back([&] {
            for (int i = next++; i < runs; i = next++) results[i] = run_once(canaryd, scenario, i);
        });
    for (auto& t : pool) t.join();
    return results;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as runs finish
    std::string canaryd = "build/canaryd";
    int runs = 9, parallel = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--canaryd")) canaryd = argv[i + 1];
        else if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--parallel")) parallel = std::max(1, std::atoi(argv[i + 1]));
    }
    std::printf("canaryd analysis end to end: %s, %.0f req/s, 10 %% canary, %d runs (%d at a time)\n",
                canaryd.c_str(), kRequestsPerSecond, runs, parallel);
    std::printf("guardrails: success_rate max_drop 0.5, latency_p50 max_ratio 1.25, latency_p99 max_ratio 1.25;"
                " baseline 0.1 %% failures, latency lognormal median %.0f ms sigma %.1f\n\n",
                kMedianLatencyMs, kLatencySigma);

    const auto regression = run_many(canaryd, Scenario::regression, runs, parallel);
    std::vector<double> delays;
    int not_started = 0;
    std::printf("canary 0.1 -> 5 %% failures after 10 healthy s (target: median <= 20 s)\n");
    for (std::size_t i = 0; i < regression.size(); ++i) {
        const auto& r = regression[i];
        if (!r.started) {
            ++not_started;
            std::printf("  run %zu: void (%s)\n", i + 1, r.failure.c_str());
            continue;
        }
        if (r.rolled_back_after_s) delays.push_back(*r.rolled_back_after_s);
        std::printf("  run %zu: %s  (%llu requests)  %s\n", i + 1,
                    r.rolled_back_after_s ? (std::to_string(*r.rolled_back_after_s).substr(0, 4) + " s").c_str()
                                          : "not rolled back in 60 s",
                    static_cast<unsigned long long>(r.requests), r.guardrail.c_str());
    }
    if (!delays.empty())
        std::printf("  median %.1f s, min %.1f, max %.1f, rolled back %zu of %zu\n\n", median(delays),
                    *std::min_element(delays.begin(), delays.end()), *std::max_element(delays.begin(), delays.end()),
                    delays.size(), regression.size() - not_started);

    const auto slowdown = run_many(canaryd, Scenario::slowdown, runs, parallel);
    int false_rollbacks = 0, valid = 0;
    std::printf("both versions 3x slower for 20 s, healthy canary, 60 s per run (target: never rolled back)\n");
    for (std::size_t i = 0; i < slowdown.size(); ++i) {
        const auto& r = slowdown[i];
        if (!r.started) {
            ++not_started;
            std::printf("  run %zu: void (%s)\n", i + 1, r.failure.c_str());
            continue;
        }
        ++valid;
        if (r.rolled_back_after_s) ++false_rollbacks;
        std::printf("  run %zu: %s  (%llu requests)\n", i + 1,
                    r.rolled_back_after_s ? ("ROLLED BACK " + r.guardrail).c_str() : "not rolled back",
                    static_cast<unsigned long long>(r.requests));
    }
    std::printf("  false rollbacks: %d of %d\n", false_rollbacks, valid);
    if (not_started) std::printf("\n%d runs void: canaryd did not start\n", not_started);
    return 0;
}
