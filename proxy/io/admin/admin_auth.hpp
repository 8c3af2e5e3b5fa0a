// The admin bearer tokens (SPEC §7, §10): read from admin.token_file and admin.tokens,
// compared in constant time.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace canaryd::io {

// The file's content with surrounding whitespace trimmed. Throws StartupError when the
// file cannot be read or holds no token.
std::string read_admin_token(const std::string& path);

// A token as the admin API checks it: its name, its secret, what it may do.
struct NamedToken {
    std::string name;
    std::string secret;
    bool may_mutate = true;  // operator; false: viewer
};

// Every token of the config: token_file as the operator "admin", then admin.tokens. An error
// names the file that cannot be read or is empty (start-up fails, a reload keeps the old set).
Result<std::vector<NamedToken>> read_admin_tokens(const config::Admin& admin);

// The token `authorization` carries, or null. Every token is compared (in constant time),
// whichever matches, so the time taken says nothing about which one did.
const NamedToken* match_bearer(std::string_view authorization, const std::vector<NamedToken>& tokens);

// True when `authorization` is "Bearer <token>". The comparison takes the same time
// whatever the candidate (SHA-256 of both sides, then CRYPTO_memcmp), so the token cannot
// be guessed byte by byte from response times.
bool bearer_token_matches(std::string_view authorization, std::string_view token);

}  // namespace canaryd::io
