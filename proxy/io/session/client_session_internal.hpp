// Shared by the files that implement ClientSession (one file per stage of an exchange).
#pragma once

#include "core/http/hop_by_hop.hpp"

#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstddef>
#include <string_view>

namespace canaryd::io::session_detail {


// Bounded relay buffers: memory per exchange does not grow with the body size (SPEC §4).
constexpr std::size_t kBodyChunk = 16 * 1024;
constexpr std::size_t kHeadReadChunk = 2 * 1024;  // most request heads fit; larger ones grow the buffer
constexpr std::size_t kUpstreamReadChunk = 16 * 1024;
// How long a closing connection keeps reading what the client still sends, so that the
// kernel does not answer with RST and destroy the response just written (why nginx and
// HAProxy linger).
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 1024 * 1024;
// How long the upstream gets to answer "Expect: 100-continue" before canaryd sends the
// 100 itself (RFC 9110 §10.1.1: a client should not wait indefinitely; curl waits 1 s).
constexpr std::chrono::seconds kExpectWait{1};

inline std::string_view path_of(std::string_view target) {
    auto end = target.find('?');
    return end == std::string_view::npos ? target : target.substr(0, end);
}

inline std::string_view buffer_view(const boost::beast::flat_buffer& buffer) {
    auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

// The protocol name of an Upgrade list element, without its version ("websocket/13").
inline std::string_view protocol_name(std::string_view element) {
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
    auto end = element.find_first_of("/ \t,");
    return element.substr(0, end);
}

// True when the upstream's chosen protocol is one the client offered (RFC 9110 §7.8).
inline bool offered(std::string_view client_list, std::string_view chosen) {
    const auto name = protocol_name(chosen);
    if (name.empty()) return false;
    while (!client_list.empty()) {
        auto comma = client_list.find(',');
        if (http::iequals(protocol_name(client_list.substr(0, comma)), name)) return true;
        if (comma == std::string_view::npos) break;
        client_list.remove_prefix(comma + 1);
    }
    return false;
}


}  // namespace canaryd::io::session_detail
