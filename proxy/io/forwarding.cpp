#include "io/forwarding.hpp"

#include "http/hop_by_hop.hpp"

#include <cstdio>

namespace canaryd::io {
namespace {

using canaryd::http::HopByHopFilter;
using canaryd::http::iequals;

template <bool IsRequest>
HopByHopFilter filter_for(const http::header<IsRequest>& in) {
    HopByHopFilter filter;
    for (auto [it, end] = in.equal_range(http::field::connection); it != end; ++it)
        filter.add_connection_value(it->value());
    return filter;
}

// Joins every instance of a list-valued field, then appends `extra` (RFC 9110 §5.3).
template <bool IsRequest>
std::string joined_with(const http::header<IsRequest>& in, std::string_view name, std::string_view extra) {
    std::string out;
    for (auto [it, end] = in.equal_range(name); it != end; ++it) {
        if (!out.empty()) out += ", ";
        out.append(it->value().data(), it->value().size());
    }
    if (!extra.empty()) {
        if (!out.empty()) out += ", ";
        out.append(extra);
    }
    return out;
}

constexpr std::string_view kViaToken = "1.1 canaryd";

}  // namespace

void build_upstream_request(const http::request_header<>& in, bool in_chunked, const ForwardContext& context,
                            http::request_header<>& out) {
    out = http::request_header<>{};
    if (in.method() == http::verb::unknown)
        out.method_string(in.method_string());
    else
        out.method(in.method());
    out.target(in.target());
    out.version(11);
    const HopByHopFilter filter = filter_for(in);
    for (const auto& f : in) {
        const auto name = f.name_string();
        if (filter.drops(name)) continue;
        // Rebuilt below from what canaryd itself saw.
        if (f.name() == http::field::via) continue;
        if (f.name() == http::field::unknown &&
            (iequals(name, "x-forwarded-for") || iequals(name, "x-forwarded-proto") ||
             iequals(name, "x-forwarded-host") || iequals(name, "x-request-id")))
            continue;
        out.insert(name, f.value());
    }
    out.set("x-forwarded-for", joined_with(in, "x-forwarded-for", context.peer_ip));
    out.set("x-forwarded-proto", context.scheme);
    if (auto host = in.find(http::field::host); host != in.end()) out.set("x-forwarded-host", host->value());
    out.set(http::field::via, joined_with(in, "via", kViaToken));
    out.set("x-request-id", context.request_id);
    if (in_chunked) out.set(http::field::transfer_encoding, "chunked");
}

void build_client_response(const http::response_header<>& in, const ForwardContext& context,
                           http::response_header<>& out) {
    out = http::response_header<>{};
    out.result(in.result_int());
    out.reason(in.reason());
    out.version(11);
    const HopByHopFilter filter = filter_for(in);
    bool has_request_id = false;
    for (const auto& f : in) {
        const auto name = f.name_string();
        if (filter.drops(name)) continue;
        if (f.name() == http::field::via) continue;
        if (f.name() == http::field::unknown && iequals(name, "x-request-id")) has_request_id = true;
        out.insert(name, f.value());
    }
    out.set(http::field::via, joined_with(in, "via", kViaToken));
    if (!has_request_id) out.set("x-request-id", context.request_id);
}

bool is_acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

std::string format_request_id(std::uint64_t high, std::uint64_t low) {
    // RFC 9562 §5.4: version 4 in bits 48-51, variant 10 in bits 64-65.
    high = (high & ~0xF000ull) | 0x4000ull;
    low = (low & ~(3ull << 62)) | (2ull << 62);
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                  static_cast<unsigned>((high >> 16) & 0xFFFF), static_cast<unsigned>(high & 0xFFFF),
                  static_cast<unsigned>(low >> 48), static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
    return text;
}

}  // namespace canaryd::io
