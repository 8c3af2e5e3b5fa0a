// libFuzzer target: the client request-head parser (RFC 9112 §2-§3) on arbitrary bytes.
// Beyond "no crash, no sanitizer report": a complete head lies inside the buffer, every
// view points into it, and a prefix of a complete head is never an error.
#include "core/http/request_head.hpp"

#include <cstdlib>
#include <string_view>

namespace {
bool inside(std::string_view whole, std::string_view part) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const canaryd::http::HeadLimits limits;
    const auto parse = canaryd::http::parse_request_head(input, limits);
    if (parse.state == canaryd::http::HeadState::complete) {
        const auto& head = parse.head;
        if (head.head_bytes == 0 || head.head_bytes > size) std::abort();
        if (!inside(input, head.method) || !inside(input, head.target)) std::abort();
        for (const auto& field : head.fields)
            if (!inside(input, field.name)) std::abort();
        // Incremental reads see every prefix first: none of them may be refused.
        for (std::size_t cut : {head.head_bytes / 2, head.head_bytes - 1})
            if (canaryd::http::parse_request_head(input.substr(0, cut), limits).state == canaryd::http::HeadState::error)
                std::abort();
    }
    return 0;
}
