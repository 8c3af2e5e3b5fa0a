#include "http/upstream_request.hpp"

#include "http/hop_by_hop.hpp"

#include <cstdio>

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

}  // namespace

std::string build_upstream_head(const RequestHead& head, const ForwardInfo& info) {
    HopByHopFilter filter;
    std::string forwarded_for;
    std::string via;
    for (const auto& f : head.fields) {
        if (iequals(f.name, "connection")) filter.add_connection_value(f.value);
        else if (iequals(f.name, "x-forwarded-for")) forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(f.value);
        else if (iequals(f.name, "via")) via.append(via.empty() ? "" : ", ").append(f.value);
    }
    std::string out;
    out.reserve(head.head_bytes + 256);
    out.append(head.method).append(" ").append(head.origin_target).append(" HTTP/1.1\r\n");
    append_field(out, "Host", head.host.empty() ? info.fallback_host : head.host);
    for (const auto& f : head.fields) {
        if (filter.drops(f.name) || is_rebuilt_by_proxy(f.name)) continue;
        append_field(out, f.name, f.value);
    }
    forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(info.peer_ip);
    append_field(out, "X-Forwarded-For", forwarded_for);
    append_field(out, "X-Forwarded-Proto", info.scheme);
    if (!head.host.empty()) append_field(out, "X-Forwarded-Host", head.host);
    via.append(via.empty() ? "" : ", ").append("1.1 canaryd");
    append_field(out, "Via", via);
    append_field(out, "X-Request-Id", info.request_id);
    if (head.expect_continue) append_field(out, "Expect", "100-continue");
    if (head.framing == BodyFraming::chunked) append_field(out, "Transfer-Encoding", "chunked");
    else if (head.framing == BodyFraming::content_length) append_field(out, "Content-Length", std::to_string(head.content_length));
    if (info.upgrade && head.upgrade) {
        append_field(out, "Connection", "upgrade");
        append_field(out, "Upgrade", head.upgrade_protocols);
    }
    out.append("\r\n");
    return out;
}

bool is_acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

std::string format_request_id(std::uint64_t high, std::uint64_t low) {
    high = (high & ~0xF000ull) | 0x4000ull;                  // version 4 in bits 48-51
    low = (low & ~(3ull << 62)) | (2ull << 62);              // variant 10 in bits 64-65
    char text[40];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                  static_cast<unsigned>((high >> 16) & 0xFFFF), static_cast<unsigned>(high & 0xFFFF),
                  static_cast<unsigned>(low >> 48), static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
    return text;
}

}  // namespace canaryd::http
