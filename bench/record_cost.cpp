// What recording one request's outcome costs on the hot path (SPEC §5): a worker writes
// its own VersionRecorder (single-writer atomics, no lock, no locked instruction) while the
// control thread reads every recorder once a second. Prints ns per recorded request; it
// asserts nothing.
//
//   bench/record_cost [--requests 50000000]
#include "core/analysis/recorder.hpp"
#include "core/analysis/window.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

using canaryd::analysis::VersionRecorder;
using canaryd::analysis::VersionTotals;
using clock_type = std::chrono::steady_clock;

namespace {

// Latencies and statuses drawn up front, so the loop measures recording only.
struct Inputs {
    std::vector<std::uint64_t> latency_us;
    std::vector<unsigned> status;
};

Inputs make_inputs(std::size_t n) {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(std::log(2'000.0), 0.8);
    Inputs in;
    in.latency_us.resize(n);
    in.status.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        in.latency_us[i] = static_cast<std::uint64_t>(latency(rng));
        in.status[i] = rng() % 1000 == 0 ? 503 : 200;
    }
    return in;
}

double record_ns(VersionRecorder& recorder, const Inputs& in, std::size_t requests) {
    const auto n = in.latency_us.size();
    const auto started = clock_type::now();
    for (std::size_t i = 0; i < requests; ++i) {
        const auto k = i % n;
        recorder.begin();
        recorder.finish(in.status[k], in.latency_us[k], in.status[k] >= 500, std::nullopt);
    }
    return std::chrono::duration<double, std::nano>(clock_type::now() - started).count() / static_cast<double>(requests);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t requests = 50'000'000;
    for (int i = 1; i + 1 < argc; i += 2)
        if (std::string(argv[i]) == "--requests") requests = std::strtoull(argv[i + 1], nullptr, 10);
    const auto inputs = make_inputs(1 << 16);

    // 1. One worker, nobody reading.
    auto alone = std::make_unique<VersionRecorder>();
    const double ns_alone = record_ns(*alone, inputs, requests);

    // 2. Two workers on their own recorders while a reader collects both every millisecond
    //    (1000x more often than the real once-a-second tick).
    auto a = std::make_unique<VersionRecorder>();
    auto b = std::make_unique<VersionRecorder>();
    std::atomic<bool> running{true};
    std::atomic<std::uint64_t> reads{0};
    std::thread reader([&] {
        while (running) {
            VersionTotals totals;
            a->collect(totals);
            b->collect(totals);
            ++reads;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    double ns_a = 0;
    double ns_b = 0;
    std::thread worker_b([&] { ns_b = record_ns(*b, inputs, requests); });
    ns_a = record_ns(*a, inputs, requests);
    worker_b.join();
    running = false;
    reader.join();

    // 3. The reader's side: collecting one recorder and turning a second into a window slot.
    const auto started = clock_type::now();
    const int collections = 2'000;
    VersionTotals previous;
    canaryd::analysis::Window window(60);
    for (int i = 0; i < collections; ++i) {
        VersionTotals totals;
        a->collect(totals);
        window.add(i, canaryd::analysis::difference(totals, previous));
        previous = totals;
    }
    const double us_collect =
        std::chrono::duration<double, std::micro>(clock_type::now() - started).count() / collections;

    std::printf("recording cost per request (VersionRecorder::begin + finish), %zu requests\n", requests);
    std::printf("  %-52s %6.2f ns\n", "one worker, no reader", ns_alone);
    std::printf("  %-52s %6.2f ns / %6.2f ns\n", "two workers + a reader every 1 ms (worker A / B)", ns_a, ns_b);
    std::printf("  %-52s %6.1f us  (%llu reads during the run)\n", "reader: collect one recorder + one window second",
                us_collect, static_cast<unsigned long long>(reads.load()));
    return 0;
}
