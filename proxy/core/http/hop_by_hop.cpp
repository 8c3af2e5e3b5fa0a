#include "core/http/hop_by_hop.hpp"

#include <algorithm>

namespace canaryd::http {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

bool is_always_hop_by_hop(std::string_view name) {
    static constexpr std::string_view names[] = {"connection", "keep-alive", "proxy-connection", "te",
                                                 "trailer",    "upgrade",    "transfer-encoding"};
    return std::any_of(std::begin(names), std::end(names), [&](std::string_view n) { return iequals(n, name); });
}

bool is_protected_from_connection(std::string_view name) {
    static constexpr std::string_view names[] = {"host",          "content-length",    "x-forwarded-for",
                                                 "x-forwarded-proto", "x-forwarded-host", "via",
                                                 "x-request-id",  "transfer-encoding"};
    return std::any_of(std::begin(names), std::end(names), [&](std::string_view n) { return iequals(n, name); });
}

void HopByHopFilter::add_connection_value(std::string_view value) {
    while (!value.empty()) {
        auto comma = value.find(',');
        std::string_view token = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
        if (!token.empty()) named_.push_back(token);
    }
}

bool HopByHopFilter::drops(std::string_view name) const {
    if (is_always_hop_by_hop(name)) return true;
    if (is_protected_from_connection(name)) return false;
    return std::any_of(named_.begin(), named_.end(), [&](std::string_view n) { return iequals(n, name); });
}

bool HopByHopFilter::connection_has(std::string_view token) const {
    return std::any_of(named_.begin(), named_.end(), [&](std::string_view n) { return iequals(n, token); });
}

}  // namespace canaryd::http
