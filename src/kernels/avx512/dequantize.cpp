// AVX-512 dequantizers (16 floats a vector). Each performs, lane by lane, the float operations
// of its reference in ref/dequantize.cpp (no fused multiply-add), so results are bit-identical
// to the scalar path. Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; include no
// header with inline functions (see half.h).
#include <immintrin.h>

#include "kernels/avx2/row_parts.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

namespace row_parts = avx2::row_parts;  // the row kernels' pieces both levels use

// Sixteen int8 -> float, times d.
inline void store_i8x16_scaled(__m128i q, __m512 d, float* y) {
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d));
}

// Sixteen uint8 -> d * q - m.
inline void store_u8x16_affine(__m128i q, __m512 d, __m512 m, float* y) {
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q))), m));
}

inline void get_scale_min_k4(int j, const uint8_t* q, float d, float dmin, __m512* dv, __m512* mv) {
    int sc, m;
    row_parts::k4_scale_min(j, q, &sc, &m);
    *dv = _mm512_set1_ps(d * static_cast<float>(sc));
    *mv = _mm512_set1_ps(dmin * static_cast<float>(m));
}

inline __mmask16 tail_mask(int64_t left) { return static_cast<__mmask16>((1u << left) - 1); }

}  // namespace

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_0*>(src);
    const __m128i low4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        store_i8x16_scaled(_mm_sub_epi8(_mm_and_si128(q, low4), eight), d, dst);
        store_i8x16_scaled(_mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low4), eight), d, dst + 16);
    }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        store_i8x16_scaled(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs)), d, dst);
        store_i8x16_scaled(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs + 16)), d, dst + 16);
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
            __m512 d1, m1, d2, m2;
            get_scale_min_k4(g, b[i].scales, d, dmin, &d1, &m1);
            get_scale_min_k4(g + 1, b[i].scales, d, dmin, &d2, &m2);
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            const __m256i lo = _mm256_and_si256(v, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            store_u8x16_affine(_mm256_castsi256_si128(lo), d1, m1, dst);
            store_u8x16_affine(_mm256_extracti128_si256(lo, 1), d1, m1, dst + 16);
            store_u8x16_affine(_mm256_castsi256_si128(hi), d2, m2, dst + 32);
            store_u8x16_affine(_mm256_extracti128_si256(hi, 1), d2, m2, dst + 48);
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
            __m512 d1, m1, d2, m2;
            get_scale_min_k4(g, b[i].scales, d, dmin, &d1, &m1);
            get_scale_min_k4(g + 1, b[i].scales, d, dmin, &d2, &m2);
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            __m256i lo, hi;
            row_parts::q5_k_groups(v, h, &lo, &hi);
            store_u8x16_affine(_mm256_castsi256_si128(lo), d1, m1, dst);
            store_u8x16_affine(_mm256_extracti128_si256(lo, 1), d1, m1, dst + 16);
            store_u8x16_affine(_mm256_castsi256_si128(hi), d2, m2, dst + 32);
            store_u8x16_affine(_mm256_extracti128_si256(hi, 1), d2, m2, dst + 48);
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
            // Six-bit values of the four 32-value rows.
            __m256i q[4];
            row_parts::q6_k_rows(ql, qh, q);
            for (int r = 0; r < 4; ++r) {
                const __m256i v = _mm256_sub_epi8(q[r], k32);
                // Values 0..15 of the row use scale sc[2r], values 16..31 scale sc[2r + 1].
                store_i8x16_scaled(_mm256_castsi256_si128(v), _mm512_set1_ps(d * static_cast<float>(sc[2 * r])),
                                   dst + 32 * r);
                store_i8x16_scaled(_mm256_extracti128_si256(v, 1),
                                   _mm512_set1_ps(d * static_cast<float>(sc[2 * r + 1])), dst + 32 * r + 16);
            }
        }
    }
}

}  // namespace sinan::kernels::avx512
