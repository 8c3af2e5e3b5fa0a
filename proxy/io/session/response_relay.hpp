// The response of one exchange, upstream -> client (SPEC §4): reads and strictly parses the
// upstream's head, relays 1xx (and answers Expect: 100-continue itself when the upstream is
// silent), re-frames the body for the client and streams it with bounded buffers, never
// buffering a whole response. Owned by its ClientSession; every completion keeps the session
// and the upstream connection alive.
#pragma once

#include "core/analysis/outcome.hpp"
#include "core/http/chunked_decoder.hpp"
#include "core/http/response_head.hpp"
#include "core/http/response_parser.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace canaryd::io {

class ClientSession;

class ResponseRelay {
public:
    // Its progress within one exchange (kept in the exchange's lent buffers).
    struct State {
        std::optional<http::ChunkedDecoder> decoder;
        std::uint64_t remaining = 0;  // Content-Length responses
        std::size_t write_consume = 0;
        bool head_parsed = false;
        bool upstream_eof = false;
        bool op_pending = false;
        bool timed_out = false;
        bool deferred = false;  // the final head waits for an interim write to finish
        bool upstream_keep_alive = false;
        http::ClientFraming client_framing = http::ClientFraming::none;
        bool head_sent = false;
        bool body_last = false;
        char chunk_header[24] = {};
        std::string trailers;  // the upstream's trailer fields, relayed at the end of a chunked body
    };

    explicit ResponseRelay(ClientSession& session) : session_(session) {}

    // The request head is upstream: wait for the answer.
    void start();
    // The upstream_response timeout counts from the moment the upstream has the whole
    // request (or is asked to say 100-continue), not from the first body byte.
    void arm_deadline();
    // Expect: 100-continue was sent upstream; canaryd says 100 itself if the upstream does not.
    void start_expect_wait();
    // The wait for the upstream's 100 is over (ClientSession::check_deadlines).
    void on_expect_deadline();

    bool reading() const { return state().op_pending; }
    void note_timeout() { state().timed_out = true; }  // the header deadline passed
    bool upstream_keep_alive() const { return state().upstream_keep_alive; }

private:
    void read_header();
    void read_bytes();
    void on_bytes(boost::system::error_code ec, std::size_t bytes);
    void parse_head();
    void on_header();
    void on_final_header();
    void write_interim(std::string text, bool starts_body);
    void send_header();
    void pump_body();
    void write(std::string_view data, std::size_t consume, bool last);
    void on_written();
    void finished();
    // The upstream's head (in the exchange's buffers); its views point into the upstream
    // connection's buffer.
    http::ResponseParse& parse();
    // A broken upstream response: a 502 while nothing reached the client, else a cut connection.
    void broke_off(std::string detail, analysis::ErrorKind kind);

    State& state() const;

    ClientSession& session_;
};

}  // namespace canaryd::io
