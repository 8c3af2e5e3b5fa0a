// Balancing over one version's endpoints with passive outlier ejection (SPEC §3).
//
// Round-robin over the endpoints that are not ejected. An endpoint that fails
// `consecutive_failures` times in a row (refused, timed out, reset, invalid response) is
// ejected for base_ejection × 2^(times ejected before), capped at max_ejection, and is
// re-admitted when that period ends. The last available endpoint of a version is never
// ejected: sending to a doubtful endpoint beats answering 503 to everyone. Pure: `now` is a
// parameter.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace canaryd::routing {

using TimePoint = std::chrono::steady_clock::time_point;

struct EjectionPolicy {
    std::uint32_t consecutive_failures = 5;
    std::chrono::milliseconds base_ejection{10'000};
    std::chrono::milliseconds max_ejection{300'000};
    // After this many successes in a row the ejection history is forgotten.
    std::uint32_t successes_to_forgive = 100;
};

struct EndpointHealth {
    std::uint32_t consecutive_failures = 0;
    std::uint32_t consecutive_successes = 0;
    std::uint32_t times_ejected = 0;
    TimePoint ejected_until{};

    bool available(TimePoint now) const { return ejected_until <= now; }
};

// Health of every endpoint known to one worker, indexed by endpoint id.
class EndpointHealthTable {
public:
    explicit EndpointHealthTable(EjectionPolicy policy = {}) : policy_(policy) {}

    // Picks the next available endpoint of `ids` after `cursor` (which advances), skipping
    // `exclude` (an endpoint id just tried, for a retry). Returns -1 when none is available.
    int pick(std::span<const std::uint32_t> ids, std::uint32_t& cursor, TimePoint now,
             std::int64_t exclude = -1);

    void report_success(std::uint32_t id);
    // Returns true when this failure ejected the endpoint. `version_ids` are all endpoints of
    // the version, so the last available one is never ejected.
    bool report_failure(std::uint32_t id, std::span<const std::uint32_t> version_ids, TimePoint now);

    const EndpointHealth& health(std::uint32_t id);
    const EjectionPolicy& policy() const { return policy_; }

private:
    EndpointHealth& at(std::uint32_t id);

    EjectionPolicy policy_;
    std::vector<EndpointHealth> health_;
};

}  // namespace canaryd::routing
