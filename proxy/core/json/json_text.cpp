#include "core/json/json_text.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace canaryd::json {
namespace {

void write(const boost::json::value& v, std::string& out) {
    switch (v.kind()) {
        case boost::json::kind::null: out += "null"; return;
        case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
        case boost::json::kind::int64: out += std::to_string(v.get_int64()); return;
        case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); return;
        case boost::json::kind::double_: {
            const double d = v.get_double();
            if (!std::isfinite(d)) {  // JSON has no NaN or infinity
                out += "null";
                return;
            }
            char buffer[64];
            auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
            out.append(buffer, ec == std::errc{} ? end : buffer);
            return;
        }
        case boost::json::kind::string: out += boost::json::serialize(v.get_string()); return;
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& item : v.get_array()) {
                if (!first) out += ',';
                first = false;
                write(item, out);
            }
            out += ']';
            return;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& member : v.get_object()) {
                if (!first) out += ',';
                first = false;
                out += boost::json::serialize(boost::json::string_view(member.key()));
                out += ':';
                write(member.value(), out);
            }
            out += '}';
            return;
        }
    }
}

}  // namespace

std::string to_text(const boost::json::value& value) {
    std::string out;
    out.reserve(256);
    write(value, out);
    return out;
}

double rounded(double value, double step) {
    const double scale = std::round(1.0 / step);
    return std::round(value * scale) / scale;
}

}  // namespace canaryd::json
