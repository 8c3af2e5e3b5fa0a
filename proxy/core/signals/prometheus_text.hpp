// A parser for the Prometheus text exposition format (version 0.0.4): comments, HELP and
// TYPE lines, labels with escapes, exponents, NaN and ±Inf, optional timestamps. Garbage is
// an error with its line number, never a crash.
#pragma once

#include "core/common/result.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canaryd::signals {

struct PromSample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
    double value = 0;
    std::optional<long long> timestamp_ms;
};

// The samples, or "line N: ..." when the text is malformed (then no samples at all).
Result<std::vector<PromSample>> parse_prometheus_text(std::string_view text);

// Sum of every sample of `name` (all label sets), or nullopt when there is none.
std::optional<double> sum_of(const std::vector<PromSample>& samples, std::string_view name);

}  // namespace canaryd::signals
