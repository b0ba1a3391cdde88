// AVX2 elementwise operations (ref/elementwise.cpp has the definitions). exp is evaluated in
// double and rounded once to float, so results equal the reference's (libm expf) almost always:
// the golden logits are sensitive to the last bit of every activation. Tails shorter than a vector go through a
// zero-padded copy. Sums the reference takes in double are taken in double here too, in a different order. Compiled
// with -mavx2 -mfma -mf16c; includes no header with inline functions.
#include <immintrin.h>

#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

// exp of four values in double: k = round(x / ln 2), r = x - k ln 2 (|r| <= 0.35), Taylor
// polynomial to r^10 (relative error < 1e-12), times 2^k built in the exponent bits (|k| < 160).
inline __m256d exp_pd(__m256d x) {
    const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0.6931471805599453), x);
    __m256d p = _mm256_set1_pd(1.0 / 3628800);
    const double c[] = {1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
    for (double ci : c) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(ci));
    const __m256i ki = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k));
    const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
}

// expf, rounded once from a double result: equal to a correctly rounded expf except within 1e-12
// of a rounding tie, so silu and softmax match the scalar reference (libm's expf) bit for bit
// almost everywhere. Inputs are clamped to [-104, 89], where float exp is 0 or infinity anyway.
inline __m256 exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
    const __m128 lo = _mm256_cvtpd_ps(exp_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    const __m128 hi = _mm256_cvtpd_ps(exp_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    return _mm256_set_m128(hi, lo);
}

inline void add_pd(__m256 v, __m256d* lo, __m256d* hi) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline __m256 silu_mul8(__m256 g, __m256 u) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

// 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) x (1 + 0.044715 x^2)
inline __m256 gelu8(__m256 x) {
    const __m256 inner =
        _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(_mm256_set1_ps(0.044715f), _mm256_mul_ps(x, x)));
    const __m256 u2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f * 0.79788456080286535588f), x), inner);
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(u2)));
}

// The last n (< 8) values, zero-padded to a vector.
struct Tail {
    float v[8] = {};
    Tail(const float* p, int64_t n) {
        for (int64_t j = 0; j < n; ++j) v[j] = p[j];
    }
    __m256 load() const { return _mm256_loadu_ps(v); }
};

inline void store_tail(__m256 v, float* p, int64_t n) {
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int64_t j = 0; j < n; ++j) p[j] = t[j];
}

}  // namespace

void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        add_pd(_mm256_mul_ps(v, v), &lo, &hi);
    }
    if (i < n) {
        const __m256 v = Tail(x + i, n - i).load();
        add_pd(_mm256_mul_ps(v, v), &lo, &hi);
    }
    const double sum = hsum_pd(_mm256_add_pd(lo, hi));
    const float scale =
        1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(static_cast<float>(sum / static_cast<double>(n)) + eps)));
    const __m256 s = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(weight + i)));
    if (i < n)
        store_tail(_mm256_mul_ps(_mm256_mul_ps(Tail(x + i, n - i).load(), s), Tail(weight + i, n - i).load()), y + i,
                   n - i);
}

void softmax(float* x, int64_t n) {
    __m256 mv = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float m[8];
    _mm256_storeu_ps(m, mv);
    float max_value = m[0];
    for (int j = 1; j < 8; ++j) max_value = m[j] > max_value ? m[j] : max_value;
    for (int64_t j = i; j < n; ++j) max_value = x[j] > max_value ? x[j] : max_value;
    const __m256 max = _mm256_set1_ps(max_value);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
        _mm256_storeu_ps(x + i, e);
        add_pd(e, &lo, &hi);
    }
    double sum = hsum_pd(_mm256_add_pd(lo, hi));
    if (i < n) {
        float e[8];
        _mm256_storeu_ps(e, exp_ps(_mm256_sub_ps(Tail(x + i, n - i).load(), max)));
        for (int64_t j = 0; j < n - i; ++j) {
            x[i + j] = e[j];
            sum += e[j];
        }
    }
    const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; ++i) x[i] *= _mm256_cvtss_f32(inv);
}

void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, silu_mul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) store_tail(silu_mul8(Tail(gate + i, n - i).load(), Tail(up + i, n - i).load()), y + i, n - i);
}

void gelu(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) store_tail(gelu8(Tail(x + i, n - i).load()), y + i, n - i);
}

void add_inplace(float* y, const float* x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; ++i) y[i] += x[i];
}

}  // namespace sinan::kernels::avx2
