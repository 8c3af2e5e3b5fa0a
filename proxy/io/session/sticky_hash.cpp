#include "io/session/sticky_hash.hpp"

#include "core/routing/split.hpp"

#include <openssl/sha.h>

namespace canaryd::io {

std::uint32_t sticky_bucket(std::string_view salt, std::string_view key) {
    const std::string input = routing::sticky_hash_input(salt, key);
    std::array<std::uint8_t, 32> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    return routing::bucket_from_digest(digest);
}

}  // namespace canaryd::io
