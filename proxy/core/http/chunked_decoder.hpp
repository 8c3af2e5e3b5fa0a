// Incremental, strict decoder of the chunked transfer coding (RFC 9112 §7.1).
//
// canaryd decodes a chunked request body and re-encodes it for the upstream, so what the
// upstream parses is exactly what canaryd parsed: chunk extensions are validated and
// dropped, trailers are validated and discarded (RFC 9112 §7.1.2 allows it) — or kept for
// relaying, on request — and can never change framing or connection state. Pure: bytes in, data spans out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canaryd::http {

class ChunkedDecoder {
public:
    struct Limits {
        std::size_t chunk_line_bytes = 4096;   // size line including extensions
        std::size_t trailer_bytes = 64 * 1024;  // whole trailer section
    };

    enum class Status : std::uint8_t { need_more, data, done, error };

    struct Step {
        Status status = Status::need_more;
        std::size_t consumed = 0;  // input bytes used by this step (framing and data)
        std::string_view data;     // with Status::data: body bytes, a view into the input
    };

    ChunkedDecoder() = default;
    explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

    // Consumes framing from `input` until it can return body data, the message ends, an
    // error is found or the input runs out. Call again with the unconsumed rest.
    Step next(std::string_view input);

    bool done() const { return state_ == State::done; }
    const char* error() const { return error_; }

    // Keeping the trailer section instead of discarding it (a response's trailers are relayed:
    // gRPC's grpc-status travels there). Call before the first next().
    void keep_trailers() { keep_trailers_ = true; }
    // The trailer fields, once done: names lower-cased, values without surrounding whitespace.
    std::vector<std::pair<std::string, std::string>> trailer_fields() const;

private:
    enum class State : std::uint8_t {
        size, size_ows, extension, size_lf, data, data_cr, data_lf, trailer_start, trailer_line,
        trailer_lf, final_lf, done, error,
    };
    Step fail(const char* message, std::size_t consumed);

    Limits limits_;
    State state_ = State::size;
    std::uint64_t chunk_remaining_ = 0;
    std::size_t size_digits_ = 0;
    std::size_t line_bytes_ = 0;
    std::size_t trailer_bytes_ = 0;
    bool trailer_line_has_colon_ = false;
    bool extension_in_quotes_ = false;
    bool keep_trailers_ = false;
    std::string trailer_text_;  // "name: value\n" lines, when kept
    const char* error_ = nullptr;
};

}  // namespace canaryd::http
