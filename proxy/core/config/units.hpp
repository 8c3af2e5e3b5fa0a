// Parsers for the scalar units of the config file (SPEC §2): durations ("250ms", "5s",
// "1m30s"), sizes ("64KiB", "512MiB"), weights in percent with at most two decimals, and
// "host:port" addresses. Each returns the value or a message fit for an operator.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace canaryd::config {

using canaryd::Result;

// Units: ms, s, m, h; terms may be combined ("1m30s"); a bare "0" is zero.
Result<Duration> parse_duration(std::string_view text);

// Units: B, KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000); a bare
// integer is bytes.
Result<std::uint64_t> parse_size(std::string_view text);

// "10", "12.5", "0.01", "100", optionally with a trailing "%". Result in basis points.
Result<std::uint32_t> parse_weight_bp(std::string_view text);

// "10.0.0.1:8080", "backend.local:80", "[::1]:8080". Port 0 is allowed only if allow_port_zero.
Result<HostPort> parse_host_port(std::string_view text, bool allow_port_zero);

// "http://host:port/path" (port defaults to 80, path to "/"). https is not supported.
struct HttpUrl {
    std::string host;
    std::uint16_t port = 80;
    std::string target = "/";
    bool https = false;
};
// `allow_https`: https:// is accepted too (notification receivers such as Slack's webhooks
// are HTTPS only); scrape URLs stay plain http.
Result<HttpUrl> parse_http_url(std::string_view text, bool allow_https = false);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

// Renders basis points back as percent: 1250 -> "12.5", 1 -> "0.01".
std::string format_weight_percent(std::uint32_t weight_bp);

}  // namespace canaryd::config
