// Cross-site request forgery guard for the admin API's mutating calls (SPEC §10). The
// dashboard is served from the admin listener, so its calls are same-origin; a page of another
// site open in the operator's browser can still make the browser POST to 127.0.0.1:9901 (a
// "simple" request needs no CORS preflight), which matters most when no token is configured.
// Browsers label such requests: Sec-Fetch-Site (Fetch Metadata) and Origin (RFC 6454 §7,
// sent on every cross-origin POST). Clients that are not browsers (curl, canaryd ctl) send
// neither and are let through; their guard is the token.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace canaryd::admin {

// Empty when the call may proceed; otherwise why it is refused (answered 403).
// `host` is the request's Host header, `origin` its Origin, `fetch_site` its Sec-Fetch-Site;
// an absent header is empty.
std::optional<std::string> cross_site_refusal(std::string_view origin, std::string_view host, std::string_view fetch_site);

}  // namespace canaryd::admin
