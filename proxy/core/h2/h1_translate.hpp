// HTTP/2 streams served through canaryd's HTTP/1.1 engine (issue #16): each stream's request
// becomes the HTTP/1.1 request head that every request goes through (strict parsing,
// routing, the upstream head), and the HTTP/1.1 response head that engine writes becomes the
// stream's HTTP/2 response fields. Pure: fields in, text or fields out.
//
// RFC 9113 §8.3.1: :method, :scheme, :path (and :authority) become the request line and Host;
// §8.2.3: cookie crumbs are joined with "; "; §8.2.2: connection-specific fields are not
// allowed in HTTP/2 (nghttp2 refuses such a request before it gets here) and are removed from
// a response; §8.1: a request body without content-length is sent chunked.
#pragma once

#include "core/common/result.hpp"
#include "core/http/request_head.hpp"
#include "core/http/response_parser.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canaryd::h2 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct H1Request {
    std::string head;          // the HTTP/1.1 request head, ending with the blank line
    bool chunked_body = false;  // the body (DATA) must be sent chunked-encoded
};

// `fields` as received, pseudo-fields included; `ends_stream`: the HEADERS frame ended the
// stream (no body). An error is a sentence for the 400 the stream is answered with.
Result<H1Request> h1_request(const HeaderList& fields, bool ends_stream);

// One DATA frame's bytes as a chunk, and the last chunk (with the request's trailers).
void append_chunk(std::string& out, std::string_view data);
void append_last_chunk(std::string& out, const HeaderList& trailers);

// The fields of an HTTP/2 response for an HTTP/1.1 response head: ":status" first, names
// lower-cased, connection-specific fields (and those named by Connection) dropped.
HeaderList h2_response_fields(const http::ResponseHead& head);

// The other way, for an upstream that speaks HTTP/2 (`protocol: http2`): the HTTP/1.1 request
// canaryd built for the upstream becomes the stream's fields (RFC 9113 §8.3.1: :method,
// :scheme, :authority from Host, :path; names lower-cased; connection-specific fields and TE
// other than "trailers" dropped) ...
HeaderList h2_request_fields(const http::RequestHead& head, bool https);
// ... and the stream's response becomes the HTTP/1.1 response head canaryd's engine reads:
// the status line, the fields, chunked framing when the body may carry trailers (no
// content-length), and Connection: close (one exchange per stream).
std::string h1_response_head(const HeaderList& fields, bool has_body);
// An HTTP/2 trailer section as the end of a chunked body.
void append_trailers(std::string& out, const HeaderList& trailers);

}  // namespace canaryd::h2
