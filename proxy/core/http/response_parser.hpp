// Strict parsing of an upstream's response head (RFC 9112 §4, §6.3), without allocation:
// views into the read buffer and a reused field vector. canaryd decides the body's framing
// itself, so an upstream whose framing is ambiguous gets a 502 and its connection
// discarded instead of desynchronising canaryd's view of the connection.
#pragma once

#include "core/http/request_head.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace canaryd::http {

enum class ResponseFraming : std::uint8_t {
    none,            // HEAD, 1xx, 204, 304, Content-Length: 0 (RFC 9112 §6.3 rules 1-2)
    content_length,
    chunked,
    until_close,     // no length: the body ends when the upstream closes (rule 8)
};

struct ResponseHead {
    int version = 11;
    unsigned status = 0;
    std::string_view reason;
    std::vector<Field> fields;
    ResponseFraming framing = ResponseFraming::none;
    std::uint64_t content_length = 0;
    bool keep_alive = true;  // the upstream connection may be reused after this response
    std::string_view upgrade;
    std::size_t head_bytes = 0;
};

struct ResponseParse {
    HeadState state = HeadState::incomplete;
    ResponseHead head;
    std::string error;
};

// `request_was_head`: a response to HEAD never has a body, whatever its fields say.
void parse_response_head(std::string_view buffer, std::size_t max_head_bytes, bool request_was_head,
                         ResponseParse& out);

}  // namespace canaryd::http
