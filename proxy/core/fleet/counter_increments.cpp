#include "core/fleet/counter_increments.hpp"

#include <cmath>

namespace canaryd::fleet {

std::string series_key(const std::map<std::string, std::string>& labels) {
    std::string key;
    for (const auto& [name, value] : labels) {
        if (!key.empty()) key.push_back('\x1f');
        key.append(name).push_back('=');
        key.append(value);
    }
    return key;
}

std::map<std::string, double> CounterIncrements::advance(const std::map<std::string, double>& values, double now) {
    // Series not seen for longer than forget_after are gone (a replica that left): one that
    // shows up again under the same labels is new.
    std::erase_if(last_, [&](const auto& entry) { return now - entry.second.seen_at > forget_after_; });
    std::map<std::string, double> out;
    for (const auto& [key, raw] : values) {
        // NaN or a negative value is not a counter: leave the series out of this read.
        if (!std::isfinite(raw) || raw < 0) continue;
        auto it = last_.find(key);
        double increment = 0;
        if (it != last_.end()) increment = raw >= it->second.value ? raw - it->second.value : raw;
        else if (has_baseline_) increment = raw;
        if (increment > 0) out[key] = increment;
        last_[key] = {raw, now};
    }
    has_baseline_ = true;
    return out;
}

}  // namespace canaryd::fleet
