#include "core/http/chunked_decoder.hpp"

#include "core/http/request_head.hpp"

namespace canaryd::http {
namespace {

// Chunk sizes above 2^60 are refused long before they could overflow 64 bits.
constexpr std::size_t kMaxSizeDigits = 15;

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::fail(const char* message, std::size_t consumed) {
    state_ = State::error;
    error_ = message;
    return Step{Status::error, consumed, {}};
}

ChunkedDecoder::Step ChunkedDecoder::next(std::string_view input) {
    std::size_t i = 0;
    while (i < input.size()) {
        const char c = input[i];
        switch (state_) {
            case State::size: {
                const int v = hex_digit_value(c);
                if (v >= 0) {
                    if (++size_digits_ > kMaxSizeDigits) return fail("chunk size too large", i);
                    chunk_remaining_ = chunk_remaining_ * 16 + static_cast<std::uint64_t>(v);
                    ++i;
                    ++line_bytes_;
                    break;
                }
                if (size_digits_ == 0) return fail("invalid chunk size", i);
                if (c == '\r') state_ = State::size_lf;
                else if (c == ';') state_ = State::extension;
                else if (c == ' ' || c == '\t') state_ = State::size_ows;  // BWS before ';' (RFC 9112 §7.1.1)
                else return fail("invalid character after chunk size", i);
                ++i;
                ++line_bytes_;
                break;
            }
            case State::size_ows:
                if (c == ';') state_ = State::extension;
                else if (c != ' ' && c != '\t') return fail("invalid whitespace in chunk size line", i);
                ++i;
                ++line_bytes_;
                break;
            case State::extension: {
                // chunk-ext: token / quoted-string characters; no CR or LF may hide inside.
                const auto u = static_cast<unsigned char>(c);
                if (c == '"') extension_in_quotes_ = !extension_in_quotes_;
                if (c == '\r' && !extension_in_quotes_) {
                    state_ = State::size_lf;
                } else if (c == '\r' || c == '\n' || (u < 0x20 && c != '\t') || u == 0x7f) {
                    return fail("invalid character in chunk extension", i);
                }
                ++i;
                if (++line_bytes_ > limits_.chunk_line_bytes) return fail("chunk extension too long", i);
                break;
            }
            case State::size_lf:
                if (c != '\n') return fail("chunk size line not ended by CRLF", i);
                ++i;
                line_bytes_ = 0;
                size_digits_ = 0;
                extension_in_quotes_ = false;
                state_ = chunk_remaining_ == 0 ? State::trailer_start : State::data;
                break;
            case State::data: {
                const auto available = input.size() - i;
                const auto take = chunk_remaining_ < available ? static_cast<std::size_t>(chunk_remaining_) : available;
                chunk_remaining_ -= take;
                if (chunk_remaining_ == 0) state_ = State::data_cr;
                return Step{Status::data, i + take, input.substr(i, take)};
            }
            case State::data_cr:
                if (c != '\r') return fail("chunk data not followed by CRLF", i);
                ++i;
                state_ = State::data_lf;
                break;
            case State::data_lf:
                if (c != '\n') return fail("chunk data not followed by CRLF", i);
                ++i;
                state_ = State::size;
                break;
            case State::trailer_start:
                if (c == '\r') {
                    state_ = State::final_lf;
                    ++i;
                    break;
                }
                if (c == ' ' || c == '\t') return fail("obsolete line folding in trailer", i);
                trailer_line_has_colon_ = false;
                state_ = State::trailer_line;
                break;
            case State::trailer_line: {
                // Validated like a header field line, then dropped.
                const auto u = static_cast<unsigned char>(c);
                if (c == '\r') {
                    if (!trailer_line_has_colon_) return fail("trailer line without a colon", i);
                    state_ = State::trailer_lf;
                } else if (c == ':' && !trailer_line_has_colon_) {
                    if (line_bytes_ == 0) return fail("empty trailer field name", i);
                    trailer_line_has_colon_ = true;
                } else if (!trailer_line_has_colon_ && !is_token_char(c)) {
                    return fail("invalid character in trailer field name", i);
                } else if (trailer_line_has_colon_ && ((u < 0x20 && c != '\t') || u == 0x7f)) {
                    return fail("control character in trailer field value", i);
                }
                if (keep_trailers_ && c != '\r') trailer_text_.push_back(c);
                ++i;
                ++line_bytes_;
                if (++trailer_bytes_ > limits_.trailer_bytes) return fail("trailer section too large", i);
                break;
            }
            case State::trailer_lf:
                if (c != '\n') return fail("trailer line not ended by CRLF", i);
                if (keep_trailers_) trailer_text_.push_back('\n');
                ++i;
                line_bytes_ = 0;
                state_ = State::trailer_start;
                break;
            case State::final_lf:
                if (c != '\n') return fail("chunked body not ended by CRLF", i);
                ++i;
                state_ = State::done;
                return Step{Status::done, i, {}};
            case State::done:
                return Step{Status::done, i, {}};
            case State::error:
                return Step{Status::error, i, {}};
        }
    }
    if (state_ == State::done) return Step{Status::done, i, {}};
    if (state_ == State::error) return Step{Status::error, i, {}};
    // A zero-length data step at the end of the input keeps callers simple.
    return Step{Status::need_more, i, {}};
}

std::vector<std::pair<std::string, std::string>> ChunkedDecoder::trailer_fields() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::string_view text = trailer_text_;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name(line.substr(0, colon));
        for (auto& ch : name) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        out.emplace_back(std::move(name), std::string(value));
    }
    return out;
}

}  // namespace canaryd::http
