// The sticky bucket of a key: SHA-256 through OpenSSL, bucket rule in core/routing/split.hpp.
#pragma once

#include <cstdint>
#include <string_view>

namespace canaryd::io {

// 0..9999; the same for every replica and restart.
std::uint32_t sticky_bucket(std::string_view salt, std::string_view key);

}  // namespace canaryd::io
