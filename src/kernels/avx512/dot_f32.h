// dot_f32's order of operations, for the AVX-512 kernels that must give its results bit for bit
// with the second operand read from another format (attention.cpp: binary16 keys converted on
// the fly, several queries against each key, the reductions of 16 keys at once). Included only by
// sources compiled with the AVX-512 flags; static, so no copy leaves its translation unit (see
// half.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sinan::kernels::avx512 {

// The lanes of s = sum_i a[i] * b[i] before their reduction, for NQ vectors a[q] against one b:
// per q, four independent FMA chains over 64 values a step, then 16 a step into the first, the tail
// (masked) into the second, the four added in pairs: out[q]. load_b(i, m) returns b[i .. i + 16)
// under mask m (all ones but for the tail), once for all NQ.
template <int NQ, typename LoadB>
static inline void dot_f32_lanes(const float* const* a, LoadB load_b, int64_t n, __m512* out) {
    const __mmask16 all = 0xffff;
    __m512 acc[NQ][4];
    for (int q = 0; q < NQ; ++q)
        for (int k = 0; k < 4; ++k) acc[q][k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; ++k) {
            const __m512 b = load_b(i + 16 * k, all);
            for (int q = 0; q < NQ; ++q) acc[q][k] = _mm512_fmadd_ps(_mm512_loadu_ps(a[q] + i + 16 * k), b, acc[q][k]);
        }
    }
    for (; i + 16 <= n; i += 16) {
        const __m512 b = load_b(i, all);
        for (int q = 0; q < NQ; ++q) acc[q][0] = _mm512_fmadd_ps(_mm512_loadu_ps(a[q] + i), b, acc[q][0]);
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 b = load_b(i, m);
        for (int q = 0; q < NQ; ++q) acc[q][1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a[q] + i), b, acc[q][1]);
    }
    for (int q = 0; q < NQ; ++q)
        out[q] = _mm512_add_ps(_mm512_add_ps(acc[q][0], acc[q][1]), _mm512_add_ps(acc[q][2], acc[q][3]));
}

// s = sum_i a[i] * b[i]: dot_f32_lanes for one a, reduced by _mm512_reduce_add_ps.
template <typename LoadB>
static inline float dot_f32_in_order(const float* a, LoadB load_b, int64_t n) {
    __m512 lanes;
    dot_f32_lanes<1>(&a, load_b, n, &lanes);
    return _mm512_reduce_add_ps(lanes);
}

// v[c] reduced as _mm512_reduce_add_ps reduces it (the upper half added to the lower, then the
// upper quarter of that, then lanes 2 and 3 to lanes 0 and 1, then lane 1 to lane 0), for 16
// vectors at once: lane c of the result is v[c]'s sum.
static inline __m512 reduce_add_16(const __m512* v) {
    __m512 w[8], x[4], y[2];
    for (int p = 0; p < 8; ++p)  // 128-bit lanes 0-1: v[2p]'s upper half added to its lower; 2-3: v[2p + 1]'s
        w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee),
                             _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44));
    for (int p = 0; p < 4; ++p)  // 128-bit lane j: the 4 sums of v[4p + j]
        x[p] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * p], w[2 * p + 1], 0xdd),
                             _mm512_shuffle_f32x4(w[2 * p], w[2 * p + 1], 0x88));
    for (int p = 0; p < 2; ++p)  // 128-bit lane j: the 2 sums of v[8p + j], then of v[8p + 4 + j]
        y[p] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * p], x[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(x[2 * p], x[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // 128-bit lane j: the sums of v[j], v[4 + j], v[8 + j], v[12 + j]; then into order.
    const __m512 z = _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), z);
}

}  // namespace sinan::kernels::avx512
