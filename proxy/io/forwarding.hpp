// Rewrites headers as a message crosses the proxy (SPEC §4, RFC 9110 §7.6): hop-by-hop
// fields dropped both ways, X-Forwarded-*, Via and X-Request-Id added.
#pragma once

#include <boost/beast/http/message.hpp>

#include <string>
#include <string_view>

namespace canaryd::io {

namespace http = boost::beast::http;

struct ForwardContext {
    std::string_view peer_ip;     // the client's address as canaryd sees it
    std::string_view scheme;      // "http" or "https"
    std::string_view request_id;  // the id in force for this exchange
};

// The request header sent upstream: HTTP/1.1, original method and target, end-to-end
// fields only, plus forwarding fields. Framing (Content-Length / chunked) is copied from
// the validated client request.
void build_upstream_request(const http::request_header<>& in, bool in_chunked, const ForwardContext& context,
                            http::request_header<>& out);

// The response header sent to the client: end-to-end fields of the upstream response plus
// Via and X-Request-Id. Framing and keep-alive are set by the caller.
void build_client_response(const http::response_header<>& in, const ForwardContext& context,
                           http::response_header<>& out);

// A client's X-Request-Id is kept when it is 1..200 visible ASCII characters; anything else
// is replaced so that logs can never be forged through it.
bool is_acceptable_request_id(std::string_view id);

// A random UUID (version 4) from two 64-bit random values.
std::string format_request_id(std::uint64_t high, std::uint64_t low);

}  // namespace canaryd::io
