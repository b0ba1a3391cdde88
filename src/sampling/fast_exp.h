// Vectorised exp and sums for the sampler's softmax passes. Private to src/sampling.
// GCC vector extensions (4 x float = one SSE register, the x86-64 baseline; NEON on Arm) because
// std::exp is a library call that stays scalar and GCC will not vectorise float reductions
// without -ffast-math, which would also make results depend on the compiler's choices.
// fast_exp4: relative error < 2e-7 for x in [-87, 0]; exactly 0 below -87.3 (including -inf, a
// banned token), so banned tokens get weight 0 and are never drawn.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace sinan::sampling::detail {

using F4 = float __attribute__((vector_size(16)));
using I4 = int32_t __attribute__((vector_size(16)));

inline F4 load4(const float* p) {
    F4 v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
inline void store4(float* p, F4 v) { std::memcpy(p, &v, sizeof(v)); }
inline F4 splat4(float x) { return F4{x, x, x, x}; }
inline float sum4(F4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

inline F4 fast_exp4(F4 x) {
    // exp(x) = 2^k * exp(r), k = round(x / ln 2), |r| <= ln2 / 2; exp(r) by its degree-6 Taylor
    // polynomial (truncation error r^7 / 7! < 1.3e-7 on that interval).
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693359375f;  // ln 2 split so k * kLn2Hi is exact (Cody-Waite)
    constexpr float kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    constexpr float kMin = -87.3f;         // below this exp(x) < FLT_MIN: return 0
    const I4 underflow = x < kMin;
    const F4 xc = underflow ? splat4(kMin) : x;
    const F4 kf = (xc * kLog2e + kRound) - kRound;
    const F4 r = (xc - kf * kLn2Hi) - kf * kLn2Lo;
    F4 p = splat4(1.0f / 720.0f);
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const I4 k = __builtin_convertvector(kf, I4);
    const F4 scaled = std::bit_cast<F4>(std::bit_cast<I4>(p) + (k << 23));
    return underflow ? splat4(0.0f) : scaled;
}

inline float fast_exp(float x) { return fast_exp4(splat4(x))[0]; }

// sum x[i] in four float lanes (then the tail): for short runs (a block), fixed summation order.
inline float sum_lanes(const float* x, size_t n) {
    F4 acc = splat4(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) acc += load4(x + i);
    float sum = sum4(acc);
    for (; i < n; ++i) sum += x[i];
    return sum;
}

// sum of a long run: lanes per block of 1024, blocks added in double.
inline double sum_long(std::span<const float> x) {
    double total = 0.0;
    for (size_t b = 0; b < x.size(); b += 1024) total += sum_lanes(x.data() + b, std::min<size_t>(1024, x.size() - b));
    return total;
}

}  // namespace sinan::sampling::detail
