#include "io/forwarding.hpp"

#include "http/hop_by_hop.hpp"

namespace canaryd::io {

namespace bhttp = boost::beast::http;
using canaryd::http::iequals;

void build_client_response(const bhttp::response_header<>& in, std::string_view request_id,
                           bhttp::response_header<>& out) {
    out = bhttp::response_header<>{};
    out.result(in.result_int());
    out.reason(in.reason());
    out.version(11);
    canaryd::http::HopByHopFilter filter;
    for (auto [it, end] = in.equal_range(bhttp::field::connection); it != end; ++it)
        filter.add_connection_value(it->value());
    std::string via;
    bool has_request_id = false;
    for (const auto& f : in) {
        const auto name = f.name_string();
        if (filter.drops(name)) continue;
        if (f.name() == bhttp::field::via) {
            via.append(via.empty() ? "" : ", ").append(f.value());
            continue;
        }
        if (f.name() == bhttp::field::unknown && iequals(name, "x-request-id")) has_request_id = true;
        out.insert(name, f.value());
    }
    via.append(via.empty() ? "" : ", ").append("1.1 canaryd");
    out.set(bhttp::field::via, via);
    if (!has_request_id) out.set("x-request-id", request_id);
}

}  // namespace canaryd::io
