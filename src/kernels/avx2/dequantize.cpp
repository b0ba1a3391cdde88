// AVX2 dequantizers (8 floats a vector). Each performs, lane by lane, the float operations of
// its reference in ref/dequantize.cpp — integer work differs, float work does not (no fused
// multiply-add) — so results are bit-identical to the scalar path.
// Compiled with -mavx2 -mfma -mf16c; include no header with inline functions (see half.h).
#include <immintrin.h>

#include "kernels/avx2/row_parts.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

// Eight int8 in the low 64 bits of `q` -> float, times d.
inline void store_i8x8_scaled(__m128i q, __m256 d, float* y) {
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
}

// Eight uint8 in the low 64 bits of `q` -> d * q - m.
inline void store_u8x8_affine(__m128i q, __m256 d, __m256 m, float* y) {
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q))), m));
}

// 32 int8 -> float, times d (ref order: scale * q).
inline void store_i8x32_scaled(__m256i q, __m256 d, float* y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    store_i8x8_scaled(lo, d, y);
    store_i8x8_scaled(_mm_srli_si128(lo, 8), d, y + 8);
    store_i8x8_scaled(hi, d, y + 16);
    store_i8x8_scaled(_mm_srli_si128(hi, 8), d, y + 24);
}

inline void get_scale_min_k4(int j, const uint8_t* q, float d, float dmin, __m256* dv, __m256* mv) {
    int sc, m;
    row_parts::k4_scale_min(j, q, &sc, &m);
    *dv = _mm256_set1_ps(d * static_cast<float>(sc));
    *mv = _mm256_set1_ps(dmin * static_cast<float>(m));
}

}  // namespace

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    for (; i < n; ++i) dst[i] = _cvtsh_ss(x[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; ++i) {
        const __m128i w = _mm_cvtsi32_si128(static_cast<int>(static_cast<uint32_t>(x[i]) << 16));
        dst[i] = _mm_cvtss_f32(_mm_castsi128_ps(w));
    }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_0*>(src);
    const __m128i low4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, low4), eight);
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low4), eight);
        store_i8x8_scaled(lo, d, dst);
        store_i8x8_scaled(_mm_srli_si128(lo, 8), d, dst + 8);
        store_i8x8_scaled(hi, d, dst + 16);
        store_i8x8_scaled(_mm_srli_si128(hi, 8), d, dst + 24);
    }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        store_i8x32_scaled(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs)), d, dst);
    }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_K*>(src);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = _cvtsh_ss(b[i].d);
        const float dmin = _cvtsh_ss(b[i].dmin);
        const uint8_t* q = b[i].qs;
        for (int g = 0; g < 8; g += 2, q += 32, dst += 64) {
            __m256 d1, m1, d2, m2;
            get_scale_min_k4(g, b[i].scales, d, dmin, &d1, &m1);
            get_scale_min_k4(g + 1, b[i].scales, d, dmin, &d2, &m2);
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            const __m256i lo = _mm256_and_si256(v, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            const __m128i lo0 = _mm256_castsi256_si128(lo), lo1 = _mm256_extracti128_si256(lo, 1);
            const __m128i hi0 = _mm256_castsi256_si128(hi), hi1 = _mm256_extracti128_si256(hi, 1);
            store_u8x8_affine(lo0, d1, m1, dst);
            store_u8x8_affine(_mm_srli_si128(lo0, 8), d1, m1, dst + 8);
            store_u8x8_affine(lo1, d1, m1, dst + 16);
            store_u8x8_affine(_mm_srli_si128(lo1, 8), d1, m1, dst + 24);
            store_u8x8_affine(hi0, d2, m2, dst + 32);
            store_u8x8_affine(_mm_srli_si128(hi0, 8), d2, m2, dst + 40);
            store_u8x8_affine(hi1, d2, m2, dst + 48);
            store_u8x8_affine(_mm_srli_si128(hi1, 8), d2, m2, dst + 56);
        }
    }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = _cvtsh_ss(b[i].d);
        const float dmin = _cvtsh_ss(b[i].dmin);
        const uint8_t* q = b[i].qs;
        // Fifth bits: bit 2c of qh[l] for value 64c + l, bit 2c + 1 for value 64c + 32 + l.
        __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh));
        for (int g = 0; g < 8; g += 2, q += 32, dst += 64, h = _mm256_srli_epi16(h, 2)) {
            __m256 d1, m1, d2, m2;
            get_scale_min_k4(g, b[i].scales, d, dmin, &d1, &m1);
            get_scale_min_k4(g + 1, b[i].scales, d, dmin, &d2, &m2);
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            __m256i lo, hi;
            row_parts::q5_k_groups(v, h, &lo, &hi);
            const __m128i lo0 = _mm256_castsi256_si128(lo), lo1 = _mm256_extracti128_si256(lo, 1);
            const __m128i hi0 = _mm256_castsi256_si128(hi), hi1 = _mm256_extracti128_si256(hi, 1);
            store_u8x8_affine(lo0, d1, m1, dst);
            store_u8x8_affine(_mm_srli_si128(lo0, 8), d1, m1, dst + 8);
            store_u8x8_affine(lo1, d1, m1, dst + 16);
            store_u8x8_affine(_mm_srli_si128(lo1, 8), d1, m1, dst + 24);
            store_u8x8_affine(hi0, d2, m2, dst + 32);
            store_u8x8_affine(_mm_srli_si128(hi0, 8), d2, m2, dst + 40);
            store_u8x8_affine(hi1, d2, m2, dst + 48);
            store_u8x8_affine(_mm_srli_si128(hi1, 8), d2, m2, dst + 56);
        }
    }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ6_K*>(src);
    const __m256i k32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = _cvtsh_ss(b[i].d);
        const uint8_t* ql = b[i].ql;
        const uint8_t* qh = b[i].qh;
        const int8_t* sc = b[i].scales;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
            // Six-bit values of the four 32-value rows, as int8 in [-32, 31].
            __m256i q[4];
            row_parts::q6_k_rows(ql, qh, q);
            for (int r = 0; r < 4; ++r) {
                const __m256i v = _mm256_sub_epi8(q[r], k32);
                // Values 0..15 of the row use scale sc[2r], values 16..31 scale sc[2r + 1].
                const __m256 s0 = _mm256_set1_ps(d * static_cast<float>(sc[2 * r]));
                const __m256 s1 = _mm256_set1_ps(d * static_cast<float>(sc[2 * r + 1]));
                const __m128i v0 = _mm256_castsi256_si128(v), v1 = _mm256_extracti128_si256(v, 1);
                float* y = dst + 32 * r;
                store_i8x8_scaled(v0, s0, y);
                store_i8x8_scaled(_mm_srli_si128(v0, 8), s0, y + 8);
                store_i8x8_scaled(v1, s1, y + 16);
                store_i8x8_scaled(_mm_srli_si128(v1, 8), s1, y + 24);
            }
        }
    }
}

}  // namespace sinan::kernels::avx2
