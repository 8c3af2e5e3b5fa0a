#include "core/json/json_text.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <limits>

TEST_CASE("JSON text: decimal doubles, escaped strings, nested containers") {
    boost::json::object o;
    o["weight"] = 10.0;
    o["rate"] = 0.254;
    o["big"] = 123456789.0;
    o["n"] = 42;
    o["neg"] = -7;
    o["ok"] = true;
    o["none"] = nullptr;
    o["nan"] = std::numeric_limits<double>::quiet_NaN();
    o["text"] = "a \"quoted\"\nline";
    o["list"] = boost::json::array{1, 2.5, "x"};
    const auto text = canaryd::json::to_text(o);
    CHECK(text ==
          "{\"weight\":10,\"rate\":0.254,\"big\":123456789,\"n\":42,\"neg\":-7,\"ok\":true,\"none\":null,"
          "\"nan\":null,\"text\":\"a \\\"quoted\\\"\\nline\",\"list\":[1,2.5,\"x\"]}");
    // It stays JSON that Boost.JSON reads back to the same values.
    const auto back = boost::json::parse(text);
    CHECK(back.at("rate").as_double() == 0.254);
    CHECK(back.at("text").as_string() == "a \"quoted\"\nline");
}
