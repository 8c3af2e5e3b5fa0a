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
class FailureStatuses {
public:
    FailureStatuses() { classes_[5] = true; }
    void clear() {
        classes_.fill(false);
        codes_.clear();
    }
    void add_class(unsigned hundreds) { classes_[hundreds % 10] = true; }
    void add_code(unsigned code) { codes_.push_back(code); }
    bool matches(unsigned status) const;

private:
    std::array<bool, 10> classes_{};
    std::vector<unsigned> codes_;
};

// A request is a success when the version answered and the status is not in the failure
// set. A proxy error on the way to the version (refused, timed out, reset, invalid
// response) is a failure of that version whatever status the client was given.
inline bool is_failure(unsigned status, bool proxy_error, const FailureStatuses& statuses) {
    return proxy_error || statuses.matches(status);
}

}  // namespace canaryd::analysis
