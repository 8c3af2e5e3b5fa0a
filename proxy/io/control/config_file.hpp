// Reads and validates a config file (the file system half of the loader).
#pragma once

#include "core/config/loader.hpp"

#include <string>

namespace canaryd::io {

// A read failure is reported as one error at 1:1 naming the reason. `text`, when given, receives
// what was read (empty on a read failure): the config watch compares it with the next read.
config::LoadResult load_config_file(const std::string& path, std::string* text = nullptr);

// The errors in `FILE:LINE:COL: key.path: message` form, one per line.
std::string format_errors(const std::string& path, const config::LoadResult& result);

}  // namespace canaryd::io
