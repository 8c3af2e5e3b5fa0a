#include "core/http/response_head.hpp"

#include "core/http/hop_by_hop.hpp"

#include <charconv>

namespace canaryd::http {

void append_client_head(std::string& out, unsigned status, std::string_view reason, std::span<const Field> fields,
                        const ClientHeadOptions& options) {
    HopByHopFilter filter;
    for (const auto& f : fields)
        if (iequals(f.name, "connection")) filter.add_connection_value(f.value);
    out.append(options.version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
    char digits[8];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, status);
    out.append(digits, end);
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n");
    bool has_request_id = false;
    bool via_written = false;
    for (const auto& f : fields) {
        if (filter.drops(f.name)) continue;
        if (options.framing != ClientFraming::content_length && options.framing != ClientFraming::none &&
            iequals(f.name, "content-length"))
            continue;
        if (iequals(f.name, "via")) {
            if (via_written) continue;
            // Every Via of the upstream, then this hop (RFC 9110 §7.6.3), in one field.
            out.append("Via: ");
            bool first = true;
            for (const auto& v : fields) {
                if (!iequals(v.name, "via")) continue;
                if (!first) out.append(", ");
                out.append(v.value);
                first = false;
            }
            out.append(", 1.1 canaryd\r\n");
            via_written = true;
            continue;
        }
        if (iequals(f.name, "x-request-id")) has_request_id = true;
        out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    if (!via_written) out.append("Via: 1.1 canaryd\r\n");
    if (!has_request_id && !options.request_id.empty()) out.append("X-Request-Id: ").append(options.request_id).append("\r\n");
    if (!options.extra_name.empty()) out.append(options.extra_name).append(": ").append(options.extra_value).append("\r\n");
    if (!options.upgrade.empty()) {
        out.append("Connection: upgrade\r\nUpgrade: ").append(options.upgrade).append("\r\n");
    } else {
        if (options.framing == ClientFraming::chunked) out.append("Transfer-Encoding: chunked\r\n");
        // HTTP/1.1 keeps connections open unless told; HTTP/1.0 closes unless told (RFC 9112 §9.3).
        if (options.version >= 11 && !options.keep_alive) out.append("Connection: close\r\n");
        if (options.version < 11 && options.keep_alive) out.append("Connection: keep-alive\r\n");
    }
    out.append("\r\n");
}

}  // namespace canaryd::http
