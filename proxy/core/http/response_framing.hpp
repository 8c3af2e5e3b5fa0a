// Checks an upstream response's framing fields before its body is relayed (RFC 9112 §6.3).
// An upstream whose framing is ambiguous gets a 502 and its connection discarded: relaying
// it would let the upstream desynchronise canaryd's view of the connection.
#pragma once

#include "core/http/request_head.hpp"

#include <span>
#include <string>

namespace canaryd::http {

// Empty when the framing is unambiguous; otherwise what is wrong.
std::string check_response_framing(std::span<const Field> fields);

}  // namespace canaryd::http
