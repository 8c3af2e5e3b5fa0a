// libFuzzer target: the config loader (yaml-cpp underneath) on arbitrary text. Checked: it
// never throws, it either loads or explains, and every error points inside the text and
// prints as one line without control bytes (what `--check-config` shows a person).
#include "core/config/loader.hpp"
#include "core/text/printable.hpp"

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = canaryd::config::load_config(text);
    if (result.ok() == !result.errors.empty()) std::abort();
    int lines = 1;
    for (char c : text) lines += c == '\n';
    for (const auto& error : result.errors) {
        if (error.line < 1 || error.line > lines || error.column < 1) std::abort();
        if (canaryd::text::first_unprintable(canaryd::config::format_error("f", error)) != std::string_view::npos)
            std::abort();
    }
    return 0;
}
