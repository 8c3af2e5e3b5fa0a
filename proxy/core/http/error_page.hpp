// Bodies of the responses canaryd generates itself (404, 502, 503, ...): short plain text
// that says which side failed, so an operator reading a curl output knows where to look.
#pragma once

#include <string>
#include <string_view>

namespace canaryd::http {

// "502 Bad Gateway: upstream refused the connection (route api, canary)\n"
std::string error_body(unsigned status, std::string_view detail);

std::string_view reason_phrase(unsigned status);

// The whole response: status line, Content-Type, Content-Length, Cache-Control: no-store,
// X-Request-Id (when given), Connection as `keep_alive` says for the client's `version`.
void append_error_response(std::string& out, unsigned status, std::string_view detail, int version, bool keep_alive,
                           std::string_view request_id);

}  // namespace canaryd::http
