// The state of one request/response exchange on a client connection. Everything here is
// reset by assignment when the next exchange starts, so no field of an earlier exchange
// (pipelined or keep-alive) leaks into the next one.
#pragma once

#include "core/analysis/recorder.hpp"
#include "core/config/config.hpp"
#include "core/http/request_head.hpp"
#include "core/http/response_parser.hpp"
#include "core/routing/split.hpp"
#include "io/control/snapshot.hpp"
#include "io/session/request_body_pump.hpp"
#include "io/session/response_relay.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace canaryd::io {

struct Exchange {
    std::chrono::steady_clock::time_point started{};

    // The snapshot is taken once per request and kept to the exchange's end.
    std::shared_ptr<const Snapshot> snapshot;
    const CompiledRoute* route = nullptr;
    config::Role role = config::Role::stable;
    routing::Reason reason = routing::Reason::no_canary;  // why `role` (access log)
    std::uint32_t endpoint_id = 0;
    analysis::VersionRecorder* recorder = nullptr;  // set while an outcome is owed

    // What the request head said.
    bool method_is_head = false;
    int client_version = 11;
    bool client_keep_alive = true;
    bool upgrade_requested = false;
    // A gRPC call (content-type application/grpc): judged by its grpc-status, answered with
    // gRPC errors, its grpc-timeout honoured.
    bool grpc = false;
    int grpc_status = -1;  // from the response's headers (trailers-only) or trailers; -1: none yet
    std::chrono::steady_clock::duration grpc_timeout = std::chrono::steady_clock::duration::zero();

    // Connecting upstream.
    bool retried = false;  // the one retry (another endpoint, or a replay) is spent
    bool connecting = false;
    bool connect_timed_out = false;

    // How it is going.
    bool failed = false;
    bool response_started = false;   // a byte of the response reached the client (or is on its way)
    bool response_complete = false;
    bool response_keep_alive = false;  // what the client was told
    bool sent_continue = false;        // one 100 per exchange (RFC 9110 §15.2)
    std::uint64_t latency_us = 0;      // request head received -> upstream response header
    unsigned final_status = 0;
    unsigned error_response_status = 0;  // an error response canaryd generated

    // Access log.
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    bool access_logged = false;
};

// The exchange's text. Kept across exchanges (in ExchangeBuffers) so that the strings keep
// their capacity: a request ID or an upstream head does not allocate per request.
struct ExchangeText {
    std::string method;
    std::string path;
    std::string request_id;
    std::string upgrade_protocols;
    std::string upstream_head;  // the request head as sent upstream
    std::string client_head;    // the response head as sent to the client
    std::string version_value;  // of `version_header`
    std::string interim;        // a 1xx being written
    std::string error;          // an error response canaryd generated
    std::string connect_failure;

    void clear() {
        for (auto* s : {&method, &path, &request_id, &upgrade_protocols, &upstream_head, &client_head, &version_value,
                        &interim, &error, &connect_failure})
            s->clear();
    }
};

// Everything an exchange works in: its state, its text, the parsed request and response
// heads (their field vectors) and the progress of the body pump and the response relay.
// Lent by the worker for the length of an exchange and handed back when the connection goes
// idle, so an idle keep-alive connection holds none of it, while busy connections still
// reuse capacity instead of allocating per request.
struct ExchangeBuffers {
    Exchange exchange;
    ExchangeText text;
    http::HeadParse request_head;
    http::ResponseParse response_head;
    RequestBodyPump::State body;
    ResponseRelay::State relay;
};

}  // namespace canaryd::io
