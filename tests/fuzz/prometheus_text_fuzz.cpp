// libFuzzer target: the Prometheus text-format parser (backend CPU/memory scrapes) on
// arbitrary bytes: no crash, no sanitizer report, an error that names its line, and sums
// over what it parsed are numbers or absent, never a trap.
#include "core/signals/prometheus_text.hpp"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parse = canaryd::signals::parse_prometheus_text(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!parse.ok()) {
        if (!parse.message().starts_with("line ")) __builtin_trap();  // every error says where
        return 0;
    }
    const auto& samples = *parse;
    for (std::size_t i = 0; i < samples.size() && i < 32; ++i) (void)canaryd::signals::sum_of(samples, samples[i].name);
    return 0;
}
