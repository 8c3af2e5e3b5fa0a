// The request head canaryd sends upstream, built from a validated RequestHead (SPEC §4,
// RFC 9110 §7.6): HTTP/1.1, origin-form target, end-to-end fields only, forwarding fields
// added, and framing re-stated from what canaryd itself parsed.
#pragma once

#include "core/http/request_head.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace canaryd::http {

struct ForwardInfo {
    std::string_view peer_ip;        // the client as canaryd sees it; appended to X-Forwarded-For
    std::string_view scheme;         // "http" or "https", for X-Forwarded-Proto
    std::string_view request_id;     // the X-Request-Id in force
    std::string_view fallback_host;  // Host for an HTTP/1.0 request that had none
    bool upgrade = false;            // forward Upgrade and Connection: upgrade
};

std::string build_upstream_head(const RequestHead& head, const ForwardInfo& info);
// The same, appended to `out` (a buffer reused from one request to the next).
void append_upstream_head(std::string& out, const RequestHead& head, const ForwardInfo& info);

// A client's X-Request-Id is kept when it is 1..200 visible ASCII characters; anything else
// is replaced, so logs cannot be forged through it.
bool is_acceptable_request_id(std::string_view id);

// A version 4 UUID (RFC 9562 §5.4) from two 64-bit random values.
std::string format_request_id(std::uint64_t high, std::uint64_t low);
void assign_request_id(std::uint64_t high, std::uint64_t low, std::string& out);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace canaryd::http
