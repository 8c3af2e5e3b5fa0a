// What one proxied request tells the analyzer about the version that served it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace canaryd::analysis {

// Failures canaryd itself observed on the way to a version (canaryd_upstream_errors_total).
// `tls`: the TLS handshake with an upstream failed (a certificate that does not verify, a
// client certificate refused) — told apart from `connect` because the fix is not the same.
enum class ErrorKind : std::uint8_t { connect, timeout, reset, invalid_response, no_endpoint, tls };
inline constexpr std::size_t kErrorKinds = 6;
std::string_view to_string(ErrorKind kind);

// Which final statuses count as failures of the version: a list of exact codes and
// classes ("5xx"). Default: every 5xx.
// A gRPC call is judged by its grpc-status instead (default: UNKNOWN, DEADLINE_EXCEEDED,
// INTERNAL, UNAVAILABLE, DATA_LOSS; `grpc:NAME` entries replace that set).
class FailureStatuses {
public:
    FailureStatuses() {
        classes_[5] = true;
        for (int code : {2, 4, 13, 14, 15}) grpc_[static_cast<std::size_t>(code)] = true;
    }
    // The HTTP part only: a list of statuses leaves the gRPC default in place.
    void clear() {
        classes_.fill(false);
        codes_.clear();
    }
    void add_class(unsigned hundreds) { classes_[hundreds % 10] = true; }
    void add_code(unsigned code) { codes_.push_back(code); }
    // The first gRPC entry replaces the default gRPC set.
    void add_grpc(int code) {
        if (!grpc_listed_) grpc_.fill(false);
        grpc_listed_ = true;
        if (code >= 0 && code < 17) grpc_[static_cast<std::size_t>(code)] = true;
    }
    bool matches(unsigned status) const;
    bool matches_grpc(int grpc_status) const {
        return grpc_status < 0 || grpc_status >= 17 || grpc_[static_cast<std::size_t>(grpc_status)];
    }

private:
    std::array<bool, 10> classes_{};
    std::vector<unsigned> codes_;
    std::array<bool, 17> grpc_{};
    bool grpc_listed_ = false;
};

// A request is a success when the version answered and the status is not in the failure
// set. A proxy error on the way to the version (refused, timed out, reset, invalid
// response) is a failure of that version whatever status the client was given.
inline bool is_failure(unsigned status, bool proxy_error, const FailureStatuses& statuses) {
    return proxy_error || statuses.matches(status);
}
// A gRPC call (grpc_status >= 0 when one arrived, -1 when none did: a failure too).
inline bool is_grpc_failure(unsigned status, int grpc_status, bool proxy_error, const FailureStatuses& statuses) {
    return proxy_error || (status != 200 && statuses.matches(status)) || statuses.matches_grpc(grpc_status);
}

}  // namespace canaryd::analysis
