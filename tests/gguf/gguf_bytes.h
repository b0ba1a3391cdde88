// Test helper: assembles GGUF files by hand, field by field (little-endian), so a test can
// write exactly the layout, or exactly the corruption, it is about.
//   GgufBytes f;  // starts with the magic "GGUF"
//   f.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0).pad_to(128);
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace sinan::gguf {

struct GgufBytes {
    std::vector<uint8_t> b{'G', 'G', 'U', 'F'};

    template <typename T>
    GgufBytes& put(T v) {
        size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
        return *this;
    }
    // A GGUF string: u64 length, then the bytes.
    GgufBytes& str(std::string_view s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    // version, tensor count, metadata count.
    GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    }
    // Zero bytes up to a total size of n (or truncation to n).
    GgufBytes& pad_to(size_t n) {
        b.resize(n, 0);
        return *this;
    }
};

}  // namespace sinan::gguf
