// Durable writes of the state file (SPEC §6): write a temporary file, fsync it, rename it
// over the old one, fsync the directory. A crash at any point leaves either the old or the
// new file, never a torn one.
#pragma once

#include <string>

namespace canaryd::io {

// Empty on success, else what failed (with errno's text).
std::string write_file_atomically(const std::string& path, const std::string& content);

}  // namespace canaryd::io
