// gRPC over canaryd (issue #16): what a call's outcome is and how canaryd answers a gRPC
// client itself. Pure.
//
// A gRPC call is a request whose content-type is application/grpc (or application/grpc+...).
// Its outcome is the grpc-status of its trailers (or of its headers, in a trailers-only
// response), not the HTTP status, which is 200 for every answered call. Names and codes are
// gRPC's (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace canaryd::grpc {

inline constexpr int kStatusCount = 17;  // OK (0) .. UNAUTHENTICATED (16)
inline constexpr int kOk = 0, kUnknown = 2, kDeadlineExceeded = 4, kUnimplemented = 12, kInternal = 13, kUnavailable = 14,
                     kDataLoss = 15;

bool is_grpc_content_type(std::string_view content_type);
// "UNAVAILABLE" for 14; "UNKNOWN" outside 0..16.
const char* status_name(int code);
// A name ("UNAVAILABLE", any case) to its code.
std::optional<int> status_from_name(std::string_view name);
// A grpc-status field value ("14") to its code; nullopt when it is not a number in 0..16.
std::optional<int> parse_status(std::string_view value);

// The gRPC status a call gets when canaryd itself answers with `http_status` (502 ->
// UNAVAILABLE, 504 -> DEADLINE_EXCEEDED, 404 -> UNIMPLEMENTED, ...).
int status_for_http(unsigned http_status);
// canaryd's own answer to a gRPC call: HTTP 200, trailers-only (grpc-status, grpc-message
// percent-encoded, as gRPC requires), never an HTML or text page a gRPC client cannot read.
void append_error_response(std::string& out, unsigned http_status, std::string_view message, std::string_view request_id);

// grpc-timeout ("100m", "2S", "1H"; gRPC's TimeoutValue TimeoutUnit): the call's deadline.
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view value);

}  // namespace canaryd::grpc
