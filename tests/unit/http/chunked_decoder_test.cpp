#include "core/http/chunked_decoder.hpp"

#include <doctest/doctest.h>

#include <string>

using canaryd::http::ChunkedDecoder;
using Status = ChunkedDecoder::Status;

namespace {

struct Decoded {
    Status status;
    std::string body;
    std::size_t consumed;
};

// Feeds `input` in pieces of `step` bytes, the way reads arrive.
Decoded decode(const std::string& input, std::size_t step = 1'000'000) {
    ChunkedDecoder decoder;
    Decoded out{Status::need_more, {}, 0};
    std::size_t fed = 0;
    std::string pending;
    while (true) {
        if (pending.empty() && fed < input.size()) {
            pending = input.substr(fed, step);
            fed += pending.size();
        }
        auto s = decoder.next(pending);
        out.consumed += s.consumed;
        if (s.status == Status::data) out.body.append(s.data);
        pending.erase(0, s.consumed);
        if (s.status == Status::done || s.status == Status::error) {
            out.status = s.status;
            return out;
        }
        if (s.status == Status::need_more && pending.empty() && fed >= input.size()) {
            out.status = Status::need_more;
            return out;
        }
    }
}

}  // namespace

TEST_CASE("decodes chunks, extensions and trailers") {
    const std::string body = "4\r\nWiki\r\n5;name=val;q=\"a;b\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    for (std::size_t step : {1u, 2u, 3u, 7u, 1000u}) {
        auto d = decode(body, step);
        INFO("step " << step);
        CHECK(d.status == Status::done);
        CHECK(d.body == "Wikipedia in\r\n\r\nchunks.");
        CHECK(d.consumed == body.size() - 4);  // "NEXT" belongs to the next message
    }
}

TEST_CASE("an empty body") {
    auto d = decode("0\r\n\r\n");
    CHECK(d.status == Status::done);
    CHECK(d.body.empty());
}

TEST_CASE("incomplete input asks for more") {
    CHECK(decode("5\r\nab").status == Status::need_more);
    CHECK(decode("0\r\n").status == Status::need_more);
}

TEST_CASE("invalid chunk framing is rejected") {
    for (const char* bad : {
             "x\r\n",                       // not hex
             "\r\n",                        // empty size
             "-1\r\n",                      //
             "10000000000000000\r\nab",     // overflow
             "5\nabcde\r\n0\r\n\r\n",       // bare LF after size
             "5\r\nabcdeXY0\r\n\r\n",       // data not followed by CRLF
             "5\r\nabcde\n0\r\n\r\n",       //
             "5;ext\nx\r\nabcde\r\n",       // LF inside an extension
             "5;a\x01\r\nabcde\r\n",        // control character in an extension
             "5 x\r\nabcde\r\n",            // junk after the size
             "0\r\nBad Trailer: 1\r\n\r\n",  // space in a trailer name
             "0\r\nNoColon\r\n\r\n",
             "0\r\n folded: 1\r\n\r\n",
             "0\r\nX: 1\n\r\n",
             "0\r\n\rX",
         }) {
        INFO(bad);
        CHECK(decode(bad).status == Status::error);
    }
}

TEST_CASE("whitespace before an extension is allowed (BWS)") {
    auto d = decode("3 ;x=1\r\nabc\r\n0\r\n\r\n");
    CHECK(d.status == Status::done);
    CHECK(d.body == "abc");
}

TEST_CASE("trailers cannot smuggle framing: they are consumed and dropped") {
    auto d = decode("3\r\nabc\r\n0\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(d.status == Status::done);
    CHECK(d.body == "abc");
}

TEST_CASE("limits on the size line and the trailer section") {
    ChunkedDecoder small(ChunkedDecoder::Limits{16, 32});
    CHECK(small.next("5;" + std::string(40, 'a') + "\r\n").status == Status::error);
    ChunkedDecoder trailers(ChunkedDecoder::Limits{16, 32});
    CHECK(trailers.next("0\r\nX: " + std::string(40, 'a') + "\r\n\r\n").status == Status::error);
}
