#include "analysis/window.hpp"

namespace canaryd::analysis {

SecondStats difference(const VersionTotals& later, const VersionTotals& earlier) {
    SecondStats out;
    out.requests = later.requests - earlier.requests;
    out.failures = later.failures - earlier.failures;
    for (std::size_t i = 0; i < out.errors.size(); ++i) out.errors[i] = later.errors[i] - earlier.errors[i];
    for (unsigned b = 0; b < kLatencyBuckets; ++b) {
        const auto n = later.latency.count(b) - earlier.latency.count(b);
        if (n != 0) out.latency.add_bucket(b, static_cast<std::uint32_t>(n));
    }
    return out;
}

Window::Window(unsigned seconds) : slots_(seconds == 0 ? 1 : seconds) {}

void Window::add(std::int64_t second, const SecondStats& stats) {
    if (second < 0 || second < newest_) return;
    auto& slot = slots_[static_cast<std::size_t>(second % static_cast<std::int64_t>(slots_.size()))];
    if (slot.second != second) {
        slot.second = second;
        slot.stats = SecondStats{};
    }
    slot.stats.merge(stats);
    newest_ = second;
}

WindowStats Window::sum(std::int64_t now) const {
    WindowStats out;
    const auto length = static_cast<std::int64_t>(slots_.size());
    for (const auto& slot : slots_)
        if (slot.second >= 0 && slot.second <= now && slot.second > now - length) out.merge(slot.stats);
    return out;
}

}  // namespace canaryd::analysis
