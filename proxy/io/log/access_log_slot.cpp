#include "io/log/access_log_slot.hpp"

#include <stdexcept>

namespace canaryd::io {

Status AccessLogSlot::configure(const std::string& path, std::size_t writers) {
    if (path == (current_ ? current_->path() : "")) return current_ ? current_->reopen() : Status();
    if (path.empty()) {
        retired_.push_back(std::move(current_));
        return {};
    }
    try {
        auto log = std::make_unique<AccessLog>(path, writers);
        if (current_) retired_.push_back(std::move(current_));
        current_ = std::move(log);
    } catch (const std::exception& e) {
        return Error{e.what()};
    }
    return {};
}

void AccessLogSlot::flush() {
    if (current_) current_->flush();
    for (auto& retired : retired_) retired->flush();
}

}  // namespace canaryd::io
