#include "core/http/upstream_request.hpp"

#include "core/http/hop_by_hop.hpp"

#include <charconv>

namespace canaryd::http {
namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

// Fields the proxy sets itself, or that describe the client connection's framing.
bool is_rebuilt_by_proxy(std::string_view name) {
    return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "x-forwarded-for") ||
           iequals(name, "x-forwarded-proto") || iequals(name, "x-forwarded-host") || iequals(name, "via") ||
           iequals(name, "x-request-id") || iequals(name, "expect");
}

// Every instance of a list-valued field joined, then `last` (RFC 9110 §5.3), as one field.
void append_joined(std::string& out, std::string_view name, const RequestHead& head, std::string_view last) {
    out.append(name).append(": ");
    for (const auto& f : head.fields)
        if (iequals(f.name, name)) out.append(f.value).append(", ");
    out.append(last).append("\r\n");
}

}  // namespace

std::string build_upstream_head(const RequestHead& head, const ForwardInfo& info) {
    std::string out;
    append_upstream_head(out, head, info);
    return out;
}

void append_upstream_head(std::string& out, const RequestHead& head, const ForwardInfo& info) {
    HopByHopFilter filter;
    for (const auto& f : head.fields)
        if (iequals(f.name, "connection")) filter.add_connection_value(f.value);
    out.append(head.method).append(" ").append(head.origin_target).append(" HTTP/1.1\r\n");
    append_field(out, "Host", head.host.empty() ? info.fallback_host : head.host);
    for (const auto& f : head.fields) {
        if (filter.drops(f.name) || is_rebuilt_by_proxy(f.name)) continue;
        append_field(out, f.name, f.value);
    }
    append_joined(out, "X-Forwarded-For", head, info.peer_ip);
    append_field(out, "X-Forwarded-Proto", info.scheme);
    if (!head.host.empty()) append_field(out, "X-Forwarded-Host", head.host);
    append_joined(out, "Via", head, "1.1 canaryd");
    append_field(out, "X-Request-Id", info.request_id);
    if (head.expect_continue) append_field(out, "Expect", "100-continue");
    if (head.framing == BodyFraming::chunked) {
        append_field(out, "Transfer-Encoding", "chunked");
    } else if (head.framing == BodyFraming::content_length) {
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, head.content_length);
        append_field(out, "Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    if (info.upgrade && head.upgrade) {
        append_field(out, "Connection", "upgrade");
        append_field(out, "Upgrade", head.upgrade_protocols);
    }
    out.append("\r\n");
}

bool is_acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

void assign_request_id(std::uint64_t high, std::uint64_t low, std::string& out) {
    high = (high & ~0xF000ull) | 0x4000ull;      // version 4 in bits 48-51
    low = (low & ~(3ull << 62)) | (2ull << 62);  // variant 10 in bits 64-65
    static constexpr char hex[] = "0123456789abcdef";
    out.resize(36);
    std::size_t at = 0;
    auto put = [&](std::uint64_t value, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) out[at++] = hex[(value >> (4 * i)) & 0xF];
    };
    put(high >> 32, 8);
    out[at++] = '-';
    put((high >> 16) & 0xFFFF, 4);
    out[at++] = '-';
    put(high & 0xFFFF, 4);
    out[at++] = '-';
    put(low >> 48, 4);
    out[at++] = '-';
    put(low & 0xFFFFFFFFFFFFull, 12);
}

std::string format_request_id(std::uint64_t high, std::uint64_t low) {
    std::string out;
    assign_request_id(high, low, out);
    return out;
}

}  // namespace canaryd::http
