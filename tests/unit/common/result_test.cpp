#include "core/common/result.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using canaryd::Error;
using canaryd::Result;
using canaryd::Status;

namespace {

Result<int> parse_digit(char c) {
    if (c < '0' || c > '9') return Error{std::string("not a digit: ") + c};
    return c - '0';
}

Status check_positive(int n) {
    if (n <= 0) return Error{"must be positive", 22};
    return {};
}

}  // namespace

TEST_CASE("result: a value or an error, never both") {
    const auto seven = parse_digit('7');
    CHECK(seven.ok());
    CHECK(static_cast<bool>(seven));
    CHECK(*seven == 7);
    const auto bad = parse_digit('x');
    CHECK_FALSE(bad.ok());
    CHECK(bad.message() == "not a digit: x");
    CHECK(bad.error().code == 0);
}

TEST_CASE("result: move-only values and Status") {
    Result<std::unique_ptr<int>> owned = std::make_unique<int>(5);
    REQUIRE(owned.ok());
    auto taken = std::move(owned).value();
    CHECK(*taken == 5);

    CHECK(check_positive(3).ok());
    const auto refused = check_positive(0);
    CHECK_FALSE(refused.ok());
    CHECK(refused.message() == "must be positive");
    CHECK(refused.error().code == 22);
}
