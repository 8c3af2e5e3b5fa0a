#include "core/h2/h1_translate.hpp"

#include "core/grpc/grpc_status.hpp"
#include "core/http/hop_by_hop.hpp"

#include <algorithm>
#include <cctype>

namespace canaryd::h2 {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool connection_specific(std::string_view name) {
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
           name == "upgrade";
}

// Field values cannot carry a line break into the HTTP/1.1 head (nghttp2 refuses them too).
bool safe_value(std::string_view v) {
    return std::none_of(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

}  // namespace

Result<H1Request> h1_request(const HeaderList& fields, bool ends_stream) {
    std::string_view method, scheme, authority, path;
    std::string cookies;
    bool has_content_length = false;
    for (const auto& [name, value] : fields) {
        if (!safe_value(value)) return Error{"a field value holds a line break"};
        if (name == ":method") method = value;
        else if (name == ":scheme") scheme = value;
        else if (name == ":authority") authority = value;
        else if (name == ":path") path = value;
        else if (!name.empty() && name[0] == ':') return Error{"unknown pseudo-header " + name};
        else if (name == "content-length") has_content_length = true;
    }
    if (method.empty()) return Error{"no :method"};
    if (method == "CONNECT") return Error{"CONNECT is not supported"};
    if (path.empty() || scheme.empty()) return Error{"no :path or :scheme"};
    H1Request out;
    auto& h = out.head;
    h.reserve(256);
    h.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
    bool has_host = false;
    if (!authority.empty()) {
        h.append("Host: ").append(authority).append("\r\n");
        has_host = true;
    }
    for (const auto& [name, value] : fields) {
        if (name.empty() || name[0] == ':') continue;
        if (name == "cookie") {
            // RFC 9113 §8.2.3: an HTTP/1.1 message carries one Cookie field.
            if (!cookies.empty()) cookies += "; ";
            cookies += value;
            continue;
        }
        if (name == "host") {
            if (has_host) continue;  // :authority wins (RFC 9113 §8.3.1)
            has_host = true;
        }
        if (connection_specific(name) || name == "te") continue;
        h.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_host) return Error{"no :authority or host"};
    if (!cookies.empty()) h.append("cookie: ").append(cookies).append("\r\n");
    // One exchange per stream: the engine closes its side when the response is done.
    h.append("Connection: close\r\n");
    if (!ends_stream && !has_content_length) {
        h.append("Transfer-Encoding: chunked\r\n");
        out.chunked_body = true;
    }
    h.append("\r\n");
    return out;
}

void append_chunk(std::string& out, std::string_view data) {
    if (data.empty()) return;  // an empty chunk would end the body
    char size[20];
    static constexpr char kHex[] = "0123456789abcdef";
    int n = 0;
    for (auto v = data.size(); v != 0; v >>= 4) size[n++] = kHex[v & 0xf];
    while (n > 0) out.push_back(size[--n]);
    out.append("\r\n").append(data).append("\r\n");
}

void append_last_chunk(std::string& out, const HeaderList& trailers) {
    out.append("0\r\n");
    for (const auto& [name, value] : trailers)
        if (!name.empty() && name[0] != ':' && safe_value(value)) out.append(name).append(": ").append(value).append("\r\n");
    out.append("\r\n");
}

HeaderList h2_response_fields(const http::ResponseHead& head) {
    HeaderList out;
    out.emplace_back(":status", std::to_string(head.status));
    std::vector<std::string> named_by_connection;
    for (const auto& f : head.fields)
        if (http::iequals(f.name, "connection")) {
            std::string_view v = f.value;
            while (!v.empty()) {
                const auto comma = v.find(',');
                auto token = v.substr(0, comma);
                while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
                while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
                if (!token.empty()) named_by_connection.push_back(lower(token));
                if (comma == std::string_view::npos) break;
                v.remove_prefix(comma + 1);
            }
        }
    for (const auto& f : head.fields) {
        auto name = lower(f.name);
        if (connection_specific(name)) continue;
        if (std::find(named_by_connection.begin(), named_by_connection.end(), name) != named_by_connection.end()) continue;
        out.emplace_back(std::move(name), std::string(f.value));
    }
    return out;
}

HeaderList h2_request_fields(const http::RequestHead& head, bool https) {
    HeaderList out;
    out.emplace_back(":method", std::string(head.method));
    out.emplace_back(":scheme", https ? "https" : "http");
    out.emplace_back(":authority", std::string(head.host));
    out.emplace_back(":path", std::string(head.origin_target));
    bool grpc = false, has_te = false;
    for (const auto& f : head.fields) {
        auto name = lower(f.name);
        if (connection_specific(name) || name == "host") continue;
        if (name == "te" && !http::iequals(f.value, "trailers")) continue;  // RFC 9113 §8.2.2
        has_te = has_te || name == "te";
        grpc = grpc || (name == "content-type" && grpc::is_grpc_content_type(f.value));
        out.emplace_back(std::move(name), std::string(f.value));
    }
    // gRPC servers insist on "te: trailers"; the HTTP/1.1 engine dropped it as hop-by-hop.
    if (grpc && !has_te) out.emplace_back("te", "trailers");
    return out;
}

std::string h1_response_head(const HeaderList& fields, bool has_body) {
    std::string status = "502";
    bool has_length = false;
    for (const auto& [name, value] : fields) {
        if (name == ":status") status = value;
        else if (name == "content-length") has_length = true;
    }
    std::string out = "HTTP/1.1 " + status + " \r\n";
    for (const auto& [name, value] : fields) {
        if (name.empty() || name[0] == ':' || connection_specific(name) || !safe_value(value)) continue;
        out.append(name).append(": ").append(value).append("\r\n");
    }
    if (has_body && !has_length) out.append("Transfer-Encoding: chunked\r\n");
    out.append("Connection: close\r\n\r\n");
    return out;
}

void append_trailers(std::string& out, const HeaderList& trailers) { append_last_chunk(out, trailers); }

}  // namespace canaryd::h2
