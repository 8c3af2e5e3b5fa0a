// libFuzzer target: the upstream response-head parser (RFC 9112 §4, §6.3). Checked: a
// complete head lies inside the buffer with a status in 100..999, and a response to HEAD
// never claims a body.
#include "core/http/response_parser.hpp"

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool request_was_head = data[0] & 1;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    canaryd::http::ResponseParse parse;
    canaryd::http::parse_response_head(input, 16 * 1024, request_was_head, parse);
    if (parse.state == canaryd::http::HeadState::complete) {
        const auto& head = parse.head;
        if (head.head_bytes == 0 || head.head_bytes > input.size()) std::abort();
        if (head.status < 100 || head.status > 999) std::abort();
        if (request_was_head && head.framing != canaryd::http::ResponseFraming::none) std::abort();
    }
    return 0;
}
