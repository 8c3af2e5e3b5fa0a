// The response head canaryd sends to the client (SPEC §4, RFC 9110 §7.6), serialised
// straight into a reusable buffer from the upstream response's fields: end-to-end fields
// only, Via and X-Request-Id added, framing and connection handling stated by canaryd.
#pragma once

#include "core/http/request_head.hpp"

#include <span>
#include <string>
#include <string_view>

namespace canaryd::http {

enum class ClientFraming : std::uint8_t {
    none,             // no body follows (HEAD, 1xx, 204, 304, Content-Length: 0)
    content_length,   // the upstream's Content-Length is kept
    chunked,          // canaryd writes Transfer-Encoding: chunked and frames each piece
    close_delimited,  // the body ends when canaryd closes the connection (HTTP/1.0 clients)
};

struct ClientHeadOptions {
    int version = 11;  // the client's: 10 or 11
    bool keep_alive = true;
    ClientFraming framing = ClientFraming::content_length;
    std::string_view request_id;             // added unless the upstream set one
    std::string_view extra_name;             // optional header naming the version that served
    std::string_view extra_value;
    std::string_view upgrade;                // non-empty for a 101: the protocol switched to
};

// Appends the head (status line, fields, blank line) to `out`.
void append_client_head(std::string& out, unsigned status, std::string_view reason, std::span<const Field> fields,
                        const ClientHeadOptions& options);

}  // namespace canaryd::http
