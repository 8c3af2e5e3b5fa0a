#include "io/admin/admin_auth.hpp"

#include "core/http/hop_by_hop.hpp"
#include "core/text/trim.hpp"
#include "io/control/read_file.hpp"
#include "io/server/app.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

namespace canaryd::io {

namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> digest(std::string_view text) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
    return out;
}

}  // namespace

namespace {

Result<std::string> token_in(const std::string& key, const std::string& path) {
    const auto file = read_file(path);
    if (!file.ok()) return Error{key + ": " + file.message()};
    const auto token = text::trim_space(*file);
    if (token.empty()) return Error{key + " " + path + ": the file holds no token"};
    return std::string(token);
}

}  // namespace

std::string read_admin_token(const std::string& path) {
    auto token = token_in("admin.token_file", path);
    if (!token) throw StartupError(token.message());
    return std::move(token).value();
}

Result<std::vector<NamedToken>> read_admin_tokens(const config::Admin& admin) {
    std::vector<NamedToken> tokens;
    if (!admin.token_file.empty()) {
        auto secret = token_in("admin.token_file", admin.token_file);
        if (!secret) return secret.error();
        tokens.push_back({"admin", std::move(secret).value(), true});
    }
    for (std::size_t i = 0; i < admin.tokens.size(); ++i) {
        const auto& t = admin.tokens[i];
        auto secret = token_in("admin.tokens[" + std::to_string(i) + "].file", t.file);
        if (!secret) return secret.error();
        tokens.push_back({t.name, std::move(secret).value(), t.role == config::AdminToken::Role::operator_role});
    }
    return tokens;
}

const NamedToken* match_bearer(std::string_view authorization, const std::vector<NamedToken>& tokens) {
    const NamedToken* found = nullptr;
    for (const auto& token : tokens)
        if (bearer_token_matches(authorization, token.secret) && !found) found = &token;
    return found;
}

bool bearer_token_matches(std::string_view authorization, std::string_view token) {
    constexpr std::string_view scheme = "Bearer ";
    if (authorization.size() < scheme.size() || !http::iequals(authorization.substr(0, scheme.size()), scheme))
        return false;
    auto candidate = authorization.substr(scheme.size());
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    const auto a = digest(candidate);
    const auto b = digest(token);
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace canaryd::io
