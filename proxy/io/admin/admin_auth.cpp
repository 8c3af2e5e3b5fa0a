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

std::string read_admin_token(const std::string& path) {
    const auto file = read_file(path);
    if (!file.ok()) throw StartupError("admin.token_file: " + file.message());
    const auto token = text::trim_space(*file);
    if (token.empty()) throw StartupError("admin.token_file " + path + ": the file holds no token");
    return std::string(token);
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
