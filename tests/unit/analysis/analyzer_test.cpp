// Every verdict path of the analyzer, with pinned time and seeded traffic.
#include "core/analysis/analyzer.hpp"
#include "core/config/loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace canaryd;
using analysis::Verdict;

namespace {

config::Analysis analysis_with(const std::string& guardrails, std::uint64_t min_requests = 100) {
    const std::string yaml = "listeners: [{address: 127.0.0.1:0}]\nroutes:\n  - name: t\n"
                             "    stable: {version: s, endpoints: []}\n    canary: {version: c, endpoints: []}\n"
                             "    analysis:\n      min_requests: " + std::to_string(min_requests) +
                             "\n      guardrails:\n" + guardrails;
    auto loaded = config::load_config(yaml);
    for (const auto& e : loaded.errors) INFO(config::format_error("t", e));
    REQUIRE(loaded.ok());
    return *loaded.config->routes[0].analysis;
}

struct Traffic {
    std::mt19937_64 rng{20261126};
    analysis::SecondStats second(double rps, double error_rate, double latency_ms, double sigma = 0.3) {
        analysis::SecondStats s;
        s.requests = std::poisson_distribution<std::uint64_t>(rps)(rng);
        s.failures = s.requests ? std::binomial_distribution<std::uint64_t>(s.requests, error_rate)(rng) : 0;
        std::lognormal_distribution<double> latency(std::log(latency_ms * 1000), sigma);
        for (std::uint64_t i = 0; i < s.requests; ++i) s.latency.add(static_cast<std::uint64_t>(latency(rng)));
        return s;
    }
};

const analysis::BackendSample kNoBackend{};

// Runs `seconds` of traffic and returns the last evaluation, stopping at the first fail.
analysis::Evaluation run(analysis::RouteAnalyzer& analyzer, Traffic& traffic, int seconds, double stable_error,
                         double canary_error, double stable_ms = 50, double canary_ms = 50, double rps = 200,
                         int* failed_at = nullptr) {
    analysis::Evaluation e;
    for (int t = 1; t <= seconds; ++t) {
        analyzer.observe_second(traffic.second(rps * 0.9, stable_error, stable_ms),
                                traffic.second(rps * 0.1, canary_error, canary_ms));
        e = analyzer.evaluate(t, kNoBackend, kNoBackend);
        if (e.verdict == Verdict::fail) {
            if (failed_at) *failed_at = t;
            return e;
        }
    }
    return e;
}

}  // namespace

TEST_CASE("hold before min_requests per version, never pass or fail") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0}\n", 100));
    Traffic traffic;
    // 20 canary requests/s: 100 are reached after about 5 s; a dead canary cannot fail earlier.
    for (int t = 1; t <= 3; ++t) {
        analyzer.observe_second(traffic.second(180, 0.001, 50), traffic.second(20, 1.0, 50));
        auto e = analyzer.evaluate(t, kNoBackend, kNoBackend);
        CHECK(e.verdict == Verdict::hold);
        CHECK(e.results[0].detail.find("min_requests") != std::string::npos);
    }
}

TEST_CASE("success_rate: a healthy canary passes, a worse one fails with values and statistic") {
    const auto analysis = analysis_with("        - {metric: success_rate, max_drop: 0}\n");
    {
        analysis::RouteAnalyzer analyzer(analysis);
        Traffic traffic;
        auto e = run(analyzer, traffic, 300, 0.01, 0.01);
        CHECK(e.verdict == Verdict::pass);
    }
    analysis::RouteAnalyzer analyzer(analysis);
    Traffic traffic;
    int failed_at = 0;
    auto e = run(analyzer, traffic, 300, 0.001, 0.05, 50, 50, 200, &failed_at);
    REQUIRE(e.verdict == Verdict::fail);
    CHECK(failed_at < 60);
    const auto* f = e.first_failure();
    REQUIRE(f);
    CHECK(f->guardrail == "success_rate");
    CHECK(f->canary_value < f->stable_value);
    CHECK(f->canary_samples >= 100);
    CHECK(f->stable_samples >= 100);
    CHECK(f->statistic >= f->threshold);
    CHECK(f->threshold == doctest::Approx(std::log(100.0)));  // α = 0.01, one statistical guardrail
}

TEST_CASE("success_rate with a margin, and an absolute minimum") {
    {
        analysis::RouteAnalyzer margin(analysis_with("        - {metric: success_rate, max_drop: 1}\n"));
        Traffic traffic;
        CHECK(run(margin, traffic, 200, 0.001, 0.005).verdict == Verdict::pass);  // 0.4 points: within the margin
    }
    {
        analysis::RouteAnalyzer margin(analysis_with("        - {metric: success_rate, max_drop: 1}\n"));
        Traffic traffic;
        CHECK(run(margin, traffic, 300, 0.001, 0.10).verdict == Verdict::fail);  // 9.9 points
    }
    {
        analysis::RouteAnalyzer minimum(analysis_with("        - {metric: success_rate, min: 99}\n"));
        Traffic traffic;
        CHECK(run(minimum, traffic, 200, 0.0, 0.002).verdict == Verdict::pass);
    }
    analysis::RouteAnalyzer minimum(analysis_with("        - {metric: success_rate, min: 99}\n"));
    Traffic traffic;
    auto e = run(minimum, traffic, 300, 0.0, 0.05);
    CHECK(e.verdict == Verdict::fail);
    CHECK(e.first_failure()->guardrail == "success_rate");
}

TEST_CASE("latency: a 2x slower canary fails p50 and p99 ratio guardrails, an equal one passes") {
    for (const char* g : {"        - {metric: latency_p50, max_ratio: 1.25}\n", "        - {metric: latency_p99, max_ratio: 1.25}\n"}) {
        INFO(g);
        {
            analysis::RouteAnalyzer analyzer(analysis_with(g));
            Traffic traffic;
            CHECK(run(analyzer, traffic, 120, 0, 0, 50, 50, 1000).verdict == Verdict::pass);
        }
        analysis::RouteAnalyzer analyzer(analysis_with(g));
        Traffic traffic;
        auto e = run(analyzer, traffic, 300, 0, 0, 50, 100, 1000);
        REQUIRE(e.verdict == Verdict::fail);
        CHECK(e.first_failure()->canary_value > 1.5 * e.first_failure()->stable_value);
    }
}

TEST_CASE("latency: an absolute bound") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: latency_p90, max_ms: 80}\n"));
    Traffic traffic;
    auto e = run(analyzer, traffic, 300, 0, 0, 50, 120, 500);
    REQUIRE(e.verdict == Verdict::fail);
    CHECK(e.first_failure()->guardrail == "latency_p90");
}

TEST_CASE("cpu_per_request: missing samples hold, net of idle CPU, a bound must persist before it fails") {
    const auto analysis = analysis_with("        - {metric: cpu_per_request, max_ratio: 1.5, for: 10s}\n", 10);
    // Backends: 0.05 idle cores per endpoint, the stable on two endpoints, the canary on one,
    // plus `cost` CPU-seconds per request.
    auto cores = [](double requests, int endpoints, double cost) { return 0.05 * endpoints + requests * cost; };
    auto drive = [&](double canary_cost, int seconds, int* failed_at, int* first_fit) {
        analysis::RouteAnalyzer analyzer(analysis);
        Traffic traffic;
        for (int t = 1; t <= seconds; ++t) {
            const auto stable = traffic.second(90, 0, 50);
            const auto canary = traffic.second(10, 0, 50);
            analyzer.observe_second(stable, canary);
            if (t <= 5) {
                auto e = analyzer.evaluate(t, {}, {});
                CHECK(e.verdict == Verdict::hold);  // no CPU sample: an internal fault never fails
                CHECK(e.results[0].detail.find("missing") != std::string::npos);
                continue;
            }
            auto e = analyzer.evaluate(t, {cores(static_cast<double>(stable.requests), 2, 0.002), 1e8, 2},
                                       {cores(static_cast<double>(canary.requests), 1, canary_cost), 1e8, 1});
            if (e.results[0].detail.find("collecting") == std::string::npos && *first_fit == 0) *first_fit = t;
            if (e.verdict == Verdict::fail) {
                *failed_at = t;
                return;
            }
        }
    };
    // A/A: the same CPU per request. Cores per request would say 2.2x (the canary carries
    // its idle CPU over a tenth of the traffic); net of idle it passes.
    int failed_at = 0, first_fit = 0;
    drive(0.002, 200, &failed_at, &first_fit);
    CHECK(failed_at == 0);
    CHECK(first_fit > 5);
    // The canary costs 3x per request: a breach from the first fit, failing 10 s later.
    failed_at = first_fit = 0;
    drive(0.006, 200, &failed_at, &first_fit);
    REQUIRE(first_fit > 0);
    CHECK(failed_at >= first_fit + 10);
    CHECK(failed_at <= first_fit + 12);
}

TEST_CASE("memory: absolute bound, and ratio per endpoint, a missing sample resets persistence") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: memory, max_bytes: 100MiB, for: 5s}\n", 1));
    Traffic traffic;
    const analysis::BackendSample stable{0.1, 50e6, 1};
    const analysis::BackendSample big{0.1, 200e6, 1};
    for (int t = 1; t <= 4; ++t) {
        analyzer.observe_second(traffic.second(90, 0, 10), traffic.second(10, 0, 10));
        CHECK(analyzer.evaluate(t, stable, big).verdict == Verdict::pass);  // breached, not for 5 s yet
    }
    analyzer.observe_second(traffic.second(90, 0, 10), traffic.second(10, 0, 10));
    CHECK(analyzer.evaluate(5, stable, analysis::BackendSample{}).verdict == Verdict::hold);  // missing
    for (int t = 6; t <= 10; ++t) {
        analyzer.observe_second(traffic.second(90, 0, 10), traffic.second(10, 0, 10));
        CHECK(analyzer.evaluate(t, stable, big).verdict == Verdict::pass);  // the streak restarted at 6
    }
    analyzer.observe_second(traffic.second(90, 0, 10), traffic.second(10, 0, 10));
    CHECK(analyzer.evaluate(11, stable, big).verdict == Verdict::fail);

    analysis::RouteAnalyzer ratio(analysis_with("        - {metric: memory, max_ratio: 1.5, for: 0s}\n", 1));
    ratio.observe_second(traffic.second(90, 0, 10), traffic.second(10, 0, 10));
    // Stable: 300 MB over 3 endpoints = 100 MB each; canary 140 MB on one: ratio 1.4.
    CHECK(ratio.evaluate(1, {0.1, 300e6, 3}, {0.1, 140e6, 1}).verdict == Verdict::pass);
    CHECK(ratio.evaluate(2, {0.1, 300e6, 3}, {0.1, 160e6, 1}).verdict == Verdict::fail);
}

TEST_CASE("the family: fail if any fails, else hold if any holds, else pass, reset forgets evidence") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0}\n"
                                                   "        - {metric: memory, max_bytes: 1GiB}\n"));
    Traffic traffic;
    auto e = run(analyzer, traffic, 30, 0.001, 0.001);
    CHECK(e.verdict == Verdict::hold);  // memory missing
    CHECK(e.results[0].verdict == Verdict::pass);
    CHECK(e.results[1].verdict == Verdict::hold);
    // Two statistical-free guardrails do not split α: success_rate keeps all of it.
    CHECK(e.results[0].threshold == doctest::Approx(std::log(100.0)));
    auto bad = run(analyzer, traffic, 300, 0.001, 0.2);
    CHECK(bad.verdict == Verdict::fail);
    analyzer.reset();
    CHECK(analyzer.canary_requests() == 0);
    analyzer.observe_second(traffic.second(180, 0.001, 50), traffic.second(20, 0.001, 50));
    CHECK(analyzer.evaluate(1, kNoBackend, kNoBackend).verdict == Verdict::hold);
}

TEST_CASE("A/A: identical versions are not rolled back over 30 simulated minutes (20 seeds)") {
    const auto analysis = analysis_with("        - {metric: success_rate, max_drop: 0}\n"
                                        "        - {metric: latency_p99, max_ratio: 1.25}\n");
    int false_rollbacks = 0;
    for (int seed = 0; seed < 20; ++seed) {
        analysis::RouteAnalyzer analyzer(analysis);
        Traffic traffic;
        traffic.rng.seed(1000 + static_cast<std::uint64_t>(seed));
        false_rollbacks += run(analyzer, traffic, 1800, 0.002, 0.002, 40, 40, 100).verdict == Verdict::fail;
    }
    // Each run has at most a 1 % chance (Ville); 20 runs failing more than twice would be
    // a one-in-a-thousand event for a correct analyzer.
    CHECK(false_rollbacks <= 2);
}

namespace {

analysis::SecondStats counts(std::uint64_t requests, std::uint64_t failures) {
    analysis::SecondStats s;
    s.requests = requests;
    s.failures = failures;
    for (std::uint64_t i = 0; i < requests; ++i) s.latency.add(50'000);
    return s;
}

}  // namespace

TEST_CASE("hold: no new request since the last evaluation, relative guardrails without stable traffic") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0}\n"
                                                   "        - {metric: success_rate, min: 90}\n", 10));
    for (int t = 1; t <= 5; ++t) analyzer.observe_second(counts(90, 0), counts(10, 0));
    CHECK(analyzer.evaluate(5, kNoBackend, kNoBackend).verdict == Verdict::pass);
    // Nothing new: a step must not advance on zero evidence.
    auto idle = analyzer.evaluate(6, kNoBackend, kNoBackend);
    CHECK(idle.verdict == Verdict::hold);
    CHECK(idle.results[0].detail.find("no new request") != std::string::npos);
    // Only the canary has traffic, and it fails every request: the relative guardrail
    // cannot compare and holds; the absolute one still sees the canary and fails.
    analysis::Evaluation e;
    for (int t = 7; t <= 30; ++t) {
        analyzer.observe_second(counts(0, 0), counts(10, 10));
        e = analyzer.evaluate(t, kNoBackend, kNoBackend);
        CHECK(e.results[0].verdict == Verdict::hold);
        if (e.results[1].verdict == Verdict::fail) break;
    }
    CHECK(e.results[0].verdict == Verdict::hold);
    CHECK(e.results[0].detail.find("stable version had no traffic") != std::string::npos);
    CHECK(e.results[1].verdict == Verdict::fail);
    CHECK(std::isfinite(e.results[1].statistic));
}

TEST_CASE("success_rate: a canary failing 100 % is rolled back, with and without a margin, no NaN") {
    for (const char* g : {"        - {metric: success_rate, max_drop: 0}\n", "        - {metric: success_rate, max_drop: 0.5}\n"}) {
        INFO(g);
        analysis::RouteAnalyzer analyzer(analysis_with(g, 10));
        Traffic traffic;
        int failed_at = 0;
        auto e = run(analyzer, traffic, 30, 0.001, 1.0, 50, 50, 100, &failed_at);
        REQUIRE(e.verdict == Verdict::fail);
        CHECK(failed_at <= 5);  // about log(1/α) / log(1/π) seconds at a 10 % split
        CHECK(std::isfinite(e.first_failure()->statistic));
        CHECK(e.first_failure()->canary_value == doctest::Approx(0.0));
    }
}

TEST_CASE("success_rate margin at the boundary: at stable + margin passes, beyond it fails") {
    const auto analysis = analysis_with("        - {metric: success_rate, max_drop: 1}\n");
    int false_rollbacks = 0;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        analysis::RouteAnalyzer analyzer(analysis);
        Traffic traffic;
        traffic.rng.seed(500 + seed);
        // Exactly one point worse: the null's boundary.
        false_rollbacks += run(analyzer, traffic, 600, 0.01, 0.02, 50, 50, 1000).verdict == Verdict::fail;
    }
    CHECK(false_rollbacks <= 2);
    analysis::RouteAnalyzer analyzer(analysis);
    Traffic traffic;
    CHECK(run(analyzer, traffic, 600, 0.01, 0.05, 50, 50, 1000).verdict == Verdict::fail);  // 4 points worse
}

TEST_CASE("clumped failures and a shared slowdown do not roll back a healthy canary") {
    const auto analysis = analysis_with("        - {metric: success_rate, max_drop: 0}\n"
                                        "        - {metric: latency_p99, max_ratio: 1.25}\n");
    int false_rollbacks = 0;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        analysis::RouteAnalyzer analyzer(analysis);
        std::mt19937_64 rng(900 + seed);
        for (int t = 1; t <= 600; ++t) {
            // One reset fails ten in-flight requests of whichever version it hits.
            auto second = [&](double rps) {
                analysis::SecondStats s;
                s.requests = std::poisson_distribution<std::uint64_t>(rps)(rng);
                const auto resets = std::poisson_distribution<std::uint64_t>(rps * 0.002 / 10)(rng);
                s.failures = std::min<std::uint64_t>(s.requests, resets * 10);
                // Both versions 3x slower from 200 to 230 s.
                const double scale = t >= 200 && t < 230 ? 3.0 : 1.0;
                std::lognormal_distribution<double> latency(std::log(50'000 * scale), 0.5);
                for (std::uint64_t i = 0; i < s.requests; ++i) s.latency.add(static_cast<std::uint64_t>(latency(rng)));
                return s;
            };
            analyzer.observe_second(second(900), second(100));
            if (analyzer.evaluate(t, kNoBackend, kNoBackend).verdict == Verdict::fail) {
                ++false_rollbacks;
                break;
            }
        }
    }
    CHECK(false_rollbacks <= 2);
}

TEST_CASE("dry_run: evaluated and reported, never acting") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0, dry_run: true}\n"
                                                   "        - {metric: latency_p50, max_ratio: 2}\n"));
    Traffic traffic;
    analysis::Evaluation e;
    for (int t = 1; t <= 120; ++t) {
        analyzer.observe_second(traffic.second(900, 0.001, 50), traffic.second(100, 0.2, 50));
        e = analyzer.evaluate(t, kNoBackend, kNoBackend);
    }
    CHECK(e.results[0].verdict == Verdict::fail);
    CHECK(e.results[0].dry_run);
    CHECK(e.first_failure() == nullptr);
    CHECK(e.verdict == Verdict::pass);
}

TEST_CASE("reconfigure: edited guardrails start over, unchanged ones keep their evidence") {
    const auto before = analysis_with("        - {metric: success_rate, max_drop: 0}\n"
                                      "        - {metric: latency_p99, max_ratio: 1.25}\n"
                                      "        - {metric: memory, max_bytes: 1GiB}\n");
    analysis::RouteAnalyzer analyzer(before);
    Traffic traffic;
    for (int t = 1; t <= 60; ++t)
        analyzer.observe_second(traffic.second(900, 0.001, 50), traffic.second(100, 0.01, 50));
    const auto evidence = analyzer.evaluate(60, kNoBackend, kNoBackend).results[0].statistic;
    CHECK(evidence > 0);  // the canary fails 10x more: evidence is building
    // Same count of guardrails, one bound edited, one guardrail switched to dry-run.
    auto after = analysis_with("        - {metric: success_rate, max_drop: 0, dry_run: true}\n"
                               "        - {metric: latency_p99, max_ratio: 1.5}\n"
                               "        - {metric: memory, max_bytes: 1GiB}\n");
    const auto restarted = analyzer.reconfigure(after);
    REQUIRE(restarted.size() == 1);
    CHECK(restarted[0] == "latency_p99");
    analyzer.observe_second(traffic.second(900, 0.0, 50), traffic.second(100, 0.0, 50));
    auto e = analyzer.evaluate(61, kNoBackend, kNoBackend);
    CHECK(e.results[0].statistic == doctest::Approx(evidence).epsilon(0.2));  // kept (one quiet second later)
    CHECK(e.results[0].dry_run);
    CHECK(e.results[1].detail.find("1.50 x") != std::string::npos);  // the new bound applies
    // A removed guardrail is reported with a '-'.
    const auto removed = analyzer.reconfigure(analysis_with("        - {metric: success_rate, max_drop: 0}\n"));
    CHECK(std::find(removed.begin(), removed.end(), "-latency_p99") != removed.end());
    CHECK(std::find(removed.begin(), removed.end(), "-memory") != removed.end());
}

TEST_CASE("begin_step: a pass needs min_requests of each version within the step") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0}\n", 50));
    for (int t = 1; t <= 10; ++t) analyzer.observe_second(counts(90, 0), counts(10, 0));
    CHECK(analyzer.evaluate(10, kNoBackend, kNoBackend).verdict == Verdict::pass);
    analyzer.begin_step();
    analyzer.observe_second(counts(90, 0), counts(10, 0));
    auto e = analyzer.evaluate(11, kNoBackend, kNoBackend);
    CHECK(e.verdict == Verdict::hold);
    CHECK(e.results[0].detail.find("in this rollout step") != std::string::npos);
    for (int t = 12; t <= 15; ++t) analyzer.observe_second(counts(90, 0), counts(10, 0));
    CHECK(analyzer.evaluate(15, kNoBackend, kNoBackend).verdict == Verdict::pass);  // 50 canary requests in the step
}

TEST_CASE("failures above requests are clamped and counted") {
    analysis::RouteAnalyzer analyzer(analysis_with("        - {metric: success_rate, max_drop: 0}\n", 1));
    analyzer.observe_second(counts(90, 0), counts(10, 0));
    CHECK(analyzer.clamped_blocks() == 0);
    analysis::SecondStats broken = counts(10, 0);
    broken.failures = 25;
    analyzer.observe_second(counts(90, 0), broken);
    CHECK(analyzer.clamped_blocks() == 1);
    CHECK(std::isfinite(analyzer.evaluate(2, kNoBackend, kNoBackend).results[0].statistic));
}
