// Strict parsing of an HTTP/1.1 request head (RFC 9112 §2-§7, RFC 9110 §5, §7).
//
// canaryd parses client request heads itself instead of trusting Boost 1.81's Beast parser,
// which unfolds obs-fold, accepts any non-control byte in the target, treats a
// Transfer-Encoding not ending in chunked as "no body" and accepts chunked on HTTP/1.0.
// Any ambiguity in framing is a request smuggling vector between canaryd and the upstream,
// so everything that is not clearly one message is rejected before a byte is forwarded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace canaryd::http {

struct HeadLimits {
    std::size_t request_line_bytes = 8 * 1024;  // beyond: 414
    std::size_t header_bytes = 64 * 1024;       // the whole head; beyond: 431
    std::size_t field_bytes = 16 * 1024;        // one field line; beyond: 431
    std::size_t field_count = 100;              // beyond: 431
};

enum class BodyFraming : std::uint8_t { none, content_length, chunked };

struct Field {
    std::string_view name;
    std::string_view value;  // without surrounding whitespace
};

struct RequestHead {
    std::string_view method;
    std::string_view target;     // as sent; origin-form for the upstream is in `origin_target`
    std::string_view origin_target;  // path and query ("/" for an absolute-form target without path)
    int version = 11;            // 10 or 11
    std::vector<Field> fields;
    BodyFraming framing = BodyFraming::none;
    std::uint64_t content_length = 0;
    std::string_view host;       // the Host field, or the authority of an absolute-form target
    bool keep_alive = true;
    bool expect_continue = false;
    bool upgrade = false;          // Connection: upgrade and an Upgrade field are both present
    std::string_view upgrade_protocols;
    std::size_t head_bytes = 0;    // bytes of the head, including the blank line

    // First value of a field (case-insensitive name), or empty.
    std::string_view find(std::string_view name) const;
    bool has(std::string_view name) const;
    bool is_head_method() const { return method == "HEAD"; }
};

struct HeadError {
    unsigned status = 400;
    std::string reason;
};

enum class HeadState : std::uint8_t { incomplete, complete, error };

struct HeadParse {
    HeadState state = HeadState::incomplete;
    RequestHead head;  // valid when complete; views into the parsed buffer
    HeadError error;   // valid when error
};

// Parses the bytes received so far. `incomplete` means: read more and call again with the
// whole buffer (no violation seen yet, and the limits are not reached).
HeadParse parse_request_head(std::string_view buffer, const HeadLimits& limits);
// The same, into `out`, whose field vector keeps its capacity from one request to the next.
void parse_request_head(std::string_view buffer, const HeadLimits& limits, HeadParse& out);

// RFC 9110 §5.6.2 token characters.
bool is_token_char(char c);

// 0-15 for a hexadecimal digit, -1 otherwise.
int hex_digit_value(char c);

}  // namespace canaryd::http
