// AVX-512 elementwise operations (ref/elementwise.cpp has the definitions). exp is evaluated in
// double and rounded once to float, so results equal the reference's (libm expf) almost always:
// the golden logits are sensitive to the last bit of every activation. Sums that the reference
// takes in double are taken in double here too, in a different order. Compiled with the
// AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline functions.
#include <immintrin.h>

#include "kernels/avx512/exp.h"
#include "kernels/avx512/unrolled.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

inline __mmask16 tail_mask(int64_t left) { return static_cast<__mmask16>((1u << left) - 1); }

// y[0, n) sixteen at a time: y[i, i + 16) = value(at), where at(p) loads p[i, i + 16) (the last,
// partial vector masked: zeros past n, and only the lanes before n stored).
template <typename F>
inline void store_each(float* y, int64_t n, F value) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, value([i](const float* p) { return _mm512_loadu_ps(p + i); }));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, value([i, m](const float* p) { return _mm512_maskz_loadu_ps(m, p + i); }));
    }
}

// Sixteen floats added to two double accumulators.
inline void add_pd(__m512 v, __m512d* lo, __m512d* hi) {
    *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

inline __m512 silu_mul16(__m512 g, __m512 u) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

// 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) x (1 + 0.044715 x^2)
inline __m512 gelu16(__m512 x) {
    const __m512 inner =
        _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(_mm512_set1_ps(0.044715f), _mm512_mul_ps(x, x)));
    const __m512 u2 = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.79788456080286535588f), x), inner);
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_ps(u2)));
}

}  // namespace

void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        add_pd(_mm512_mul_ps(v, v), &lo, &hi);
    }
    if (i < n) {
        const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        add_pd(_mm512_mul_ps(v, v), &lo, &hi);
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    const float scale =
        1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(static_cast<float>(sum / static_cast<double>(n)) + eps)));
    const __m512 s = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), _mm512_loadu_ps(weight + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), _mm512_maskz_loadu_ps(m, weight + i)));
    }
}

void softmax(float* x, int64_t n) {
    __m512 mv = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
    if (i < n) mv = _mm512_mask_max_ps(mv, tail_mask(n - i), mv, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), max));
        _mm512_storeu_ps(x + i, e);
        add_pd(e, &lo, &hi);
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), max)));
        _mm512_mask_storeu_ps(x + i, m, e);
        add_pd(e, &lo, &hi);
    }
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(lo, hi))));
    store_each(x, n, [&](auto at) { return _mm512_mul_ps(at(x), inv); });
}

void exp_f32(const float* x, float* y, int64_t n) {
    store_each(y, n, [&](auto at) { return exp_ps(at(x)); });
}

void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
    store_each(y, n, [&](auto at) { return silu_mul16(at(gate), at(up)); });
}

void gelu(const float* x, float* y, int64_t n) {
    store_each(y, n, [&](auto at) { return gelu16(at(x)); });
}

void add_inplace(float* y, const float* x, int64_t n) {
    store_each(y, n, [&](auto at) { return _mm512_add_ps(at(y), at(x)); });
}

namespace {

constexpr int kQueryGroup =
    8;  // accumulators sharing a pass over the value rows: 16 sums + 2 value vectors in registers

// Values i0.. i0 + 15 of 16 keys (k[j]; the `m` lanes of each) converted and transposed: col[i] holds
// value i0 + i of every key (lane j: key j).
inline void key_columns(const uint16_t* const* k, int64_t i0, __mmask16 m, __m512* col) {
    __m512 r[16], t[16];
    for (int j = 0; j < 16; ++j) r[j] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k[j] + i0));
    // Per 128-bit lane L: t[2p] = rows 2p, 2p+1 interleaved (values 4L, 4L+1), t[2p+1] (4L+2, 4L+3).
    for (int p = 0; p < 8; ++p) {
        t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    // u[4g + c], per 128-bit lane L: value 4L + c of keys 4g..4g+3.
    __m512 u[16];
    for (int g = 0; g < 4; ++g) {
        const __m512d lo_ab = _mm512_castps_pd(t[4 * g]), lo_cd = _mm512_castps_pd(t[4 * g + 2]);
        const __m512d hi_ab = _mm512_castps_pd(t[4 * g + 1]), hi_cd = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo_ab, lo_cd));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo_ab, lo_cd));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi_ab, hi_cd));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi_ab, hi_cd));
    }
    // col[4L + c]: lane j = value 4L + c of key j (a 4x4 transpose of 128-bit lanes).
    for (int c = 0; c < 4; ++c) {
        const __m512 w0 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 w1 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        const __m512 w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 w3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
        col[c] = _mm512_shuffle_f32x4(w0, w2, _MM_SHUFFLE(2, 0, 2, 0));
        col[4 + c] = _mm512_shuffle_f32x4(w0, w2, _MM_SHUFFLE(3, 1, 3, 1));
        col[8 + c] = _mm512_shuffle_f32x4(w1, w3, _MM_SHUFFLE(2, 0, 2, 0));
        col[12 + c] = _mm512_shuffle_f32x4(w1, w3, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

// G queries against 16 keys (the first n_k real): each lane's chain advances one fused
// multiply-add per value, in index order; the G chains interleave, so their latency overlaps.
template <int G>
void chains_times_keys(const float* q, int64_t q_stride, const uint16_t* const* k, int64_t d, int n_k, float* scores,
                       int64_t n_keys) {
    __m512 acc[G];
    unrolled<G>([&](auto g) { acc[g] = _mm512_setzero_ps(); });
    for (int64_t i0 = 0; i0 < d; i0 += 16) {
        const int n_i = static_cast<int>(d - i0 < 16 ? d - i0 : 16);
        __m512 col[16];
        key_columns(k, i0, tail_mask(n_i), col);
        unrolled<16>([&](auto i) {
            if (i < n_i)  // (col indexed by constants only: a loop to n_i put it on the stack)
                unrolled<G>([&](auto g) {
                    acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(q[g * q_stride + i0 + i]), col[i], acc[g]);
                });
        });
    }
    unrolled<G>([&](auto g) { _mm512_mask_storeu_ps(scores + g * n_keys, tail_mask(n_k), acc[g]); });
}

using ChainsFn = void (*)(const float*, int64_t, const uint16_t* const*, int64_t, int, float*, int64_t);
// Queries sharing one conversion and transpose of 16 keys: 12 sums and 16 columns in registers
// (the two tokens x 6 heads of a prompt's attend_token_pair).
constexpr int kChainQueries = 12;
constexpr ChainsFn kChainsFns[kChainQueries + 1] = {
    nullptr,
    chains_times_keys<1>,
    chains_times_keys<2>,
    chains_times_keys<3>,
    chains_times_keys<4>,
    chains_times_keys<5>,
    chains_times_keys<6>,
    chains_times_keys<7>,
    chains_times_keys<8>,
    chains_times_keys<9>,
    chains_times_keys<10>,
    chains_times_keys<11>,
    chains_times_keys<12>,
};

// Values c0..c0 + 16 C - 1 (C = 1 or 2 column vectors; lanes m of the last) of G accumulators
// through every value row (R::row: binary16 rows, converted once per row and added with a fused
// multiply-add; or float rows, the product rounded before the sum), rows in order (G x C chains:
// 12 for 6 queries keep the multiply-adds busy, where 6 waited on their latency).
template <typename R, int G, int C>
void rows_into_accumulators(float* y, int64_t y_stride, const float* s, int64_t s_stride, R rows, int64_t n_v,
                            int64_t c0, __mmask16 m) {
    const __mmask16 mask[2] = {C == 1 ? m : static_cast<__mmask16>(0xffff), m};
    __m512 acc[C][G];
    unrolled<C>([&](auto c) {
        unrolled<G>([&](auto g) { acc[c][g] = _mm512_maskz_loadu_ps(mask[c], y + g * y_stride + c0 + 16 * c); });
    });
    for (int64_t j = 0; j < n_v; ++j) {
        __m512 vf[C];
        unrolled<C>([&](auto c) { vf[c] = rows.load(j, c0 + 16 * c, mask[c]); });
        unrolled<G>([&](auto g) {
            const __m512 sg = _mm512_set1_ps(s[g * s_stride + j]);
            unrolled<C>([&](auto c) { acc[c][g] = R::add(acc[c][g], vf[c], sg); });
        });
    }
    unrolled<C>([&](auto c) {
        unrolled<G>([&](auto g) { _mm512_mask_storeu_ps(y + g * y_stride + c0 + 16 * c, mask[c], acc[c][g]); });
    });
}

// Binary16 value rows (v[j]), fused into the sums.
struct F16Rows {
    const uint16_t* const* v;
    __m512 load(int64_t j, int64_t c, __mmask16 m) const {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v[j] + c));
    }
    static __m512 add(__m512 acc, __m512 v, __m512 s) { return _mm512_fmadd_ps(v, s, acc); }
};

// Float value rows (v + j * stride), the products rounded before the sums.
struct F32Rows {
    const float* v;
    int64_t stride;
    __m512 load(int64_t j, int64_t c, __mmask16 m) const { return _mm512_maskz_loadu_ps(m, v + j * stride + c); }
    static __m512 add(__m512 acc, __m512 v, __m512 s) { return _mm512_add_ps(acc, _mm512_mul_ps(s, v)); }
};

// y[g * y_stride + i] for g < n_y, i < n, through the rows: 32 values (16 for a last, lone vector)
// of up to kQueryGroup accumulators at a time, held in registers through all the rows.
template <typename R>
void rows_into_all(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, R rows, int64_t n_v,
                   int64_t n) {
    for (int64_t c0 = 0; c0 < n; c0 += 32) {
        const int n_c = n - c0 > 16 ? 2 : 1;
        const int64_t last = n - c0 - 16 * (n_c - 1);
        const __mmask16 m = tail_mask(last < 16 ? last : 16);
        for (int64_t g0 = 0; g0 < n_y; g0 += kQueryGroup) {
            const int n_g = static_cast<int>(n_y - g0 < kQueryGroup ? n_y - g0 : kQueryGroup);
            float* yg = y + g0 * y_stride;
            const float* sg = s + g0 * s_stride;
            with_count<kQueryGroup>(n_g, [&](auto G) {
                if (n_c == 2)
                    rows_into_accumulators<R, G, 2>(yg, y_stride, sg, s_stride, rows, n_v, c0, m);
                else
                    rows_into_accumulators<R, G, 1>(yg, y_stride, sg, s_stride, rows, n_v, c0, m);
            });
        }
    }
}

}  // namespace

// Sixteen keys at a time, one lane each: 16 values of each key are converted, the 16x16 block is
// transposed so that vector i holds value i of every key, and the lanes' chains advance one fused
// multiply-add per value, in index order, as the reference's; up to 12 queries share each block.
void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores) {
    for (int64_t j0 = 0; j0 < n_keys; j0 += 16) {
        const int n_k = static_cast<int>(n_keys - j0 < 16 ? n_keys - j0 : 16);
        const uint16_t* k[16];
        for (int j = 0; j < 16; ++j) k[j] = keys[j0 + (j < n_k ? j : n_k - 1)];
        for (int64_t g0 = 0; g0 < n_q; g0 += kChainQueries) {
            const int n_g = static_cast<int>(n_q - g0 < kChainQueries ? n_q - g0 : kChainQueries);
            kChainsFns[n_g](q + g0 * q_stride, q_stride, k, d, n_k, scores + g0 * n_keys + j0, n_keys);
        }
    }
}

void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n) {
    const __m512 sv = _mm512_set1_ps(s);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
        const __m512 vf = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v + i));
        const __m512 r = _mm512_fmadd_ps(vf, sv, _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT)));
    }
}

void fma_f16_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const uint16_t* const* v,
                  int64_t n_v, int64_t n) {
    rows_into_all(y, y_stride, n_y, s, s_stride, F16Rows{v}, n_v, n);
}

void add_scaled_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const float* v,
                     int64_t v_stride, int64_t n_v, int64_t n) {
    rows_into_all(y, y_stride, n_y, s, s_stride, F32Rows{v, v_stride}, n_v, n);
}

}  // namespace sinan::kernels::avx512
