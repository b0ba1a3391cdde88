// exp in double, rounded once to float, for the AVX-512 kernels (elementwise.cpp's silu, softmax
// and gelu, attention.cpp's softmax weights). Included only by sources compiled with the AVX-512
// flags; static, so no copy leaves its translation unit (see half.h).
#pragma once

#include <immintrin.h>

namespace sinan::kernels::avx512 {

// exp of eight values in double: k = round(x / ln 2), r = x - k ln 2 (|r| <= 0.35), Taylor
// polynomial to r^10 (relative error < 1e-12), times 2^k.
static inline __m512d exp_pd(__m512d x) {
    const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(0.6931471805599453), x);
    __m512d p = _mm512_set1_pd(1.0 / 3628800);
    const double c[] = {1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
    for (double ci : c) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(ci));
    return _mm512_scalef_pd(p, k);
}

// expf, rounded once from a double result: equal to a correctly rounded expf except within 1e-12
// of a rounding tie, so it matches the scalar reference (libm's expf) bit for bit almost
// everywhere. Inputs are clamped to [-104, 89], where float exp is 0 (-inf included) or infinity
// anyway.
static inline __m512 exp_ps(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
    const __m256 lo = _mm512_cvtpd_ps(exp_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x))));
    const __m256 hi =
        _mm512_cvtpd_ps(exp_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

}  // namespace sinan::kernels::avx512
