// Showing untrusted bytes to a person (a config error, a log line): control characters and
// bytes that are not valid UTF-8 become escapes (\n, \r, \t, \xNN), long text is cut, so what
// is printed is one line that cannot move the cursor, recolour a terminal or forge a line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace canaryd::text {

// `max_bytes` of input at most are shown; a cut is marked with "...".
std::string printable(std::string_view bytes, std::size_t max_bytes = 4096);

// Index of the first byte that printable() would escape, or npos when there is none.
std::size_t first_unprintable(std::string_view bytes);

}  // namespace canaryd::text
