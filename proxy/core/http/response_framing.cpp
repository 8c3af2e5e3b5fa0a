#include "core/http/response_framing.hpp"

#include "core/http/hop_by_hop.hpp"
#include "core/text/trim.hpp"

namespace canaryd::http {
namespace {

using text::trim_ows;

}  // namespace

std::string check_response_framing(std::span<const Field> fields) {
    bool has_length = false;
    std::string_view length;
    bool has_encoding = false;
    int chunked = 0;
    bool last_is_chunked = false;
    for (const auto& f : fields) {
        if (iequals(f.name, "content-length")) {
            std::string_view rest = f.value;
            while (true) {
                const auto comma = rest.find(',');
                const auto element = trim_ows(rest.substr(0, comma));
                if (element.empty() || element.size() > 19 ||
                    element.find_first_not_of("0123456789") != std::string_view::npos)
                    return "invalid Content-Length in the upstream response";
                if (has_length && element != length) return "conflicting Content-Length in the upstream response";
                has_length = true;
                length = element;
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        } else if (iequals(f.name, "transfer-encoding")) {
            has_encoding = true;
            std::string_view rest = f.value;
            while (true) {
                const auto comma = rest.find(',');
                const auto coding = trim_ows(rest.substr(0, comma));
                if (!coding.empty()) {
                    // Only chunked is decoded; relaying another coding after dropping the
                    // hop-by-hop Transfer-Encoding field would hand the client bytes it
                    // cannot interpret.
                    if (!iequals(coding, "chunked")) return "upstream response uses an unsupported transfer coding";
                    last_is_chunked = true;
                    ++chunked;
                }
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
    }
    if (has_encoding && has_length) return "upstream response has both Content-Length and Transfer-Encoding";
    if (has_encoding && (chunked != 1 || !last_is_chunked))
        return "upstream response Transfer-Encoding is not a single chunked";
    return {};
}

}  // namespace canaryd::http
