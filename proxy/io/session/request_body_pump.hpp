// The request body of one exchange, client -> upstream (SPEC §4): bounded reads from the
// client, Content-Length bodies passed through, chunked bodies decoded and re-framed, the
// 100-continue handshake, and stopping when the upstream answers first. It runs next to the
// ResponseRelay on the session's thread and checks the exchange's state each time it
// resumes. Owned by its ClientSession; every completion keeps the session alive.
#pragma once

#include "core/http/chunked_decoder.hpp"
#include "core/http/request_head.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace canaryd::io {

class ClientSession;

class RequestBodyPump {
public:
    enum class Stage : std::uint8_t {
        none,              // the request has no body
        pending,           // it has one; nothing relayed yet
        waiting_continue,  // Expect: 100-continue, waiting for the upstream's word
        relaying,
        done,
        abandoned,         // the upstream answered first; the rest is never sent
    };

    // Its progress within one exchange (kept in the exchange's lent buffers).
    struct State {
        Stage stage = Stage::none;
        bool chunked = false;
        bool expect_continue = false;
        std::uint64_t remaining = 0;  // Content-Length bodies
        std::uint64_t decoded = 0;    // chunked bodies, against limits.body_bytes
        std::optional<http::ChunkedDecoder> decoder;
        bool op_pending = false;
        std::size_t write_consume = 0;     // client bytes the write in flight stands for
        std::size_t write_data_bytes = 0;  // body bytes (without chunk framing) in flight
        bool write_last = false;
        char chunk_header[24] = {};
        std::size_t chunk_header_size = 0;
    };

    explicit RequestBodyPump(ClientSession& session) : session_(session) {}

    // The request head is in: its framing decides whether there is a body.
    void begin(const http::RequestHead& head);
    // The head is upstream: relay the body now, or first wait for 100 (Expect).
    void after_head_sent();
    // A 100 went to the client (the upstream's or canaryd's own): the client now sends the body.
    void on_continue();
    // A final response arrived first: a body not yet started is never sent (RFC 9110 §10.1.1).
    void abandon_unsent();
    // Continue after an interruption (the exchange may have ended meanwhile).
    void pump();

    Stage stage() const { return state().stage; }
    bool complete() const { return state().stage == Stage::none || state().stage == Stage::done; }
    bool busy() const { return state().op_pending; }  // a read or write is in flight
    bool replayable() const { return state().stage == Stage::none; }
    // A pending read that outlives the exchange drains the client instead (lingering close).
    void on_read_done(boost::system::error_code ec, std::size_t bytes);

private:
    void read();
    void write(std::string_view data, std::size_t consume, bool chunk_framed, bool last);
    void on_written(boost::system::error_code ec);
    void stopped();

    State& state() const;

    ClientSession& session_;
};

}  // namespace canaryd::io
