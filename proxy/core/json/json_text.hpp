// JSON text for humans and machines alike. Boost.JSON (1.81) builds the documents, but its
// serializer writes every double in exponent form ("1E1", "2.54E-1"), which operators read
// with curl and jq. This writer prints doubles in their shortest round-trip decimal form
// (10, 0.254) and delegates strings to Boost.JSON for escaping.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace canaryd::json {

std::string to_text(const boost::json::value& value);

// `value` rounded to `step` (a power of ten below 1), so that JSON shows 0.351, not
// 0.35100000000000003: dividing by the integer 1/step gives the double nearest to the decimal.
double rounded(double value, double step);

}  // namespace canaryd::json
