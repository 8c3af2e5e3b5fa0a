// The access log the config names, across reloads (SPEC §8): a new path opens the new file,
// the same path is reopened (log rotation needs only a SIGHUP), an empty one turns it off.
// A replaced log stays open for the life of the process: a worker may be writing a line to
// it right now. Control thread only; workers get current() after each configure().
#pragma once

#include "io/log/access_log.hpp"

#include <memory>
#include <string>
#include <vector>

namespace canaryd::io {

class AccessLogSlot {
public:
    // On failure the log in force is kept.
    Status configure(const std::string& path, std::size_t writers);
    AccessLog* current() const { return current_.get(); }
    // Writes what the workers buffered, to the current log and to replaced ones.
    void flush();

private:
    std::unique_ptr<AccessLog> current_;
    std::vector<std::unique_ptr<AccessLog>> retired_;
};

}  // namespace canaryd::io
