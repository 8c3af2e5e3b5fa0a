#include "core/http/field_lines.hpp"
#include "core/http/response_framing.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace canaryd::http;

namespace {

FieldLinesError parse(const std::string& block, std::vector<Field>& out, std::size_t max_field = 1024,
                      std::size_t max_fields = 10) {
    static std::string kept;  // the fields are views into the parsed block
    kept = block;
    out.clear();
    return parse_field_lines(kept, max_field, max_fields, out);
}

}  // namespace

TEST_CASE("parse_field_lines: names and values as views, optional whitespace trimmed (RFC 9112 §5)") {
    std::vector<Field> fields;
    REQUIRE(parse("Host: example.com\r\nX-Empty:\r\nX-Pad: \t padded value \t\r\n", fields) == FieldLinesError::none);
    REQUIRE(fields.size() == 3);
    CHECK(fields[0].name == "Host");
    CHECK(fields[0].value == "example.com");
    CHECK(fields[1].value.empty());
    CHECK(fields[2].value == "padded value");  // inner whitespace kept, OWS around trimmed
}

TEST_CASE("parse_field_lines: each violation has its own error") {
    std::vector<Field> fields;
    CHECK(parse("Host : h\r\n", fields) == FieldLinesError::space_before_colon);  // RFC 9112 §5.1: 400
    CHECK(parse("Host: h\r\n folded\r\n", fields) == FieldLinesError::obs_fold);  // RFC 9112 §5.2: rejected
    CHECK(parse("no colon here\r\n", fields) == FieldLinesError::no_colon);
    CHECK(parse(": value\r\n", fields) == FieldLinesError::empty_name);
    CHECK(parse("Bad(Name): v\r\n", fields) == FieldLinesError::bad_name);
    CHECK(parse(std::string("X-Nul: a\0b\r\n", 12), fields) == FieldLinesError::bad_value);
    CHECK(parse("X-Long: " + std::string(2000, 'a') + "\r\n", fields) == FieldLinesError::field_too_large);
    std::string many;
    for (int i = 0; i < 11; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(parse(many, fields) == FieldLinesError::too_many_fields);
    for (auto e : {FieldLinesError::obs_fold, FieldLinesError::bad_value}) CHECK(std::string(to_string(e)).size() > 3);
}

TEST_CASE("find_head_end: the empty line ends the head, a bare LF line ending is flagged") {
    CHECK(find_head_end("GET / HTTP/1.1\r\nHost: h\r\n\r\nbody").end == 27);
    CHECK(find_head_end("GET / HTTP/1.1\r\nHost: h\r\n").end == std::string_view::npos);
    const auto bare = find_head_end("GET / HTTP/1.1\nHost: h\n\n");
    CHECK(bare.bare_line_ending);
    // A bare CR anywhere in the head, and a bare LF after a proper first line.
    CHECK(find_head_end("GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n").bare_line_ending);
    CHECK(find_head_end("GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n").bare_line_ending);
    CHECK(find_head_end("\nGET / HTTP/1.1\r\n\r\n").bare_line_ending);
    // A CR as the last byte read so far may still be followed by its LF: not flagged yet.
    const auto partial = find_head_end("GET / HTTP/1.1\r\nHost: h\r");
    CHECK_FALSE(partial.bare_line_ending);
    CHECK(partial.end == std::string_view::npos);
    // Bytes after the head are the body's: a lone CR or LF there is not the head's business.
    const auto with_body = find_head_end("GET / HTTP/1.1\r\n\r\n\r\n\nx\ry");
    CHECK_FALSE(with_body.bare_line_ending);
    CHECK(with_body.end == 18);
}

TEST_CASE("check_response_framing: only unambiguous framing is relayed (RFC 9112 §6.3)") {
    auto check = [](std::vector<Field> fields) { return check_response_framing(fields); };
    CHECK(check({{"Content-Length", "42"}}).empty());
    CHECK(check({{"Content-Length", "42, 42"}}).empty());                    // repeated identical values: one length
    CHECK(check({{"Content-Length", "42"}, {"content-length", "42"}}).empty());
    CHECK(check({{"Transfer-Encoding", "chunked"}}).empty());
    CHECK(check({}).empty());                                                 // until close, or none for 204/304
    CHECK_FALSE(check({{"Content-Length", "42"}, {"Content-Length", "43"}}).empty());
    CHECK_FALSE(check({{"Content-Length", "-1"}}).empty());
    CHECK_FALSE(check({{"Content-Length", "12345678901234567890"}}).empty());  // 20 digits: overflow risk
    CHECK_FALSE(check({{"Content-Length", ""}}).empty());
    CHECK_FALSE(check({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}).empty());  // smuggling shape
    CHECK_FALSE(check({{"Transfer-Encoding", "gzip"}}).empty());                // not decodable after dropping TE
    CHECK_FALSE(check({{"Transfer-Encoding", "chunked, chunked"}}).empty());
    CHECK_FALSE(check({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "gzip"}}).empty());  // chunked not last
}
