#include "core/routing/route_table.hpp"

#include <algorithm>

namespace canaryd::routing {

std::string normalize_host(std::string_view host_header) {
    std::string_view host = host_header;
    if (host.starts_with('[')) {
        auto close = host.find(']');
        if (close != std::string_view::npos) host = host.substr(0, close + 1);
    } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
        host = host.substr(0, colon);
    }
    // A trailing dot names the same host (RFC 1034 §3.1, fully qualified form).
    if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
    std::string out(host);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

RouteTable::RouteTable(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {
    const auto& routes = config_->routes;
    entries_.reserve(routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const auto& match = routes[i].match;
        Entry entry{static_cast<int>(i), 0, {}, false, match.path_prefix};
        if (match.host.starts_with("*.")) {
            entry.wildcard = true;
            entry.host = match.host.substr(1);  // ".example.com"
            entry.host_rank = 1 + static_cast<int>(entry.host.size());
        } else if (!match.host.empty()) {
            entry.host = match.host;
            entry.host_rank = 1 << 20;  // exact beats any wildcard
        }
        entries_.push_back(std::move(entry));
    }
    std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
        if (a.host_rank != b.host_rank) return a.host_rank > b.host_rank;
        return a.path_prefix.size() > b.path_prefix.size();
    });
}

int RouteTable::match(std::string_view host, std::string_view path) const {
    for (const auto& entry : entries_) {
        if (entry.host_rank != 0) {
            if (entry.wildcard) {
                // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
                if (host.size() <= entry.host.size() || !host.ends_with(entry.host)) continue;
            } else if (host != entry.host) {
                continue;
            }
        }
        if (path.starts_with(entry.path_prefix)) return entry.route_index;
    }
    return -1;
}

}  // namespace canaryd::routing
