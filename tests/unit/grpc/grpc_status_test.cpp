#include "core/analysis/outcome.hpp"
#include "core/grpc/grpc_status.hpp"
#include "core/http/response_parser.hpp"

#include <doctest/doctest.h>

using namespace canaryd;

TEST_CASE("grpc: the call's content-type, status names and codes") {
    CHECK(grpc::is_grpc_content_type("application/grpc"));
    CHECK(grpc::is_grpc_content_type("application/grpc+proto"));
    CHECK(grpc::is_grpc_content_type("Application/GRPC"));
    CHECK_FALSE(grpc::is_grpc_content_type("application/grpc-web"));
    CHECK_FALSE(grpc::is_grpc_content_type("application/json"));
    CHECK_FALSE(grpc::is_grpc_content_type(""));
    CHECK(std::string(grpc::status_name(14)) == "UNAVAILABLE");
    CHECK(std::string(grpc::status_name(99)) == "UNKNOWN");
    CHECK(grpc::status_from_name("unavailable") == 14);
    CHECK(grpc::status_from_name("DEADLINE_EXCEEDED") == 4);
    CHECK_FALSE(grpc::status_from_name("NOPE"));
    CHECK(grpc::parse_status("0") == 0);
    CHECK(grpc::parse_status("16") == 16);
    CHECK_FALSE(grpc::parse_status("17"));
    CHECK_FALSE(grpc::parse_status("1x"));
    CHECK_FALSE(grpc::parse_status(""));
}

TEST_CASE("grpc: grpc-timeout values, and what canaryd's own errors become") {
    using std::chrono::milliseconds;
    CHECK(grpc::parse_timeout("100m") == milliseconds(100));
    CHECK(grpc::parse_timeout("2S") == milliseconds(2000));
    CHECK(grpc::parse_timeout("1M") == milliseconds(60'000));
    CHECK(grpc::parse_timeout("1H") == milliseconds(3'600'000));
    CHECK(grpc::parse_timeout("1500u") == milliseconds(2));  // rounded up, never 0 for a real deadline
    CHECK(grpc::parse_timeout("1n") == milliseconds(1));
    CHECK_FALSE(grpc::parse_timeout("100"));
    CHECK_FALSE(grpc::parse_timeout("123456789S"));  // more than 8 digits
    CHECK_FALSE(grpc::parse_timeout("10x"));
    CHECK(grpc::status_for_http(502) == grpc::kUnavailable);
    CHECK(grpc::status_for_http(503) == grpc::kUnavailable);
    CHECK(grpc::status_for_http(504) == grpc::kDeadlineExceeded);
    CHECK(grpc::status_for_http(404) == grpc::kUnimplemented);

    std::string response;
    grpc::append_error_response(response, 502, "upstream refused the connection (100% sure)", "r1");
    http::ResponseParse parse;
    http::parse_response_head(response, 64 * 1024, false, parse);
    REQUIRE(parse.state == http::HeadState::complete);
    CHECK(parse.head.status == 200);  // a gRPC error is an answered call
    CHECK(response.find("grpc-status: 14\r\n") != std::string::npos);
    CHECK(response.find("grpc-message: upstream refused the connection (100%25 sure)\r\n") != std::string::npos);
    CHECK(response.find("content-type: application/grpc\r\n") != std::string::npos);
    CHECK(parse.head.framing == http::ResponseFraming::none);  // trailers-only
}

TEST_CASE("grpc: failure statuses — gRPC's default set, replaced by grpc: entries, HTTP ones apart") {
    analysis::FailureStatuses statuses;
    CHECK(statuses.matches_grpc(14));  // UNAVAILABLE
    CHECK(statuses.matches_grpc(4));   // DEADLINE_EXCEEDED
    CHECK_FALSE(statuses.matches_grpc(0));
    CHECK_FALSE(statuses.matches_grpc(5));  // NOT_FOUND: the service answered
    CHECK(statuses.matches_grpc(-1));       // no grpc-status at all
    CHECK(analysis::is_grpc_failure(200, 14, false, statuses));
    CHECK_FALSE(analysis::is_grpc_failure(200, 0, false, statuses));
    CHECK(analysis::is_grpc_failure(503, 0, false, statuses));  // not even a gRPC answer
    statuses.clear();  // an HTTP list leaves the gRPC set alone
    CHECK(statuses.matches_grpc(14));
    statuses.add_grpc(5);
    CHECK(statuses.matches_grpc(5));
    CHECK_FALSE(statuses.matches_grpc(14));
}
