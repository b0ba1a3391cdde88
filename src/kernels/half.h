// 16-bit floats: IEEE binary16 (F16) and bfloat16 (BF16) to and from float.
//
// fp32 -> 16-bit rounds to nearest, ties to even (what GGML's reference writer and the F16C /
// AVX512-BF16 instructions do); overflow gives infinity; a NaN stays a NaN (quiet, sign kept,
// payload truncated to the top mantissa bits). 16-bit -> fp32 is exact (subnormals included).
// Pure functions, thread-safe. Inline because the scalar kernels call them per element.
//
// SIMD translation units (src/kernels/avx2, avx_vnni, avx512, amx) must not include this header: an inline
// function compiled there with AVX flags could be the copy the linker keeps for everyone.
#pragma once

#include <cstdint>
#include <cstring>

namespace sinan::kernels {

namespace half_detail {
inline uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof(u));
    return u;
}
inline float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof(f));
    return f;
}
}  // namespace half_detail

// f = (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m for e == 0
inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) {  // inf; NaN comes back quiet, as F16C returns it
        return half_detail::float_of(sign | 0x7f800000u | (mant != 0 ? 0x400000u : 0u) | (mant << 13));
    }
    if (exp != 0) return half_detail::float_of(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return half_detail::float_of(sign);
    // Subnormal: normalise the mantissa; every binary16 subnormal is a normal fp32.
    int e = 113;
    while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --e;
    }
    return half_detail::float_of(sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13));
}

inline uint16_t fp32_to_fp16(float f) {
    const uint32_t u = half_detail::bits_of(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN
    if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65536: inf
    if (abs >= 0x38800000u) {  // normal binary16 (|f| >= 2^-14)
        // Rebias the exponent, then round the 13 dropped bits to nearest even; a carry out of
        // the mantissa correctly bumps the exponent.
        const uint32_t v = abs - (112u << 23);
        const uint32_t rounded = v + 0x0fffu + ((v >> 13) & 1u);
        return static_cast<uint16_t>(sign | (rounded >> 13));
    }
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): +-0
    // Subnormal binary16: value = m * 2^-24 with m = round(|f| * 2^24).
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24: bits of `mant` that fall below 2^-24
    const uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    const uint32_t up = (rem > halfway || (rem == halfway && (q & 1u))) ? 1u : 0u;
    return static_cast<uint16_t>(sign | (q + up));
}

// f = bits << 16
inline float bf16_to_fp32(uint16_t h) { return half_detail::float_of(static_cast<uint32_t>(h) << 16); }

inline uint16_t fp32_to_bf16(float f) {
    const uint32_t u = half_detail::bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace sinan::kernels
