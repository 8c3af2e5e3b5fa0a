#include "core/http/error_page.hpp"

namespace canaryd::http {

std::string_view reason_phrase(unsigned status) {
    switch (status) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
    }
}

std::string error_body(unsigned status, std::string_view detail) {
    std::string body = std::to_string(status);
    body += ' ';
    body += reason_phrase(status);
    if (!detail.empty()) {
        body += ": ";
        body += detail;
    }
    body += '\n';
    return body;
}

void append_error_response(std::string& out, unsigned status, std::string_view detail, int version, bool keep_alive,
                           std::string_view request_id) {
    const std::string body = error_body(status, detail);
    out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ").append(std::to_string(status)).append(" ");
    out.append(reason_phrase(status)).append("\r\n");
    out.append("Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n");
    if (!request_id.empty()) out.append("X-Request-Id: ").append(request_id).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    if (version >= 11 && !keep_alive) out.append("Connection: close\r\n");
    if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n");
    out.append("\r\n").append(body);
}

}  // namespace canaryd::http
