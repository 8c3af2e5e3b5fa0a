// Which route serves a request: host first, then the longest path prefix (SPEC §3).
//
// Host precedence: an exact host beats a wildcard ("*.example.com", the longer suffix
// winning), which beats a route without a host. Among routes of the best host rank that
// also match the path, the longest path_prefix wins. Prefixes are plain byte prefixes,
// as in Envoy and nginx: "/api" matches "/api/v1" and "/apix" alike.
#pragma once

#include "core/config/config.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace canaryd::routing {

// Lower-cases a Host header value and drops its port: "API.example.com:8080" -> "api.example.com".
// "[::1]:8080" -> "[::1]".
std::string normalize_host(std::string_view host_header);

class RouteTable {
public:
    explicit RouteTable(std::shared_ptr<const config::Config> config);

    // Index into config().routes, or -1 when nothing matches (404). `host` must be normalised.
    int match(std::string_view host, std::string_view path) const;

    const config::Config& config() const { return *config_; }

private:
    struct Entry {
        int route_index;
        int host_rank;  // higher is more specific
        std::string host;  // exact host, or the suffix of a wildcard including the dot
        bool wildcard;
        std::string_view path_prefix;
    };
    std::shared_ptr<const config::Config> config_;
    std::vector<Entry> entries_;  // most specific first
};

}  // namespace canaryd::routing
