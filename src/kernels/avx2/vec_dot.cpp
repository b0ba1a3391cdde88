// AVX2 dot products of a weight row with activations in its dot format (ref/vec_dot.cpp has the
// definitions). Integer products of a block go through vpmaddubsw (unsigned x signed bytes, pairs
// summed to int16, which cannot saturate for these ranges) and vpmaddwd (to int32, times the
// group scale); each block's integer sum is scaled in float. Q8_0, Q4_K and Q6_K also have
// four-row forms for prompts (dispatch.h, VecDotX4Fn): one load and unpacking of the weights for
// four tokens, and four independent accumulator chains where one token waits on one (pp128 of the
// 1.5B shape 25 -> 35 tok/s for Q8_0, 26 -> 46 for Q4_K_M on 2 threads; bench/NOTES.md); F16's
// converts each weight vector once for two tokens (a 128-token product 1.25x as fast). Compiled
// with -mavx2 -mfma -mf16c; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include "kernels/avx2/row_parts.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

using row_parts::hsum;
using row_parts::k4_min_sum;
using row_parts::k4_scales_mins;
using row_parts::prefetch_weights;

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// Eight int32 sums of four products a[j] * b[j] of signed bytes; b must not hold -128.
inline __m256i mul_sum_i8(__m256i a, __m256i b) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

inline float bf16(uint16_t h) { return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(h) << 16))); }

inline __m256 load_bf16x8(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// T activation rows of 16-bit floats (x_stride bytes apart) against one weight row of the same
// type: per row four accumulator chains over 32 values a pass, then 8 at a time into the first,
// their sum, and the tail in scalar; s[t] for row t. Each weight vector is converted once for the
// T rows, and every T gives each row the same operations in the same order: vec_dot_f16 is T = 1,
// its four-row form two passes of T = 2 (the two rows' 8 accumulators, a weight vector and an
// activation vector fit the 16 registers; 4 rows' 16 accumulators do not).
template <int T, __m256 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
void dots_16bit(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    const auto* a = static_cast<const uint16_t*>(w);
    const uint16_t* b[T];
    for (int t = 0; t < T; ++t)
        b[t] = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(x) + static_cast<size_t>(t) * x_stride);
    __m256 acc[T][4];
    for (int t = 0; t < T; ++t)
        for (int k = 0; k < 4; ++k) acc[t][k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_weights(a + i, 64);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
            const __m256 wv = Load(a + i + 8 * k);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) acc[t][k] = _mm256_fmadd_ps(wv, Load(b[t] + i + 8 * k), acc[t][k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = Load(a + i);
        for (int t = 0; t < T; ++t) acc[t][0] = _mm256_fmadd_ps(wv, Load(b[t] + i), acc[t][0]);
    }
    for (int t = 0; t < T; ++t) {
        float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
        for (int64_t j = i; j < n; ++j) sum += Scalar(a[j]) * Scalar(b[t][j]);
        s[t] = sum;
    }
}

template <__m256 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
float dot_16bit(const void* w, const void* x, int64_t n) {
    float s;
    dots_16bit<1, Load, Scalar>(w, x, 0, n, &s);
    return s;
}

}  // namespace

float vec_dot_f16(const void* w, const void* x, int64_t n) { return dot_16bit<load_f16x8, fp16>(w, x, n); }

// Two passes of two rows over the weight row (it stays in L1 between them).
void vec_dot_f16_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    dots_16bit<2, load_f16x8, fp16>(w, x, x_stride, n, s);
    dots_16bit<2, load_f16x8, fp16>(w, static_cast<const uint8_t*>(x) + 2 * x_stride, x_stride, n, s + 2);
}

float vec_dot_bf16(const void* w, const void* x, int64_t n) { return dot_16bit<load_bf16x8, bf16>(w, x, n); }

float vec_dot_q4_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    const __m256i low4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].qs));
        const __m256i qa = _mm256_sub_epi8(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low4),
                                           eight);  // values 0..31, -8..7
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
        const __m256 d = _mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(mul_sum_i8(qa, qb)), acc);
    }
    return hsum(acc);
}

namespace {

// T activation rows (x_stride bytes apart) against one Q8_0 weight row: each block's weights loaded
// once, then per row the scalar reference's operations (the block's integer sum exact, then
// float(isum) * (d_w * d_x) added to the row's sum), so every result is the reference's bit for bit
// and four rows are four independent chains instead of one.
template <int T>
void q8_0_dots(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    const auto* a = static_cast<const BlockQ8_0*>(w);
    const BlockQ8_0* b[T];
    for (int k = 0; k < T; ++k)
        b[k] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(x) + k * x_stride);
    float sum[T];
    for (int k = 0; k < T; ++k) sum[k] = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        const float da = fp16(a[i].d);
        for (int k = 0; k < T; ++k) {
            const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k][i].qs));
            sum[k] += static_cast<float>(hsum_i32(mul_sum_i8(qa, qb))) * (da * fp16(b[k][i].d));
        }
    }
    for (int k = 0; k < T; ++k) s[k] = sum[k];
}

// T activation rows (x_stride bytes apart) against one Q4_K weight row. Nibbles are unsigned
// (0..15), so they are vpmaddubsw's unsigned operand as they are; they and the group scales are
// unpacked once per block for all T rows. Each block's integer sums are reduced exactly and then
// meet the same float operations as in the reference, so every result is bit-identical to the
// scalar path (K types: the per-block reduction is cheap), and T rows are T independent chains.
template <int T>
void q4_k_dots(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    const auto* a = static_cast<const BlockQ4_K*>(w);
    const BlockQ8_K* b[T];
    for (int k = 0; k < T; ++k)
        b[k] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + k * x_stride);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    float sum[T];
    for (int k = 0; k < T; ++k) sum[k] = 0;
    for (int64_t i = 0; i < n / kQKK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m128i sm = k4_scales_mins(a[i].scales);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // sc[g] in int16 lane g
        __m256i ql[4], qh[4], sl[4], sh[4];
        for (int p = 0; p < 4; ++p) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * p));
            ql[p] = _mm256_and_si256(q, low4);
            qh[p] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            // Every int16 lane picks bytes 4p, 4p+1 (scale 2p) or 4p+2, 4p+3 (scale 2p+1) of sc.
            sl[p] = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(static_cast<int16_t>((4 * p) | ((4 * p + 1) << 8))));
            sh[p] = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(static_cast<int16_t>((4 * p + 2) | ((4 * p + 3) << 8))));
        }
        const float d = fp16(a[i].d), dmin = fp16(a[i].dmin);
        for (int k = 0; k < T; ++k) {
            const BlockQ8_K& bk = b[k][i];
            __m256i isum = _mm256_setzero_si256();
            for (int p = 0; p < 4; ++p) {
                const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk.qs + 64 * p));
                const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk.qs + 64 * p + 32));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(ql[p], xl), sl[p]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(qh[p], xh), sh[p]));
            }
            const int msum = k4_min_sum(sm, bk.bsums);
            sum[k] += bk.d * d * static_cast<float>(hsum_i32(isum)) - bk.d * dmin * static_cast<float>(msum);
        }
    }
    for (int k = 0; k < T; ++k) s[k] = sum[k];
}

// The same for Q6_K: quants are taken unsigned (0..63), unpacked once per half block for all T
// rows, and 32 * x is subtracted per byte pair before the group scale. As for Q4_K, each block's
// integer sum is reduced exactly: bit-identical to the scalar path.
template <int T>
void q6_k_dots(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    const auto* a = static_cast<const BlockQ6_K*>(w);
    const BlockQ8_K* b[T];
    for (int k = 0; k < T; ++k)
        b[k] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + k * x_stride);
    const __m256i m32 = _mm256_set1_epi8(32);
    float sum[T];
    for (int k = 0; k < T; ++k) sum[k] = 0;
    for (int64_t i = 0; i < n / kQKK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        __m256i isum[T];
        for (int k = 0; k < T; ++k) isum[k] = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = a[i].ql + 64 * half;
            const int8_t* sc = a[i].scales + 8 * half;
            __m256i q[4], scale[4];
            row_parts::q6_k_rows(ql, a[i].qh + 32 * half, q);
            for (int g = 0; g < 4; ++g)
                scale[g] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]), _mm_set1_epi16(sc[2 * g]));
            for (int k = 0; k < T; ++k) {
                const int8_t* y = b[k][i].qs + 128 * half;
                for (int g = 0; g < 4; ++g) {
                    const __m256i xg = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32 * g));
                    const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], xg), _mm256_maddubs_epi16(m32, xg));
                    isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(p16, scale[g]));
                }
            }
        }
        const float d = fp16(a[i].d);
        for (int k = 0; k < T; ++k) sum[k] += d * b[k][i].d * static_cast<float>(hsum_i32(isum[k]));
    }
    for (int k = 0; k < T; ++k) s[k] = sum[k];
}

// One activation row through a T-row form: the single-row dot product.
template <void (*Dots)(const void*, const void*, size_t, int64_t, float*)>
float one_row(const void* w, const void* x, int64_t n) {
    float s;
    Dots(w, x, 0, n, &s);
    return s;
}

}  // namespace

float vec_dot_q8_0(const void* w, const void* x, int64_t n) { return one_row<q8_0_dots<1>>(w, x, n); }
float vec_dot_q4_k(const void* w, const void* x, int64_t n) { return one_row<q4_k_dots<1>>(w, x, n); }
float vec_dot_q6_k(const void* w, const void* x, int64_t n) { return one_row<q6_k_dots<1>>(w, x, n); }

void vec_dot_q8_0_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    q8_0_dots<4>(w, x, x_stride, n, s);
}
void vec_dot_q4_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    q4_k_dots<4>(w, x, x_stride, n, s);
}
void vec_dot_q6_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    q6_k_dots<4>(w, x, x_stride, n, s);
}

}  // namespace sinan::kernels::avx2
