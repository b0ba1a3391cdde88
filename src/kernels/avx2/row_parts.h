// Pieces of the AVX2 row kernels (avx2/vec_dot.cpp, avx2/dequantize.cpp) that the AVX-512 level's
// row kernels (avx512/vec_dot.cpp, avx512/dequantize.cpp) use as they are: a horizontal sum, the
// weights' prefetch, and the K-quant unpacking steps that work on 256-bit vectors or scalars in
// either level. Each gives the same integers or the same float operations as its reference
// (ref/vec_dot.cpp, ref/dequantize.cpp says which).
// Included only by sources compiled with at least the AVX2 flags; every function here is static,
// so no copy of it leaves its translation unit (see half.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sinan::kernels::avx2::row_parts {

// The sum of v's 8 floats: halves, then pairs, then the last two.
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Weights are read once, as one long stream (rows are contiguous): fetching 4 KiB ahead keeps
// more of it in flight than the hardware prefetcher does (decode: 5 -> 9 GB/s for Q8_0 on a
// Xeon core). One prefetch per cache line of the `bytes` at p.
static inline void prefetch_weights(const void* p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch(static_cast<const char*>(p) + 4096 + o, _MM_HINT_T0);
}

// The 6-bit scales and mins of a Q4_K block as 16 bytes, sc[0..7] then m[0..7]: the packing of
// docs/formats/quant-types.md undone with 32-bit masks.
static inline __m128i k4_scales_mins(const uint8_t* packed) {
    uint32_t u[4];
    __builtin_memcpy(u, packed, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    const uint32_t m_low = u[1] & 0x3f3f3f3fu;
    u[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    u[2] = m_low;
    u[0] &= 0x3f3f3f3fu;
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
}

// sum_g m[g] * (bsums[2g] + bsums[2g+1]), exact: the mins (bytes 8..15 of sm) times the
// activation sums of the eight 32-value groups.
static inline int k4_min_sum(__m128i sm, const int16_t* bsums) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
    __m128i p = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), _mm_hadd_epi16(lo, hi));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(p);
}

// Group j's 6-bit scale and min of a Q4_K or Q5_K block's 12 packed bytes (ref::get_scale_min_k4).
static inline void k4_scale_min(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// A Q5_K block's two groups of 32 values that share 32 bytes of quants v: lo (low nibbles and
// bit 0 of h) and hi (high nibbles and bit 1 of h), each value 0..31 in a byte.
static inline void q5_k_groups(__m256i v, __m256i h, __m256i* lo, __m256i* hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    *lo = _mm256_or_si256(_mm256_and_si256(v, low4), _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
}

// Half a Q6_K block (64 bytes of low bits from ql, 32 of high bits from qh): the six-bit values of
// its four 32-value rows, each 0..63 in a byte (the block's values are these minus 32).
static inline void q6_k_rows(const uint8_t* ql, const uint8_t* qh, __m256i q[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), low2 = _mm256_set1_epi8(3);
    const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
    const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4));
}

}  // namespace sinan::kernels::avx2::row_parts
