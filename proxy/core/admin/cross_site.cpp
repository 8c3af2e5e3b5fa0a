#include "core/admin/cross_site.hpp"

#include <algorithm>
#include <cctype>

namespace canaryd::admin {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::optional<std::string> cross_site_refusal(std::string_view origin, std::string_view host, std::string_view fetch_site) {
    // "same-origin": the dashboard itself; "none": the user typed it (no page initiated it).
    // "same-site" is refused too: another port of the same host is another application.
    if (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none")
        return "403 Forbidden: a cross-site request (Sec-Fetch-Site: " + std::string(fetch_site) +
               ") may not change a rollout; use the dashboard served by this admin listener, canaryd ctl or curl\n";
    if (origin.empty()) return std::nullopt;
    // An origin is scheme "://" host [":" port] (RFC 6454 §6.2); "null" comes from sandboxed
    // frames and local files and never matches.
    const auto scheme_end = origin.find("://");
    const std::string_view authority = scheme_end == std::string_view::npos ? std::string_view{} : origin.substr(scheme_end + 3);
    if (authority.empty() || host.empty() || !equal_ignoring_case(authority, host))
        return "403 Forbidden: Origin " + std::string(origin) + " is not this admin listener (" + std::string(host) +
               "); a page of another site may not change a rollout\n";
    return std::nullopt;
}

}  // namespace canaryd::admin
