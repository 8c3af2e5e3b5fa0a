// One blocking HTTP/1.1 exchange for control-side calls (Beast): a backend's Prometheus
// scrape, etcd's JSON gateway, a Prometheus query. One deadline covers resolving,
// connecting, sending and reading, so a slow peer holds up nothing beyond it. Call it on a
// thread that may block (the sampler, the blocking-work thread), never an I/O thread.
#pragma once

#include "core/common/result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace canaryd::io {

struct HttpCall {
    std::string host;
    std::uint16_t port = 0;
    std::string method = "GET";
    std::string target = "/";
    std::string body;           // sent with Content-Type when not empty
    std::string content_type = "application/json";
    std::string accept;         // Accept header when not empty
    std::vector<std::pair<std::string, std::string>> headers;  // more request header fields
    // TLS, verified against the system CA store (or SSL_CERT_FILE), with SNI and the host
    // name checked.
    bool https = false;
    std::chrono::milliseconds timeout{1'000};
    std::size_t body_limit = 8 * 1024 * 1024;
};

struct HttpReply {
    unsigned status = 0;
    std::string body;
};

// The reply of any status, or an error saying where and why the exchange failed
// ("http://127.0.0.1:2379/v3/kv/range: Connection refused").
Result<HttpReply> http_call(const HttpCall& call);

}  // namespace canaryd::io
