#include "base/sha256.h"

#include <openssl/evp.h>

#include "base/check.h"

namespace sinan {

std::string sha256(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    SINAN_CHECK(EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr) == 1 && n == 32,
                "EVP_Digest(SHA-256) failed");
    return std::string(reinterpret_cast<const char*>(out), n);
}

std::string to_hex(std::string_view bytes) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace sinan
