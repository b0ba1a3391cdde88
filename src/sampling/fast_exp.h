// fast_exp: exp(x) for x <= 0 in float, written so GCC vectorises loops over it with the baseline
// x86-64 instruction set (std::exp is a library call and stays scalar). Private to src/sampling.
// Relative error < 2e-7 for x in [-87, 0]; exactly 0 below -87.3 (including -inf, a banned token),
// so weights of banned tokens are never drawn.
#pragma once

#include <bit>
#include <cstdint>

namespace sinan::sampling::detail {

inline float fast_exp(float x) {
    // exp(x) = 2^k * exp(r), k = round(x / ln 2), |r| <= ln2 / 2; exp(r) by its degree-6 Taylor
    // polynomial (truncation error r^7 / 7! < 1.3e-7 on that interval).
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693359375f;  // ln 2 split so k * kLn2Hi is exact (Cody-Waite)
    constexpr float kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    constexpr float kMin = -87.3f;         // below this exp(x) < FLT_MIN: return 0
    const bool underflow = x < kMin;
    const float xc = underflow ? kMin : x;
    const float kf = (xc * kLog2e + kRound) - kRound;
    const float r = (xc - kf * kLn2Hi) - kf * kLn2Lo;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t k = static_cast<int32_t>(kf);
    const float scaled = std::bit_cast<float>(std::bit_cast<int32_t>(p) + k * (1 << 23));
    return underflow ? 0.0f : scaled;
}

}  // namespace sinan::sampling::detail
