#include "core/http/request_head.hpp"

#include "core/http/field_lines.hpp"
#include "core/http/hop_by_hop.hpp"
#include "core/text/trim.hpp"

#include <charconv>

namespace canaryd::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9112 §3.2: the request-target never carries a fragment, spaces, controls or
// non-ASCII bytes.
bool is_target_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '#';
}

using text::trim_ows;

// Calls f(element) for each element of a comma-separated list (RFC 9110 §5.6.1), skipping
// empty elements. Returns false as soon as f does.
template <class F>
bool for_each_list_element(std::string_view value, F&& f) {
    while (true) {
        const auto comma = value.find(',');
        const auto element = trim_ows(value.substr(0, comma));
        if (!element.empty() && !f(element)) return false;
        if (comma == std::string_view::npos) return true;
        value.remove_prefix(comma + 1);
    }
}

// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2).
bool is_valid_host(std::string_view host) {
    if (host.empty()) return true;  // RFC 9112 §3.2: empty when the target has no authority
    std::string_view port;
    if (host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        for (char c : host.substr(1, close - 1))
            if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return false;
        const auto rest = host.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':') return false;
        port = rest.substr(1);
        if (port.empty()) return false;
    } else {
        const auto colon = host.find(':');
        std::string_view name = host.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = host.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (name.empty()) return false;
        for (char c : name) {
            const bool ok = is_alpha(c) || is_digit(c) || std::string_view("-._~!$&'()*+,;=%").find(c) != std::string_view::npos;
            if (!ok) return false;
        }
    }
    if (port.size() > 5) return false;
    for (char c : port)
        if (!is_digit(c)) return false;
    return true;
}

struct Parser {
    Parser(const HeadLimits& l, HeadParse& o) : limits(l), out(o) {}

    const HeadLimits& limits;
    HeadParse& out;

    bool fail(unsigned status, std::string reason) {
        out.state = HeadState::error;
        out.error = HeadError{status, std::move(reason)};
        return false;
    }

    // Bytes before the head ends: any bare CR or LF is an error right away (RFC 9112 §2.2
    // lets a recipient reject them; accepting them is how parsers come to disagree).
    bool has_bare_line_ending(std::string_view text) {
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
            if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] != '\n') return true;
        }
        return false;
    }

    bool parse(std::string_view buffer) {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        std::size_t start = 0;
        while (buffer.substr(start).starts_with(kCrlf)) start += 2;
        if (start > 8) return fail(400, "too many empty lines before the request line");
        if (buffer.size() > start && buffer[start] == '\n') return fail(400, "bare LF line ending");
        const std::string_view rest = buffer.substr(start);
        const auto end = rest.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (has_bare_line_ending(rest)) return fail(400, "bare CR or LF line ending");
            const auto first_line_end = rest.find(kCrlf);
            if (first_line_end == std::string_view::npos && rest.size() > limits.request_line_bytes)
                return fail(414, "request line too long");
            if (rest.size() > limits.header_bytes) return fail(431, "request header block too large");
            out.state = HeadState::incomplete;
            return true;
        }
        const std::string_view head = rest.substr(0, end + 2);  // keep the last field's CRLF
        if (end + 4 > limits.header_bytes) return fail(431, "request header block too large");
        if (has_bare_line_ending(head)) return fail(400, "bare CR or LF line ending");
        out.head.head_bytes = start + end + 4;

        const auto line_end = head.find(kCrlf);
        if (!parse_request_line(head.substr(0, line_end)) || !parse_fields(head.substr(line_end + 2)) ||
            !interpret_fields())
            return false;
        out.state = HeadState::complete;
        return true;
    }

    bool parse_request_line(std::string_view line) {
        if (line.size() > limits.request_line_bytes) return fail(414, "request line too long");
        auto& h = out.head;
        const auto sp1 = line.find(' ');
        const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
            return fail(400, "malformed request line");
        h.method = line.substr(0, sp1);
        h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        const auto version = line.substr(sp2 + 1);
        if (h.method.empty()) return fail(400, "malformed request line");
        for (char c : h.method)
            if (!is_token_char(c)) return fail(400, "invalid method");
        if (h.target.empty()) return fail(400, "empty request target");
        for (char c : h.target)
            if (!is_target_char(c)) return fail(400, "invalid character in request target");
        if (version.size() != 8 || !version.starts_with("HTTP/") || !is_digit(version[5]) || version[6] != '.' ||
            !is_digit(version[7]))
            return fail(400, "malformed HTTP version");
        if (version[5] != '1') return fail(505, "only HTTP/1.0 and HTTP/1.1 are served on this connection");
        h.version = version[7] == '0' ? 10 : 11;
        if (h.method == "CONNECT") return fail(501, "CONNECT is not supported by this reverse proxy");
        return classify_target();
    }

    // RFC 9112 §3.2: origin-form, absolute-form, asterisk-form (OPTIONS only).
    bool classify_target() {
        auto& h = out.head;
        if (h.target.front() == '/') {
            h.origin_target = h.target;
            return true;
        }
        if (h.target == "*") {
            if (h.method != "OPTIONS") return fail(400, "'*' target is only valid for OPTIONS");
            h.origin_target = h.target;
            return true;
        }
        std::size_t scheme_len = 0;
        if (h.target.size() > 7 && iequals(h.target.substr(0, 7), "http://")) scheme_len = 7;
        else if (h.target.size() > 8 && iequals(h.target.substr(0, 8), "https://")) scheme_len = 8;
        if (scheme_len == 0) return fail(400, "request target is not in origin or absolute form");
        const auto after_scheme = h.target.substr(scheme_len);
        const auto path_start = after_scheme.find_first_of("/?");
        const auto authority = after_scheme.substr(0, path_start);
        if (authority.empty() || authority.find('@') != std::string_view::npos || !is_valid_host(authority))
            return fail(400, "invalid authority in request target");
        if (path_start == std::string_view::npos) {
            h.origin_target = "/";
        } else if (after_scheme[path_start] == '?') {
            return fail(400, "absolute-form target with a query but no path");
        } else {
            h.origin_target = after_scheme.substr(path_start);
        }
        absolute_authority_ = authority;
        return true;
    }

    bool parse_fields(std::string_view block) {
        const auto error = parse_field_lines(block, limits.field_bytes, limits.field_count, out.head.fields);
        if (error == FieldLinesError::none) return true;
        const bool too_big = error == FieldLinesError::field_too_large || error == FieldLinesError::too_many_fields;
        return fail(too_big ? 431 : 400, to_string(error));
    }

    bool interpret_fields() {
        auto& h = out.head;
        int host_count = 0;
        bool has_content_length = false;
        bool has_transfer_encoding = false;
        bool connection_close = false;
        bool connection_keep_alive = false;
        bool connection_upgrade = false;
        std::string_view upgrade_value;
        for (const auto& f : h.fields) {
            if (iequals(f.name, "host")) {
                ++host_count;
                h.host = f.value;
            } else if (iequals(f.name, "content-length")) {
                has_content_length = true;
                bool ok = true;
                for_each_list_element(f.value, [&](std::string_view element) {
                    std::uint64_t value = 0;
                    if (element.size() > 19) return ok = false;
                    for (char c : element)
                        if (!is_digit(c)) return ok = false;
                    auto [ptr, ec] = std::from_chars(element.data(), element.data() + element.size(), value);
                    if (ec != std::errc{} || ptr != element.data() + element.size()) return ok = false;
                    if (content_length_seen_ && value != h.content_length) return ok = false;
                    content_length_seen_ = true;
                    h.content_length = value;
                    return true;
                });
                if (!ok || !content_length_seen_) return fail(400, "invalid or conflicting Content-Length");
            } else if (iequals(f.name, "transfer-encoding")) {
                has_transfer_encoding = true;
                if (!read_transfer_codings(f.value)) return false;
            } else if (iequals(f.name, "connection")) {
                for_each_list_element(f.value, [&](std::string_view token) {
                    if (iequals(token, "close")) connection_close = true;
                    else if (iequals(token, "keep-alive")) connection_keep_alive = true;
                    else if (iequals(token, "upgrade")) connection_upgrade = true;
                    return true;
                });
            } else if (iequals(f.name, "expect")) {
                if (!iequals(f.value, "100-continue")) return fail(417, "only the 100-continue expectation is supported");
                h.expect_continue = h.version >= 11;  // RFC 9110 §10.1.1: ignored from HTTP/1.0
            } else if (iequals(f.name, "upgrade")) {
                upgrade_value = f.value;
            }
        }
        if (h.version >= 11 && host_count == 0 && absolute_authority_.empty())
            return fail(400, "missing Host header (RFC 9112 §3.2)");
        if (host_count > 1) return fail(400, "more than one Host header");
        if (!is_valid_host(h.host)) return fail(400, "invalid Host header");
        if (!absolute_authority_.empty()) h.host = absolute_authority_;  // RFC 9112 §3.2.2
        if (has_transfer_encoding) {
            // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
            if (h.version < 11) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
            if (has_content_length) return fail(400, "both Content-Length and Transfer-Encoding");
            if (chunked_count_ != 1 || !last_coding_chunked_)
                return fail(400, "Transfer-Encoding must end with a single chunked");
            h.framing = BodyFraming::chunked;
        } else if (has_content_length) {
            h.framing = h.content_length > 0 ? BodyFraming::content_length : BodyFraming::none;
        }
        h.keep_alive = !connection_close && (h.version >= 11 || connection_keep_alive);
        if (connection_upgrade && !upgrade_value.empty() && h.version >= 11) {
            h.upgrade = true;
            h.upgrade_protocols = upgrade_value;
        }
        return true;
    }

    bool read_transfer_codings(std::string_view value) {
        bool ok = true;
        bool any = false;
        for_each_list_element(value, [&](std::string_view coding) {
            any = true;
            if (iequals(coding, "chunked")) {
                ++chunked_count_;
                last_coding_chunked_ = true;
                return true;
            }
            last_coding_chunked_ = false;
            const auto name = trim_ows(coding.substr(0, coding.find(';')));
            if (iequals(name, "chunked")) fail(400, "chunked takes no parameters");
            else fail(501, "transfer coding '" + std::string(name) + "' is not supported");
            return ok = false;
        });
        if (ok && !any) fail(400, "empty Transfer-Encoding");
        return ok && any;
    }

    std::string_view absolute_authority_;
    bool content_length_seen_ = false;
    int chunked_count_ = 0;
    bool last_coding_chunked_ = false;
};

}  // namespace

int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_token_char(char c) {
    return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view RequestHead::find(std::string_view name) const {
    for (const auto& f : fields)
        if (iequals(f.name, name)) return f.value;
    return {};
}

bool RequestHead::has(std::string_view name) const {
    for (const auto& f : fields)
        if (iequals(f.name, name)) return true;
    return false;
}

void parse_request_head(std::string_view buffer, const HeadLimits& limits, HeadParse& out) {
    auto fields = std::move(out.head.fields);
    fields.clear();
    out = HeadParse{};
    out.head.fields = std::move(fields);
    Parser parser(limits, out);
    parser.parse(buffer);
}

HeadParse parse_request_head(std::string_view buffer, const HeadLimits& limits) {
    HeadParse out;
    parse_request_head(buffer, limits, out);
    return out;
}

}  // namespace canaryd::http
