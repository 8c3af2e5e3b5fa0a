#include "core/grpc/grpc_status.hpp"

#include <array>
#include <charconv>

namespace canaryd::grpc {

namespace {

constexpr std::array<const char*, kStatusCount> kNames{
    "OK",           "CANCELLED",          "UNKNOWN",        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",           "UNAVAILABLE",    "DATA_LOSS",        "UNAUTHENTICATED"};

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

bool is_grpc_content_type(std::string_view content_type) {
    constexpr std::string_view kGrpc = "application/grpc";
    if (content_type.size() < kGrpc.size()) return false;
    for (std::size_t i = 0; i < kGrpc.size(); ++i)
        if (static_cast<char>(content_type[i] | 0x20) != kGrpc[i] && content_type[i] != kGrpc[i]) return false;
    return content_type.size() == kGrpc.size() || content_type[kGrpc.size()] == '+' || content_type[kGrpc.size()] == ';';
}

const char* status_name(int code) { return code >= 0 && code < kStatusCount ? kNames[static_cast<std::size_t>(code)] : "UNKNOWN"; }

std::optional<int> status_from_name(std::string_view name) {
    for (int code = 0; code < kStatusCount; ++code) {
        std::string_view known = kNames[static_cast<std::size_t>(code)];
        if (known.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i) same = upper(name[i]) == known[i];
        if (same) return code;
    }
    return std::nullopt;
}

std::optional<int> parse_status(std::string_view value) {
    int code = -1;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
    if (ec != std::errc{} || end != value.data() + value.size() || code < 0 || code >= kStatusCount) return std::nullopt;
    return code;
}

int status_for_http(unsigned http_status) {
    switch (http_status) {
        case 400: return 13;  // INTERNAL: canaryd could not read the call
        case 401: return 16;  // UNAUTHENTICATED
        case 403: return 7;   // PERMISSION_DENIED
        case 404: return kUnimplemented;  // no route for this service
        case 408: return kDeadlineExceeded;
        case 413:
        case 431:
        case 429: return 8;  // RESOURCE_EXHAUSTED
        case 502:
        case 503: return kUnavailable;
        case 504: return kDeadlineExceeded;
        default: return http_status >= 500 ? kUnavailable : kUnknown;
    }
}

void append_error_response(std::string& out, unsigned http_status, std::string_view message, std::string_view request_id) {
    out.append("HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: ");
    out.append(std::to_string(status_for_http(http_status)));
    out.append("\r\ngrpc-message: ");
    // Percent-encoded outside printable ASCII and '%' (gRPC's grpc-message rule).
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char c : message) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e || c == '%') {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    out.append("\r\n");
    if (!request_id.empty()) out.append("x-request-id: ").append(request_id).append("\r\n");
    out.append("content-length: 0\r\n\r\n");
}

std::optional<std::chrono::milliseconds> parse_timeout(std::string_view value) {
    if (value.size() < 2 || value.size() > 9) return std::nullopt;  // at most 8 digits and a unit
    std::uint64_t amount = 0;
    const auto digits = value.substr(0, value.size() - 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), amount);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    using namespace std::chrono;
    switch (value.back()) {
        case 'H': return duration_cast<milliseconds>(hours(amount));
        case 'M': return duration_cast<milliseconds>(minutes(amount));
        case 'S': return duration_cast<milliseconds>(seconds(amount));
        case 'm': return milliseconds(amount);
        case 'u': return duration_cast<milliseconds>(microseconds(amount + 999));  // rounded up
        case 'n': return duration_cast<milliseconds>(nanoseconds(amount + 999'999));
        default: return std::nullopt;
    }
}

}  // namespace canaryd::grpc
