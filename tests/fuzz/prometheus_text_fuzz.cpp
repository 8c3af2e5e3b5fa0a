// libFuzzer target: the Prometheus text-format parser (backend CPU/memory scrapes) on
// arbitrary bytes: no crash, no sanitizer report, and sums over what it parsed are numbers
// or absent, never a trap.
#include "signals/prometheus_text.hpp"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parse = canaryd::signals::parse_prometheus_text(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!parse.ok() && !parse.samples.empty()) __builtin_trap();  // malformed text yields no samples
    for (std::size_t i = 0; i < parse.samples.size() && i < 32; ++i)
        (void)canaryd::signals::sum_of(parse.samples, parse.samples[i].name);
    return 0;
}
