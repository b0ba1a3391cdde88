// SHA-256 through OpenSSL's libcrypto (EVP), for API-key hashes and response-cache keys.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sinan::api {

std::string sha256(std::string_view data);      // 32 raw bytes
std::string sha256_hex(std::string_view data);  // 64 lowercase hex digits
std::string to_hex(std::string_view bytes);     // two lowercase hex digits per byte

}  // namespace sinan::api
