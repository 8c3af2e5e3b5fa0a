// Turning a configured "host:port" into addresses. An IP literal is its own answer. A host
// name goes to the system resolver (getaddrinfo: /etc/hosts, then DNS), or — when canaryd is
// given a hosts table of its own (AppOptions::hosts_file; the tests' stand-in for a DNS
// server whose answers change while the proxy runs) — to that table alone. Blocking: call it
// off the I/O and control threads.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <vector>

namespace canaryd::io {

// Every address of `hp` — of one family: IPv4 when the name has any, else IPv6 — sorted and
// each once, so that two answers compare equal when they name the same set. Never empty on
// success.
Result<std::vector<boost::asio::ip::tcp::endpoint>> resolve_host(boost::asio::io_context& ioc, const config::HostPort& hp,
                                                                 const std::string& hosts_file);

bool is_ip_literal(const std::string& host);

}  // namespace canaryd::io
