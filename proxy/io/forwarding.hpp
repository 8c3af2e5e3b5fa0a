// The response header canaryd sends to the client (SPEC §4, RFC 9110 §7.6): end-to-end
// fields of the upstream response, Via, and the exchange's X-Request-Id. Framing and
// keep-alive are set by the session. (The request side is core/http/upstream_request.)
#pragma once

#include <boost/beast/http/message.hpp>

#include <string_view>

namespace canaryd::io {

void build_client_response(const boost::beast::http::response_header<>& in, std::string_view request_id,
                           boost::beast::http::response_header<>& out);

}  // namespace canaryd::io
