// Drives the core analyzer with synthetic traffic in simulated time (seeded, no sockets)
// and prints how often it rolls back a healthy canary and how fast it catches a real
// regression (SPEC §6, issue "Embedded analyzer"). It reports figures; it asserts nothing.
//
//   bench/analyzer_sim [--quick]      (--quick: fewer runs, for a smoke check)
//
// Each simulated second draws Poisson request counts for both versions (10 % canary),
// Binomial failures, log-normal latencies into the same histograms the proxy fills, and a
// noisy CPU reading proportional to the request rate; then calls observe_second() and
// evaluate() exactly as the running proxy does once a second.
#include "analysis/analyzer.hpp"
#include "config/loader.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace canaryd;
using analysis::Verdict;

namespace {

struct VersionModel {
    double error_rate = 0.001;
    double latency_median_ms = 50;
    double latency_sigma = 0.5;
    double cpu_seconds_per_request = 0.002;
};

struct Scenario {
    double total_rps = 100;
    double canary_share = 0.1;
    VersionModel stable;
    VersionModel canary;
    int seconds = 1800;
};

// The guardrail sets the benchmark runs with.
config::Analysis analysis_from(const std::string& guardrails_yaml, std::uint64_t min_requests = 100) {
    const std::string yaml = "listeners: [{address: 127.0.0.1:0}]\nroutes:\n  - name: sim\n"
                             "    stable: {version: s, endpoints: []}\n    canary: {version: c, endpoints: []}\n"
                             "    canary_weight: 10\n    analysis:\n      min_requests: " + std::to_string(min_requests) +
                             "\n      confidence: 0.99\n      guardrails:\n" + guardrails_yaml;
    auto loaded = config::load_config(yaml);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", config::format_error("sim", e).c_str());
        std::exit(1);
    }
    return *loaded.config->routes[0].analysis;
}

const std::string kAllGuardrails =
    "        - {metric: success_rate, max_drop: 0}\n"
    "        - {metric: latency_p99, max_ratio: 1.25}\n"
    "        - {metric: cpu_per_request, max_ratio: 1.5}\n"
    "        - {metric: memory, max_bytes: 512MiB}\n";

class Simulator {
public:
    explicit Simulator(std::uint64_t seed) : rng_(seed) {}

    // One simulated second of one version.
    analysis::SecondStats second(double rps, const VersionModel& model, bool with_latency = true) {
        analysis::SecondStats s;
        const auto n = rps > 0 ? std::poisson_distribution<std::uint64_t>(rps)(rng_) : 0;
        s.requests = n;
        if (n == 0) return s;
        s.failures = std::binomial_distribution<std::uint64_t>(n, model.error_rate)(rng_);
        if (!with_latency) return s;
        std::lognormal_distribution<double> latency(std::log(model.latency_median_ms * 1000.0), model.latency_sigma);
        for (std::uint64_t i = 0; i < n; ++i) s.latency.add(static_cast<std::uint64_t>(latency(rng_)));
        return s;
    }

    // CPU cores a version uses for `requests` in one second, with 10 % sampling noise.
    double cpu(std::uint64_t requests, const VersionModel& model) {
        std::normal_distribution<double> noise(1.0, 0.1);
        return std::max(0.0, static_cast<double>(requests) * model.cpu_seconds_per_request * noise(rng_));
    }

    // Seconds until the first failing verdict, or -1 if none within the scenario.
    int run(const Scenario& sc, const config::Analysis& analysis, std::string* guardrail = nullptr) {
        analysis::RouteAnalyzer analyzer(analysis);
        for (int t = 1; t <= sc.seconds; ++t) {
            const auto stable = second(sc.total_rps * (1 - sc.canary_share), sc.stable);
            const auto canary = second(sc.total_rps * sc.canary_share, sc.canary);
            analyzer.observe_second(stable, canary);
            analysis::BackendSample stable_backend{cpu(stable.requests, sc.stable), 300e6, 2};
            analysis::BackendSample canary_backend{cpu(canary.requests, sc.canary), 300e6, 1};
            const auto e = analyzer.evaluate(t, stable_backend, canary_backend);
            if (e.verdict == Verdict::fail) {
                if (guardrail) *guardrail = e.first_failure()->guardrail;
                return t;
            }
        }
        return -1;
    }

private:
    std::mt19937_64 rng_;
};

struct Delays {
    std::vector<int> seconds;  // -1: not detected
    std::vector<std::string> guardrails;  // which guardrail failed, per run
    double median() const { return quantile(0.5); }
    double quantile(double q) const {
        std::vector<double> v;
        for (int s : seconds) v.push_back(s < 0 ? 1e9 : s);
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
    }
    int missed() const { return static_cast<int>(std::count(seconds.begin(), seconds.end(), -1)); }
};

// Runs `runs` independent rollouts split over two threads.
Delays simulate(const Scenario& sc, const config::Analysis& analysis, int runs, std::uint64_t seed) {
    Delays d;
    d.seconds.resize(static_cast<std::size_t>(runs));
    d.guardrails.resize(static_cast<std::size_t>(runs));
    auto work = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            Simulator sim(seed * 1'000'003 + static_cast<std::uint64_t>(i));
            d.seconds[static_cast<std::size_t>(i)] = sim.run(sc, analysis, &d.guardrails[static_cast<std::size_t>(i)]);
        }
    };
    std::thread other(work, runs / 2, runs);
    work(0, runs / 2);
    other.join();
    return d;
}

std::string seconds_text(double s) {
    if (s >= 1e9) return "never";
    char text[32];
    std::snprintf(text, sizeof text, "%.0f s", s);
    return text;
}

// The rule canaryd does not use: every second, roll back if the canary's error rate over
// the last 60 s exceeds the stable's by more than 0.5 points, once it has 100 requests.
int naive_rule_run(const Scenario& sc, std::uint64_t seed) {
    Simulator sim(seed);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> canary, stable;  // (requests, failures)
    for (int t = 1; t <= sc.seconds; ++t) {
        const auto s = sim.second(sc.total_rps * (1 - sc.canary_share), sc.stable, false);
        const auto c = sim.second(sc.total_rps * sc.canary_share, sc.canary, false);
        stable.emplace_back(s.requests, s.failures);
        canary.emplace_back(c.requests, c.failures);
        if (stable.size() > 60) stable.erase(stable.begin());
        if (canary.size() > 60) canary.erase(canary.begin());
        std::uint64_t cn = 0, cf = 0, sn = 0, sf = 0;
        for (auto [n, f] : canary) cn += n, cf += f;
        for (auto [n, f] : stable) sn += n, sf += f;
        if (cn < 100 || sn == 0) continue;
        if (static_cast<double>(cf) / static_cast<double>(cn) - static_cast<double>(sf) / static_cast<double>(sn) > 0.005)
            return t;
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int aa_runs = quick ? 60 : 1000;
    const int delay_runs = quick ? 40 : 300;
    const auto started = std::chrono::steady_clock::now();

    std::printf("canaryd analyzer simulation (seeded; 10 %% canary; confidence 0.99)\n\n");

    // 1. A/A: identical versions for a 30-minute rollout, all guardrails on.
    std::printf("A/A false rollbacks per 30-minute rollout, all guardrails (success_rate max_drop 0,\n"
                "latency_p99 max_ratio 1.25, cpu_per_request max_ratio 1.5, memory max_bytes 512MiB); target <= 1 %%\n");
    std::printf("  %-12s %-10s %-14s %s\n", "total req/s", "rollouts", "false rollbacks", "naive rule (60 s window, 0.5 pt)");
    const auto all = analysis_from(kAllGuardrails);
    for (double rps : {1.0, 10.0, 100.0, 1000.0}) {
        Scenario sc;
        sc.total_rps = rps;
        const int runs = rps >= 1000 && !quick ? 1000 : aa_runs;
        const auto d = simulate(sc, all, runs, 11);
        const int false_rollbacks = runs - d.missed();
        int naive = 0;
        for (int i = 0; i < runs; ++i) naive += naive_rule_run(sc, 77 + static_cast<std::uint64_t>(i)) >= 0;
        std::string by;
        for (const auto& g : d.guardrails)
            if (!g.empty()) by += (by.empty() ? "" : ", ") + g;
        std::printf("  %-12.0f %-10d %6.2f %%        %6.2f %%      %s\n", rps, runs, 100.0 * false_rollbacks / runs,
                    100.0 * naive / runs, by.empty() ? "" : ("(" + by + ")").c_str());
    }

    // 2. Error regressions.
    std::printf("\nError regression, detection delay (median / p95 over %d runs; runs that never\n"
                "detect within 10 min count as 'never')\n", delay_runs);
    std::printf("  %-38s %-16s %-10s %-10s %s\n", "case", "canary req/s", "median", "p95", "target");
    struct ErrorCase {
        const char* name;
        double canary_error;
        double canary_rps;
        std::string guardrails;
        const char* target;
    };
    const std::string no_worse = "        - {metric: success_rate, max_drop: 0}\n";
    const std::string margin = "        - {metric: success_rate, max_drop: 0.5}\n";
    const std::vector<ErrorCase> error_cases{
        {"0.1% -> 2%, max_drop 0", 0.02, 4, no_worse, "median <= 60 s"},
        {"0.1% -> 2%, max_drop 0", 0.02, 100, no_worse, "median <= 5 s"},
        {"0.1% -> 2%, max_drop 0, all guardrails", 0.02, 4, kAllGuardrails, ""},
        {"0.1% -> 2%, max_drop 0, all guardrails", 0.02, 100, kAllGuardrails, ""},
        {"0.1% -> 0.5%, max_drop 0", 0.005, 100, no_worse, ""},
        {"0.1% -> 1%, max_drop 0", 0.01, 100, no_worse, ""},
        {"0.1% -> 2%, max_drop 0.5 (margin)", 0.02, 100, margin, ""},
        {"0.1% -> 2%, max_drop 0.5 (margin)", 0.02, 4, margin, ""},
    };
    for (const auto& c : error_cases) {
        Scenario sc;
        sc.total_rps = c.canary_rps / sc.canary_share;
        sc.canary.error_rate = c.canary_error;
        sc.seconds = 600;
        const auto d = simulate(sc, analysis_from(c.guardrails), delay_runs, 23);
        std::printf("  %-38s %-16.0f %-10s %-10s %s\n", c.name, c.canary_rps, seconds_text(d.median()).c_str(),
                    seconds_text(d.quantile(0.95)).c_str(), c.target);
    }

    // 3. Latency regressions.
    std::printf("\nLatency regression, canary latencies x1.5 (log-normal), detection delay\n");
    std::printf("  %-38s %-16s %-10s %-10s %s\n", "case", "canary req/s", "median", "p95", "target");
    const std::string p99 = "        - {metric: latency_p99, max_ratio: 1.25}\n";
    const std::string p50 = "        - {metric: latency_p50, max_ratio: 1.25}\n";
    for (double sigma : {0.5, 1.0}) {
        for (double canary_rps : {4.0, 100.0}) {
            for (const auto* guardrail : {&p99, &p50}) {
                Scenario sc;
                sc.total_rps = canary_rps / sc.canary_share;
                sc.stable.latency_sigma = sc.canary.latency_sigma = sigma;
                sc.canary.latency_median_ms = sc.stable.latency_median_ms * 1.5;
                sc.seconds = 600;
                const auto d = simulate(sc, analysis_from(*guardrail), delay_runs, 31);
                char name[64];
                std::snprintf(name, sizeof name, "sigma %.1f, %s max_ratio 1.25", sigma,
                              guardrail == &p99 ? "latency_p99" : "latency_p50");
                std::printf("  %-38s %-16.0f %-10s %-10s %s\n", name, canary_rps, seconds_text(d.median()).c_str(),
                            seconds_text(d.quantile(0.95)).c_str(),
                            canary_rps == 100 && guardrail == &p99 ? "<= 30 s" : "");
            }
        }
    }

    // 4. Decision -> weight 0 seen by a router thread.
    std::atomic<std::uint32_t> weight{1000};
    std::atomic<bool> seen{false};
    std::atomic<std::int64_t> seen_at{0};
    std::thread router([&] {
        while (weight.load(std::memory_order_acquire) != 0) {
        }
        seen_at = std::chrono::steady_clock::now().time_since_epoch().count();
        seen = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto decided = std::chrono::steady_clock::now().time_since_epoch().count();
    weight.store(0, std::memory_order_release);
    router.join();
    std::printf("\nDecision -> weight 0 visible to a router thread: %.1f us (target <= 1 ms)\n",
                static_cast<double>(seen_at.load() - decided) / 1000.0);
    std::printf("(simulation took %.0f s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return 0;
}
