#include "core/analysis/window.hpp"

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

void Window::expire_before(std::int64_t first_kept) {
    const auto length = static_cast<std::int64_t>(slots_.size());
    // Only seconds in (newest_ - length, first_kept) can still be counted in running_.
    for (std::int64_t s = std::max(newest_ - length + 1, std::int64_t{0}); s < first_kept && s <= newest_; ++s) {
        auto& slot = slots_[static_cast<std::size_t>(s % length)];
        if (slot.second != s) continue;
        running_.requests -= slot.stats.requests;
        running_.failures -= slot.stats.failures;
        for (std::size_t i = 0; i < running_.errors.size(); ++i) running_.errors[i] -= slot.stats.errors[i];
        running_.latency.subtract(slot.stats.latency);
        slot.second = -1;
        slot.stats = SecondStats{};
    }
}

void Window::add(std::int64_t second, const SecondStats& stats) {
    if (second < 0 || second < newest_) return;
    const auto length = static_cast<std::int64_t>(slots_.size());
    expire_before(second - length + 1);
    auto& slot = slots_[static_cast<std::size_t>(second % length)];
    if (slot.second != second) {
        slot.second = second;
        slot.stats = SecondStats{};
    }
    slot.stats.merge(stats);
    running_.merge(stats);
    newest_ = second;
}

WindowStats Window::sum(std::int64_t now) const {
    if (now == newest_) return running_;
    WindowStats out;
    const auto length = static_cast<std::int64_t>(slots_.size());
    for (const auto& slot : slots_)
        if (slot.second >= 0 && slot.second <= now && slot.second > now - length) out.merge(slot.stats);
    return out;
}

}  // namespace canaryd::analysis
