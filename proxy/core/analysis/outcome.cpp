#include "core/analysis/outcome.hpp"

#include <algorithm>

namespace canaryd::analysis {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::connect: return "connect";
        case ErrorKind::timeout: return "timeout";
        case ErrorKind::reset: return "reset";
        case ErrorKind::invalid_response: return "invalid_response";
        case ErrorKind::no_endpoint: return "no_endpoint";
        case ErrorKind::tls: return "tls";
    }
    return "connect";
}

bool FailureStatuses::matches(unsigned status) const {
    if (status < 1000 && classes_[status / 100]) return true;
    return std::find(codes_.begin(), codes_.end(), status) != codes_.end();
}

}  // namespace canaryd::analysis
