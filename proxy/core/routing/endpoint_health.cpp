#include "core/routing/endpoint_health.hpp"

#include <algorithm>

namespace canaryd::routing {

EndpointHealth& EndpointHealthTable::at(std::uint32_t id) {
    if (id >= health_.size()) health_.resize(id + 1);
    return health_[id];
}

const EndpointHealth& EndpointHealthTable::health(std::uint32_t id) { return at(id); }

int EndpointHealthTable::pick(std::span<const std::uint32_t> ids, std::uint32_t& cursor, TimePoint now,
                              std::int64_t exclude) {
    const auto n = static_cast<std::uint32_t>(ids.size());
    for (std::uint32_t tried = 0; tried < n; ++tried) {
        const std::uint32_t index = cursor++ % n;
        const std::uint32_t id = ids[index];
        if (static_cast<std::int64_t>(id) == exclude) continue;
        if (at(id).available(now)) return static_cast<int>(id);
    }
    return -1;
}

void EndpointHealthTable::report_success(std::uint32_t id) {
    auto& h = at(id);
    h.consecutive_failures = 0;
    if (++h.consecutive_successes >= policy_.successes_to_forgive) h.times_ejected = 0;
}

bool EndpointHealthTable::report_failure(std::uint32_t id, std::span<const std::uint32_t> version_ids,
                                         TimePoint now) {
    // Grow the table first: references into it must stay valid below.
    for (auto other : version_ids) at(other);
    auto& h = at(id);
    h.consecutive_successes = 0;
    if (++h.consecutive_failures < policy_.consecutive_failures) return false;
    if (!h.available(now)) return false;  // already ejected
    const bool another_available = std::any_of(version_ids.begin(), version_ids.end(), [&](std::uint32_t other) {
        return other != id && at(other).available(now);
    });
    if (!another_available) return false;
    const auto shift = std::min<std::uint32_t>(h.times_ejected, 16);
    auto period = policy_.base_ejection * (1ll << shift);
    if (period > policy_.max_ejection) period = policy_.max_ejection;
    h.ejected_until = now + period;
    ++h.times_ejected;
    h.consecutive_failures = 0;
    return true;
}

}  // namespace canaryd::routing
