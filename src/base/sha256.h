// SHA-256 through OpenSSL's libcrypto (EVP): API-key hashes, response-cache keys, document content
// hashes in knowledge bases.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sinan {

std::string sha256(std::string_view data);      // 32 raw bytes
std::string sha256_hex(std::string_view data);  // 64 lowercase hex digits
std::string to_hex(std::string_view bytes);     // two lowercase hex digits per byte

}  // namespace sinan
