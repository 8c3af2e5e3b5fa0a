// Durable writes of the state file (SPEC §6): write a temporary file, fsync it, rename it
// over the old one, fsync the directory. A crash at any point leaves either the old or the
// new file, never a torn one.
#pragma once

#include "core/common/result.hpp"

#include <string>

namespace canaryd::io {

// The error says what failed, with errno's text (and errno as its code).
Status write_file_atomically(const std::string& path, const std::string& content);

}  // namespace canaryd::io
