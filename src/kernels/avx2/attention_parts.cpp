// AVX2 parts of attention (ops.h and ref/elementwise.cpp have the definitions): the scores of
// queries against binary16 keys (dot_f16_chains) and the weighted sums of value rows
// (fma_f16_rows, add_scaled_rows, fma_f16_rounded), each bit for bit the scalar reference's:
//   - dot_f16_chains: 8 keys at a time, one lane each (8 values of each converted and transposed
//     in registers), every lane's chain one fused multiply-add per value in index order, up to
//     kChainQueries queries sharing the transpose;
//   - the weighted sums: 16 values of up to kSumQueries accumulators held in registers through
//     all the value rows, rows in order (binary16 rows fused, float rows multiplied and rounded
//     before the sum), where the reference stored every element at every row.
// Tails shorter than a vector take the scalar operations (__builtin_fmaf: the instruction here).
// Compiled with -mavx2 -mfma -mf16c; includes no header with inline functions.
#include <immintrin.h>

#include <cstdint>

#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

constexpr int kChainQueries = 6;  // 8 key columns + 6 sums + a broadcast in the 16 registers
constexpr int kSumQueries = 6;    // 2 x 6 sums + 2 value vectors + a broadcast

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// Values i0.. i0 + 7 of 8 keys (k[j]; n_i <= 8 of them, the rest zero) converted and transposed:
// col[i] holds value i0 + i of every key (lane j: key j).
inline void key_columns(const uint16_t* const* k, int64_t i0, int n_i, __m256* col) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) {
        if (n_i == 8) {
            r[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k[j] + i0)));
        } else {
            alignas(16) uint16_t part[8] = {};
            for (int i = 0; i < n_i; ++i) part[i] = k[j][i0 + i];
            r[j] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(part)));
        }
    }
    __m256 u[8];
    for (int h = 0; h < 2; ++h) {  // keys 4h..4h+3
        const __m256 t0 = _mm256_unpacklo_ps(r[4 * h], r[4 * h + 1]), t1 = _mm256_unpackhi_ps(r[4 * h], r[4 * h + 1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[4 * h + 2], r[4 * h + 3]);
        const __m256 t3 = _mm256_unpackhi_ps(r[4 * h + 2], r[4 * h + 3]);
        // u[4h + c], per 128-bit lane L: value 4L + c of keys 4h..4h+3.
        u[4 * h + 0] = _mm256_shuffle_ps(t0, t2, 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t0, t2, 0xee);
        u[4 * h + 2] = _mm256_shuffle_ps(t1, t3, 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t1, t3, 0xee);
    }
    for (int c = 0; c < 4; ++c) {
        col[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        col[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

// G queries against 8 keys (the first n_k real): scores[g * n_keys + j].
template <int G>
void chains_times_keys(const float* q, int64_t q_stride, const uint16_t* const* k, int64_t d, int n_k, float* scores,
                       int64_t n_keys) {
    __m256 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t i0 = 0; i0 < d; i0 += 8) {
        const int n_i = static_cast<int>(d - i0 < 8 ? d - i0 : 8);
        __m256 col[8];
        key_columns(k, i0, n_i, col);
        for (int i = 0; i < n_i; ++i)
            for (int g = 0; g < G; ++g)
                acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(q[g * q_stride + i0 + i]), col[i], acc[g]);
    }
    for (int g = 0; g < G; ++g) {
        alignas(32) float s[8];
        _mm256_store_ps(s, acc[g]);
        for (int j = 0; j < n_k; ++j) scores[g * n_keys + j] = s[j];
    }
}

using ChainsFn = void (*)(const float*, int64_t, const uint16_t* const*, int64_t, int, float*, int64_t);
constexpr ChainsFn kChainsFns[kChainQueries + 1] = {
    nullptr,
    chains_times_keys<1>,
    chains_times_keys<2>,
    chains_times_keys<3>,
    chains_times_keys<4>,
    chains_times_keys<5>,
    chains_times_keys<6>,
};

// Binary16 value rows (v[j]), fused into the sums.
struct F16Rows {
    const uint16_t* const* v;
    __m256 load(int64_t j, int64_t c) const {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v[j] + c)));
    }
    float at(int64_t j, int64_t c) const { return fp16(v[j][c]); }
    static __m256 add(__m256 acc, __m256 v, __m256 s) { return _mm256_fmadd_ps(v, s, acc); }
    static float add(float acc, float v, float s) { return __builtin_fmaf(v, s, acc); }
};

// Float value rows (v + j * stride), the products rounded before the sums.
struct F32Rows {
    const float* v;
    int64_t stride;
    __m256 load(int64_t j, int64_t c) const { return _mm256_loadu_ps(v + j * stride + c); }
    float at(int64_t j, int64_t c) const { return v[j * stride + c]; }
    static __m256 add(__m256 acc, __m256 v, __m256 s) { return _mm256_add_ps(acc, _mm256_mul_ps(s, v)); }
    static float add(float acc, float v, float s) { return acc + s * v; }  // -ffp-contract=off: rounded product
};

// Values c0..c0 + 8 C - 1 of G accumulators through every value row, rows in order.
template <typename R, int G, int C>
void rows_into_accumulators(float* y, int64_t y_stride, const float* s, int64_t s_stride, R rows, int64_t n_v,
                            int64_t c0) {
    __m256 acc[C][G];
    for (int c = 0; c < C; ++c)
        for (int g = 0; g < G; ++g) acc[c][g] = _mm256_loadu_ps(y + g * y_stride + c0 + 8 * c);
    for (int64_t j = 0; j < n_v; ++j) {
        __m256 vf[C];
        for (int c = 0; c < C; ++c) vf[c] = rows.load(j, c0 + 8 * c);
        for (int g = 0; g < G; ++g) {
            const __m256 sg = _mm256_set1_ps(s[g * s_stride + j]);
            for (int c = 0; c < C; ++c) acc[c][g] = R::add(acc[c][g], vf[c], sg);
        }
    }
    for (int c = 0; c < C; ++c)
        for (int g = 0; g < G; ++g) _mm256_storeu_ps(y + g * y_stride + c0 + 8 * c, acc[c][g]);
}

template <typename R, int C>
void rows_into_group(int n_g, float* y, int64_t y_stride, const float* s, int64_t s_stride, R rows, int64_t n_v,
                     int64_t c0) {
    switch (n_g) {
        case 1:
            return rows_into_accumulators<R, 1, C>(y, y_stride, s, s_stride, rows, n_v, c0);
        case 2:
            return rows_into_accumulators<R, 2, C>(y, y_stride, s, s_stride, rows, n_v, c0);
        case 3:
            return rows_into_accumulators<R, 3, C>(y, y_stride, s, s_stride, rows, n_v, c0);
        case 4:
            return rows_into_accumulators<R, 4, C>(y, y_stride, s, s_stride, rows, n_v, c0);
        case 5:
            return rows_into_accumulators<R, 5, C>(y, y_stride, s, s_stride, rows, n_v, c0);
        default:
            return rows_into_accumulators<R, kSumQueries, C>(y, y_stride, s, s_stride, rows, n_v, c0);
    }
}

// y[g * y_stride + i] for g < n_y, i < n, through the rows: 16 values (8 for a last lone vector)
// of up to kSumQueries accumulators at a time; the last n % 8 values one at a time.
template <typename R>
void rows_into_all(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, R rows, int64_t n_v,
                   int64_t n) {
    const int64_t n_vec = n / 8 * 8;
    for (int64_t c0 = 0; c0 < n_vec; c0 += 16) {
        for (int64_t g0 = 0; g0 < n_y; g0 += kSumQueries) {
            const int n_g = static_cast<int>(n_y - g0 < kSumQueries ? n_y - g0 : kSumQueries);
            if (n_vec - c0 >= 16)
                rows_into_group<R, 2>(n_g, y + g0 * y_stride, y_stride, s + g0 * s_stride, s_stride, rows, n_v, c0);
            else
                rows_into_group<R, 1>(n_g, y + g0 * y_stride, y_stride, s + g0 * s_stride, s_stride, rows, n_v, c0);
        }
    }
    for (int64_t j = 0; j < n_v; ++j)
        for (int64_t g = 0; g < n_y; ++g)
            for (int64_t i = n_vec; i < n; ++i)
                y[g * y_stride + i] = R::add(y[g * y_stride + i], rows.at(j, i), s[g * s_stride + j]);
}

}  // namespace

void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores) {
    for (int64_t j0 = 0; j0 < n_keys; j0 += 8) {
        const int n_k = static_cast<int>(n_keys - j0 < 8 ? n_keys - j0 : 8);
        const uint16_t* k[8];
        for (int j = 0; j < 8; ++j) k[j] = keys[j0 + (j < n_k ? j : n_k - 1)];
        for (int64_t g0 = 0; g0 < n_q; g0 += kChainQueries) {
            const int n_g = static_cast<int>(n_q - g0 < kChainQueries ? n_q - g0 : kChainQueries);
            kChainsFns[n_g](q + g0 * q_stride, q_stride, k, d, n_k, scores + g0 * n_keys + j0, n_keys);
        }
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

void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n) {
    const __m256 sv = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        const __m256 r = _mm256_fmadd_ps(vf, sv, _mm256_loadu_ps(y + i));
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; i < n; ++i) y[i] = _cvtsh_ss(_cvtss_sh(__builtin_fmaf(fp16(v[i]), s, y[i]), _MM_FROUND_TO_NEAREST_INT));
}

}  // namespace sinan::kernels::avx2
