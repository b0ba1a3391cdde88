// Block layouts of GGML's quantized types, byte for byte as GGUF files store them (little-endian;
// `d`/`m`/`dmin` are binary16 bit patterns). docs/formats/quant-types.md explains every field and
// the formula that turns a block back into floats. Private to src/kernels/.
//
// Plain structs, no functions: the SIMD translation units include this header too.
#pragma once

#include <cstdint>

namespace sinan::kernels {

inline constexpr int kQK = 32;    // values per block of the 32-value types
inline constexpr int kQKK = 256;  // values per super-block of the K types

struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[kQK / 2];  // value j in the low nibble of qs[j], value j+16 in the high nibble
};

struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[kQK / 2];
};

struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];  // bit j: fifth bit of value j (a little-endian uint32)
    uint8_t qs[kQK / 2];
};

struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};

struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[kQK];
};

struct BlockQ2_K {
    uint8_t scales[kQKK / 16];  // low nibble: scale, high nibble: min of each 16-value group
    uint8_t qs[kQKK / 4];
    uint16_t d;
    uint16_t dmin;
};

struct BlockQ3_K {
    uint8_t hmask[kQKK / 8];  // third bit of each value
    uint8_t qs[kQKK / 4];     // low two bits
    uint8_t scales[12];       // 16 six-bit scales, packed
    uint16_t d;
};

struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];  // 8 six-bit scales and 8 six-bit mins, packed
    uint8_t qs[kQKK / 2];
};

struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[kQKK / 8];
    uint8_t qs[kQKK / 2];
};

struct BlockQ6_K {
    uint8_t ql[kQKK / 2];  // low four bits
    uint8_t qh[kQKK / 4];  // high two bits
    int8_t scales[kQKK / 16];
    uint16_t d;
};

// GGML's activation format for the K-quant dot products (not a file type): value j = d * qs[j],
// bsums[g] = sum of qs[16g .. 16g+15] (lets the K dot products apply the per-group mins with one
// multiply per group instead of one per value).
struct BlockQ8_K {
    float d;
    int8_t qs[kQKK];
    int16_t bsums[kQKK / 16];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace sinan::kernels
