// Reading a whole file, written once: the config, the admin token, the state file, /proc
// and cgroup files. The error says "cannot read PATH: REASON" and keeps errno as its code,
// so a missing file is told apart (a state file that does not exist yet is normal, an
// unreadable one is not).
#pragma once

#include "core/common/result.hpp"

#include <string>

namespace canaryd::io {

Result<std::string> read_file(const std::string& path);

}  // namespace canaryd::io
