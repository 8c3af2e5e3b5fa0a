#include "core/analysis/recorder.hpp"
#include "core/analysis/window.hpp"

#include <doctest/doctest.h>

using namespace canaryd::analysis;

namespace {

SecondStats second(std::uint64_t requests, std::uint64_t failures, std::uint64_t latency_us = 1'000) {
    SecondStats s;
    s.requests = requests;
    s.failures = failures;
    for (std::uint64_t i = 0; i < requests; ++i) s.latency.add(latency_us);
    return s;
}

}  // namespace

TEST_CASE("a window sums the last N seconds and forgets older ones (roll-over)") {
    Window w(3);
    w.add(10, second(5, 1));
    w.add(11, second(7, 0));
    w.add(12, second(9, 2));
    auto sum = w.sum(12);
    CHECK(sum.requests == 21);
    CHECK(sum.failures == 3);
    CHECK(sum.latency.total() == 21);
    w.add(13, second(1, 1));  // reuses the slot of second 10
    sum = w.sum(13);
    CHECK(sum.requests == 17);
    CHECK(sum.failures == 3);
    CHECK(w.sum(15).requests == 1);  // 11 and 12 have left the window; 13 is still in
    CHECK(w.sum(16).requests == 0);
}

TEST_CASE("gaps are empty seconds, and late reports are ignored") {
    Window w(60);
    w.add(100, second(10, 0));
    w.add(130, second(20, 5));  // 29 silent seconds in between
    CHECK(w.sum(130).requests == 30);
    CHECK(w.sum(159).requests == 30);  // (99, 159] still holds second 100
    CHECK(w.sum(160).requests == 20);  // second 100 left the window
    w.add(120, second(99, 99));        // older than the newest: ignored
    CHECK(w.sum(130).requests == 30);
    w.add(130, second(1, 0));          // the same second again adds to it
    CHECK(w.sum(130).requests == 31);
    CHECK(w.sum(130).success_rate() == doctest::Approx(26.0 / 31.0));
}

TEST_CASE("window stats merge (e.g. across replicas or endpoints)") {
    Window a(10);
    Window b(10);
    a.add(1, second(10, 1, 2'000));
    b.add(1, second(30, 3, 8'000));
    auto merged = a.sum(1);
    merged.merge(b.sum(1));
    CHECK(merged.requests == 40);
    CHECK(merged.failures == 4);
    CHECK(merged.success_rate() == doctest::Approx(0.9));
    CHECK(merged.latency.quantile(0.5) == doctest::Approx(8'000).epsilon(0.04));
}

TEST_CASE("an empty window reports success rate 1 and no latency") {
    Window w(5);
    auto sum = w.sum(100);
    CHECK(sum.requests == 0);
    CHECK(sum.success_rate() == 1.0);
    CHECK(sum.latency.quantile(0.99) == 0.0);
}

TEST_CASE("recorders: cumulative totals and one-second differences") {
    VersionRecorder worker_a;
    VersionRecorder worker_b;
    FailureStatuses statuses;
    worker_a.begin();
    worker_a.finish(200, 1'500, is_failure(200, false, statuses), std::nullopt);
    worker_b.begin();
    worker_b.finish(503, 2'500, is_failure(503, false, statuses), std::nullopt);
    worker_b.begin();
    worker_b.finish(502, 100, true, ErrorKind::connect);
    worker_a.begin();  // still in flight
    VersionTotals first;
    worker_a.collect(first);
    worker_b.collect(first);
    CHECK(first.requests == 3);
    CHECK(first.failures == 2);
    CHECK(first.in_flight == 1);
    CHECK(first.codes[200] == 1);
    CHECK(first.codes[503] == 1);
    CHECK(first.errors[static_cast<std::size_t>(ErrorKind::connect)] == 1);
    CHECK(first.latency_sum_us == 4'100);
    worker_a.finish(200, 1'000, false, std::nullopt);
    VersionTotals later;
    worker_a.collect(later);
    worker_b.collect(later);
    const auto delta = difference(later, first);
    CHECK(delta.requests == 1);
    CHECK(delta.failures == 0);
    CHECK(delta.latency.total() == 1);
    CHECK(later.in_flight == 0);
}

TEST_CASE("failure statuses") {
    FailureStatuses defaults;
    CHECK(defaults.matches(500));
    CHECK(defaults.matches(599));
    CHECK_FALSE(defaults.matches(404));
    CHECK_FALSE(defaults.matches(200));
    FailureStatuses custom;
    custom.clear();
    custom.add_code(429);
    custom.add_class(5);
    CHECK(custom.matches(429));
    CHECK(custom.matches(503));
    CHECK_FALSE(custom.matches(428));
    CHECK(is_failure(200, true, defaults));  // a proxy error fails the version whatever the status
}
