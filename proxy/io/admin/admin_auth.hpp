// The admin bearer token (SPEC §7): read from admin.token_file, compared in constant time.
#pragma once

#include <string>
#include <string_view>

namespace canaryd::io {

// The file's content with surrounding whitespace trimmed. Throws StartupError when the
// file cannot be read or holds no token.
std::string read_admin_token(const std::string& path);

// True when `authorization` is "Bearer <token>". The comparison takes the same time
// whatever the candidate (SHA-256 of both sides, then CRYPTO_memcmp), so the token cannot
// be guessed byte by byte from response times.
bool bearer_token_matches(std::string_view authorization, std::string_view token);

}  // namespace canaryd::io
