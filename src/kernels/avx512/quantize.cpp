// AVX-512 activation quantizers: the float operations of ref/quantize.cpp and ref/quantize_k.cpp
// lane by lane, so the bytes written equal the scalar path's. Compiled with the AVX-512 flags of
// src/kernels/CMakeLists.txt; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

// Binary16, rounded to nearest even (vcvtps2ph): the bit patterns of fp32_to_fp16 (half.h),
// NaNs included (quieted, payload truncated).
void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, m,
                                 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

// d = amax / 127 (to binary16, nearest even), q = x * (127 / amax) rounded to nearest even
// (the MXCSR default). Finite inputs: the maximum does not depend on the order it is taken in.
void quantize_q8_0_activations(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        const __m512 x0 = _mm512_loadu_ps(src), x1 = _mm512_loadu_ps(src + 16);
        const __m512 m = _mm512_max_ps(_mm512_abs_ps(x1), _mm512_abs_ps(x0));
        const float amax = _mm512_reduce_max_ps(m);
        b[i].d = static_cast<uint16_t>(_cvtss_sh(amax / 127.f, _MM_FROUND_TO_NEAREST_INT));
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, id));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, id));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16), _mm512_cvtepi32_epi8(q1));
    }
}

// Q8_K (ref::quantize_q8_k): per 256 values, max = the first value of largest magnitude (its
// sign kept), iscale = -127 / max, q = min(127, nearest even of iscale * x), bsums of 16 quants,
// d = 1 / iscale. Finite inputs: the same bytes as the scalar path.
void quantize_q8_k_activations(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_K*>(dst);
    constexpr int kVectors = kQKK / 16;
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        __m512 x[kVectors];
        __m512 m = _mm512_setzero_ps();
        for (int v = 0; v < kVectors; ++v) {
            x[v] = _mm512_loadu_ps(src + 16 * v);
            m = _mm512_max_ps(m, _mm512_abs_ps(x[v]));
        }
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f) {
            __builtin_memset(&b[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        float max = 0.0f;
        for (int v = 0; v < kVectors; ++v) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(x[v]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit != 0) {
                max = src[16 * v + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 s = _mm512_set1_ps(iscale);
        for (int v = 0; v < kVectors; ++v) {
            const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(s, x[v])), _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * v), _mm512_cvtepi32_epi8(q));
            b[i].bsums[v] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
        }
        b[i].d = 1 / iscale;
    }
}

}  // namespace sinan::kernels::avx512
