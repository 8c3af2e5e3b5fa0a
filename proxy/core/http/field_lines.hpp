// The field section of an HTTP/1.1 message head (RFC 9112 §5, RFC 9110 §5.5), parsed
// strictly into name/value views. Shared by the request and the response parsers.
#pragma once

#include "core/http/request_head.hpp"

#include <string_view>
#include <vector>

namespace canaryd::http {

enum class FieldLinesError : std::uint8_t { none, field_too_large, too_many_fields, obs_fold, no_colon, empty_name,
                                            space_before_colon, bad_name, bad_value };
const char* to_string(FieldLinesError error);

// `block` holds the field lines, each ending in CRLF, without the final empty line. Bare
// CR and LF must have been rejected before. Appends to `out`.
FieldLinesError parse_field_lines(std::string_view block, std::size_t max_field_bytes, std::size_t max_fields,
                                  std::vector<Field>& out);

// Finds the end of a head in `buffer` ("\r\n\r\n"), or reports a bare CR or LF before it.
struct HeadEnd {
    std::size_t end = std::string_view::npos;  // offset just past the empty line
    bool bare_line_ending = false;
};
HeadEnd find_head_end(std::string_view buffer);

}  // namespace canaryd::http
