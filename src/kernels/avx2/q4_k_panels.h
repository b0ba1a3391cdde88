// Q4_K's product over packed panels, the AVX2 kernel's (avx2/gemm_q4_k.cpp says what it computes),
// shared by the levels that read the AVX2 panels: avx2/gemm_q4_k.cpp, and avx_vnni/gemm_q4_k.cpp,
// which compiles it with -mavxvnni: there panel.h's integer steps take each 4-byte group's products
// of the nibbles and the token through one vpdpbusd into int32 group sums (no int16 stage), and
// the group scales multiply them as int32 (vpmulld), the same exact integers (at most
// 32 * 15 * 128 = 61440 a group, 63 times that a scale: int32). Included only by sources compiled
// with the AVX2 flags; every function here is static, so no copy of it leaves its translation unit
// (see half.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_slices.h"

namespace sinan::kernels::avx2::q4_k_panels {

using panel::half_vector;
using panel::spread;

// A packed block's 64-byte vectors: the quants, then the scales and mins, then d and dmin.
constexpr int kQuantVectors = kQKK / 2 / 4, kScaleVector = kQuantVectors, kDVector = kScaleVector + 3;
constexpr size_t kBlockBytes = (kDVector + 1) * 64;
static_assert(kBlockBytes == panel::kRows * sizeof(BlockQ4_K));

// The binary16 values in the low 16 bits of each 32-bit lane, as floats.
static inline __m256 halves_to_floats(__m256i w) {
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
}

// Token block x's group sums in pairs, each broadcast: pairs[k], int16 halves = the sums of groups
// 2k and 2k + 1 (bsums[4k] + bsums[4k + 1], bsums[4k + 2] + bsums[4k + 3]; at most 32 * 128).
static inline void group_sum_pairs(const BlockQ8_K& x, __m256i* pairs) {
    const __m256i s =
        _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums)), _mm256_set1_epi16(1));
    const __m256i p = _mm256_packs_epi32(s, s);  // 128-bit lanes: s0..s3 twice, s4..s7 twice
    for (int k = 0; k < 4; ++k) pairs[k] = _mm256_permutevar8x32_epi32(p, _mm256_set1_epi32(k % 2 + 4 * (k / 2)));
}

// acc[t] += half h of packed block `block` times token t's block xb[t].
template <int T>
[[gnu::always_inline]] static inline void accumulate_half(const uint8_t* block, int h, const BlockQ8_K* const* xb,
                                                          __m256* acc) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), low6 = _mm256_set1_epi8(0x3f), bits45 = _mm256_set1_epi8(0x30);
    // Scales sc[0..7] and mins m[0..7] of each lane's row, 4 bytes a lane, as k4_scales_mins
    // (vec_dot.cpp) unpacks them: sc0 = sc[0..3], sc1 = sc[4..7], m0, m1 likewise.
    const __m256i u0 = half_vector(block, kScaleVector, h), u1 = half_vector(block, kScaleVector + 1, h),
                  u2 = half_vector(block, kScaleVector + 2, h);
    const __m256i sc0 = _mm256_and_si256(u0, low6);
    const __m256i sc1 = _mm256_or_si256(_mm256_and_si256(u2, low4), _mm256_and_si256(_mm256_srli_epi32(u0, 2), bits45));
    __m256i isum[T];
    // Groups 2p (low nibbles) and 2p + 1 (high nibbles) of the quants' bytes 32p .. 32p + 31.
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int pair = 0; pair < 4; ++pair) {
        __m256i lo[T], hi[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
            const __m256i q = half_vector(block, 8 * pair + k, h);
            const __m256i v_lo = _mm256_and_si256(q, low4), v_hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const int8_t* x = xb[t]->qs + 64 * pair + 4 * k;
                lo[t] = panel::add_products(lo[t], v_lo, panel::broadcast4(x));
                hi[t] = panel::add_products(hi[t], v_hi, panel::broadcast4(x + 32));
            }
        }
        const int j = pair % 2 * 2;  // byte of sc0 (pairs 0, 1) or sc1 (2, 3) holding group 2p's scale
        const __m256i s_lo = panel::lane_scale<false>(pair < 2 ? sc0 : sc1, j);
        const __m256i s_hi = panel::lane_scale<false>(pair < 2 ? sc0 : sc1, j + 1);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            isum[t] =
                _mm256_add_epi32(isum[t], _mm256_add_epi32(panel::scaled(lo[t], s_lo), panel::scaled(hi[t], s_hi)));
    }
    const __m256i m0 = _mm256_and_si256(u1, low6);
    const __m256i m1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi32(u1, 2), bits45));
    const __m256i min_pair[4] = {_mm256_shuffle_epi8(m0, spread(0, 1, 0)), _mm256_shuffle_epi8(m0, spread(2, 3, 0)),
                                 _mm256_shuffle_epi8(m1, spread(0, 1, 0)), _mm256_shuffle_epi8(m1, spread(2, 3, 0))};
    const __m256i dd = half_vector(block, kDVector, h);
    const __m256 d = halves_to_floats(_mm256_and_si256(dd, _mm256_set1_epi32(0xffff)));
    const __m256 dmin = halves_to_floats(_mm256_srli_epi32(dd, 16));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        __m256i pairs[4];
        group_sum_pairs(*xb[t], pairs);
        __m256i msum = _mm256_madd_epi16(min_pair[0], pairs[0]);
        for (int k = 1; k < 4; ++k) msum = _mm256_add_epi32(msum, _mm256_madd_epi16(min_pair[k], pairs[k]));
        const __m256 xd = _mm256_set1_ps(xb[t]->d);
        const __m256 a = _mm256_mul_ps(_mm256_mul_ps(xd, d), _mm256_cvtepi32_ps(isum[t]));
        const __m256 m = _mm256_mul_ps(_mm256_mul_ps(xd, dmin), _mm256_cvtepi32_ps(msum));
        acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(a, m));
    }
}

template <bool kReadAhead>
static void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                           int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    panel::over_panels<kReadAhead, BlockQ8_K>(
        w, w_row_bytes, n_rows, n_cols / kQKK, panel_slices::n_slices(n_cols), 1,
        [](int64_t /*n*/, int64_t b) { return static_cast<size_t>(b) * kBlockBytes; }, kBlockBytes, x, x_row_bytes,
        n_tokens, y, y_stride,
        [](auto T, const uint8_t* block, const uint8_t* /*unit*/, int64_t /*b*/, int h, const BlockQ8_K* const* xb,
           __m256* acc) __attribute__((always_inline)) { accumulate_half<T>(block, h, xb, acc); });
}

}  // namespace sinan::kernels::avx2::q4_k_panels
