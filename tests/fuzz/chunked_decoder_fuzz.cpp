// libFuzzer target: the chunked transfer-coding decoder (RFC 9112 §7.1), fed the input in
// pieces whose sizes come from the input itself (how reads split a body is not ours to
// choose). Checked: each step consumes no more than it was given, data is a view of the
// unconsumed input, the decoder always makes progress or asks for more, and the body it
// yields is the same however the input was split.
#include "core/http/chunked_decoder.hpp"

#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// Decodes `input` delivered in pieces of `piece` bytes (0: all at once); returns the body,
// or nullopt-like "!" prefix on an error.
std::string decode(std::string_view input, std::size_t piece) {
    canaryd::http::ChunkedDecoder decoder;
    std::string body, pending;
    std::size_t offset = 0;
    for (int guard = 0; guard < 1'000'000; ++guard) {
        if (piece == 0) {
            pending.append(input.substr(offset));
            offset = input.size();
        }
        const auto step = decoder.next(pending);
        if (step.consumed > pending.size()) std::abort();
        if (step.status == canaryd::http::ChunkedDecoder::Status::data) {
            if (step.data.empty() || step.data.data() < pending.data() ||
                step.data.data() + step.data.size() > pending.data() + step.consumed)
                std::abort();
            body.append(step.data);
        }
        pending.erase(0, step.consumed);
        if (step.status == canaryd::http::ChunkedDecoder::Status::done) return body;
        if (step.status == canaryd::http::ChunkedDecoder::Status::error) return "!" + body;
        if (step.status == canaryd::http::ChunkedDecoder::Status::need_more) {
            if (offset >= input.size()) return "?" + body;  // ran out: incomplete
            const std::size_t n = piece == 0 ? input.size() - offset : std::min(piece, input.size() - offset);
            pending.append(input.substr(offset, n));
            offset += n;
        }
    }
    std::abort();  // no progress in a million steps
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t piece = 1 + data[0] % 16;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string whole = decode(input, 0);
    const std::string split = decode(input, piece);
    // Errors may be found at different points, but success must agree byte for byte.
    const bool whole_ok = whole.empty() || (whole[0] != '!' && whole[0] != '?');
    const bool split_ok = split.empty() || (split[0] != '!' && split[0] != '?');
    if (whole_ok != split_ok) std::abort();
    if (whole_ok && whole != split) std::abort();
    return 0;
}
