// Reading a whole file, written once: the config, the admin token, the state file, /proc
// and cgroup files. Errors carry the path and errno's text; a missing file is told apart
// (a state file that does not exist yet is normal, an unreadable one is not).
#pragma once

#include <string>

namespace canaryd::io {

struct FileRead {
    bool exists = false;   // false: no such file (ENOENT), `error` says so
    std::string content;
    std::string error;     // empty on success: "cannot read PATH: REASON"
    std::string reason;    // REASON alone (errno's text)
    bool ok() const { return error.empty(); }
};

FileRead read_file(const std::string& path);

}  // namespace canaryd::io
