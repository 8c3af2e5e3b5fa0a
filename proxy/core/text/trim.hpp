// Trimming, written once. HTTP's optional whitespace is SP and HTAB only (RFC 9110 §5.6.3):
// a CR or LF inside a field is an error for the parser to see, never something to trim away.
// Text read from /proc, cgroup files or a pid file also ends in line breaks.
#pragma once

#include <string_view>

namespace canaryd::text {

constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }
constexpr bool is_space_or_break(char c) { return is_ows(c) || c == '\n' || c == '\r'; }

template <class Predicate>
constexpr std::string_view trim_if(std::string_view s, Predicate trimmed) {
    while (!s.empty() && trimmed(s.front())) s.remove_prefix(1);
    while (!s.empty() && trimmed(s.back())) s.remove_suffix(1);
    return s;
}

// HTTP optional whitespace around a field value or list element.
constexpr std::string_view trim_ows(std::string_view s) { return trim_if(s, is_ows); }
// Spaces, tabs and line breaks (file contents).
constexpr std::string_view trim_space(std::string_view s) { return trim_if(s, is_space_or_break); }

}  // namespace canaryd::text
