#include "core/http/response_parser.hpp"

#include "core/http/field_lines.hpp"
#include "core/http/hop_by_hop.hpp"
#include "core/http/response_framing.hpp"

#include <charconv>

namespace canaryd::http {

namespace {

bool fail(ResponseParse& out, std::string message) {
    out.state = HeadState::error;
    out.error = std::move(message);
    return false;
}

bool parse_status_line(std::string_view line, ResponseParse& out) {
    auto& h = out.head;
    // HTTP-version SP status-code SP [reason-phrase]; a missing final SP is tolerated.
    if (line.size() < 12 || !line.starts_with("HTTP/1.") || (line[7] != '0' && line[7] != '1') || line[8] != ' ')
        return fail(out, "invalid status line in the upstream response");
    h.version = line[7] == '0' ? 10 : 11;
    unsigned status = 0;
    const auto digits = line.substr(9, 3);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + 3, status);
    if (ec != std::errc{} || ptr != digits.data() + 3 || status < 100 || status > 599)
        return fail(out, "invalid status code in the upstream response");
    if (line.size() > 12 && line[12] != ' ') return fail(out, "invalid status line in the upstream response");
    h.status = status;
    h.reason = line.size() > 13 ? line.substr(13) : std::string_view{};
    for (char c : h.reason)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
            return fail(out, "control character in the upstream's reason phrase");
    return true;
}

}  // namespace

void parse_response_head(std::string_view buffer, std::size_t max_head_bytes, bool request_was_head,
                         ResponseParse& out) {
    auto fields = std::move(out.head.fields);
    fields.clear();
    out = ResponseParse{};
    out.head.fields = std::move(fields);
    auto& h = out.head;
    const auto end = find_head_end(buffer);
    if (end.bare_line_ending) return (void)fail(out, "bare CR or LF in the upstream response head");
    if (end.end == std::string_view::npos) {
        if (buffer.size() > max_head_bytes) fail(out, "upstream response head too large");
        return;  // incomplete
    }
    if (end.end > max_head_bytes) return (void)fail(out, "upstream response head too large");
    const std::string_view head = buffer.substr(0, end.end - 2);  // keep the last field's CRLF
    const auto line_end = head.find("\r\n");
    if (!parse_status_line(head.substr(0, line_end), out)) return;
    if (auto error = parse_field_lines(head.substr(line_end + 2), max_head_bytes, 1000, h.fields);
        error != FieldLinesError::none)
        return (void)fail(out, std::string("upstream response: ") + to_string(error));
    if (auto problem = check_response_framing(h.fields); !problem.empty()) return (void)fail(out, problem);
    h.head_bytes = end.end;

    bool chunked = false;
    bool has_length = false;
    bool connection_close = false;
    bool connection_keep_alive = false;
    for (const auto& f : h.fields) {
        if (iequals(f.name, "content-length")) {
            // Validated (and equal if repeated) by check_response_framing.
            auto digits = f.value.substr(0, f.value.find(','));
            while (!digits.empty() && digits.back() == ' ') digits.remove_suffix(1);
            std::from_chars(digits.data(), digits.data() + digits.size(), h.content_length);
            has_length = true;
        } else if (iequals(f.name, "transfer-encoding")) {
            chunked = true;  // check_response_framing admits only a single "chunked"
        } else if (iequals(f.name, "connection")) {
            HopByHopFilter tokens;
            tokens.add_connection_value(f.value);
            connection_close |= tokens.connection_has("close");
            connection_keep_alive |= tokens.connection_has("keep-alive");
        } else if (iequals(f.name, "upgrade")) {
            h.upgrade = f.value;
        }
    }
    // RFC 9112 §6.3: HEAD and 1xx/204/304 responses end with their head.
    if (request_was_head || h.status < 200 || h.status == 204 || h.status == 304)
        h.framing = ResponseFraming::none;
    else if (chunked)
        h.framing = ResponseFraming::chunked;
    else if (has_length)
        h.framing = h.content_length == 0 ? ResponseFraming::none : ResponseFraming::content_length;
    else
        h.framing = ResponseFraming::until_close;
    h.keep_alive = !connection_close && (h.version >= 11 || connection_keep_alive) &&
                   h.framing != ResponseFraming::until_close;
    out.state = HeadState::complete;
}

}  // namespace canaryd::http
