// Hop-by-hop header rules for a proxy (RFC 9110 §7.6.1): Connection, every field it names,
// and the fields that only ever describe one connection are not forwarded.
#pragma once

#include <string_view>
#include <vector>

namespace canaryd::http {

// Case-insensitive ASCII comparison (field names are case-insensitive, RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b);

// Fields a proxy never forwards, whatever Connection says. Transfer-Encoding is framing of
// the hop and is re-applied by the serializer; Upgrade is forwarded only by the upgrade path.
bool is_always_hop_by_hop(std::string_view name);

// Fields that Connection may not remove: the proxy needs them to route and frame the message,
// or adds them itself. RFC 9110 §7.6.1 lets a sender list any field, so a client could
// otherwise strip Host or X-Forwarded-For from what the upstream sees.
bool is_protected_from_connection(std::string_view name);

class HopByHopFilter {
public:
    // Adds the comma-separated field names of one Connection header value.
    void add_connection_value(std::string_view value);
    // True when the field must not be forwarded.
    bool drops(std::string_view name) const;
    bool connection_has(std::string_view token) const;  // e.g. "close", "upgrade"

private:
    std::vector<std::string_view> named_;  // views into the message's own Connection values
};

}  // namespace canaryd::http
