// AVX-512 small-batch attention over binary16 keys and values (ops.h, attend_f16_rounded), and over
// Q8_0 ones (attend_q8_0, at the end: the same passes, its sums in float). For binary16: the
// operations of attend_f16_rounded_composite (dispatch.h) on this level's kernels, bit for bit,
// in passes over the cells instead of four kernel calls per cell, for up to kGroup query heads at
// once:
//   1. the scores, each key converted to floats once for the group, as dot_f32 reads it
//      (dot_f32.h's order), the reductions of 16 cells' sums together;
//   2. the online softmax over them: in cell order, where each new maximum comes and the argument
//      of each exp (max - s there, the rescale; s - max elsewhere, the value's weight); then every
//      exp, 16 cells a vector (this level's exp, exp.h, instead of libm's expf a call at a time);
//      then the running sum of the weights, in cell order;
//   3. the weighted sums of the values, kept in binary16 as the reference keeps them: 64 floats
//      of each in registers through all the cells (one fma, one rounding to binary16 and back per
//      value), each value converted once for the group, where the composite stored and reloaded
//      the sum at every cell.
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>
#include <math.h>

#include "kernels/avx512/dot_f32.h"
#include "kernels/avx512/exp.h"
#include "kernels/avx512/unrolled.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int kGroup = 3;  // query heads taken together: their scores share each key's conversion,
                           // their sums each value's
constexpr int kSlab = 4;   // 16-float vectors of each query's sum held in registers: 64 values

__m512 round_f16(__m512 x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }

__mmask16 mask_of(int64_t left) { return static_cast<__mmask16>(left >= 16 ? 0xffff : (1u << left) - 1); }

// What pass 2 leaves for pass 3, per query: rescale[c] = exp(max - s) where cell c brings a new
// maximum, else -1; weight[c] the value's weight; sum the weights' sum.
struct Softmax {
    float* rescale;
    float* weight;
    float sum;
};

// Pass 2 for one query, its scores in sm.weight: the online softmax in cell order, as the
// composites take it (see the header).
void softmax_in_order(Softmax& sm, int64_t n) {
    float* w = sm.weight;
    float* r = sm.rescale;
    float max = -INFINITY;
    for (int64_t c = 0; c < n; ++c) {  // exp's argument; r[c] = 1 marks a new maximum
        const float s = w[c];
        r[c] = s > max ? 1.0f : -1.0f;
        w[c] = s > max ? max - s : s - max;  // -inf at the first cell: its rescale is 0
        max = s > max ? s : max;
    }
    for (int64_t c = 0; c < n; c += 16) {
        const __mmask16 m = mask_of(n - c);
        _mm512_mask_storeu_ps(w + c, m, exp_ps(_mm512_maskz_loadu_ps(m, w + c)));
    }
    float sum = 0.0f;
    for (int64_t c = 0; c < n; ++c) {
        float ms = 1.0f, vs = 1.0f;
        if (r[c] > 0.0f) {
            ms = w[c];
            r[c] = ms;
            w[c] = 1.0f;
        } else {
            vs = w[c];
        }
        sum = sum * ms + vs;
    }
    sm.sum = sum;
}

// Passes 1 and 2 for NQ queries (qf[i]: query i rounded to binary16, dk floats).
template <int NQ>
void scores_and_softmax(const float* const* qf, const uint16_t* const* keys, int64_t n, int64_t dk, float scale,
                        Softmax* sm) {
    for (int64_t c0 = 0; c0 < n; c0 += 16) {  // 16 cells' dot products reduced together
        __m512 lanes[NQ][16];
        const int64_t m = n - c0 < 16 ? n - c0 : 16;
        for (int64_t c = 0; c < 16; ++c) {
            if (c < m) {
                const uint16_t* k = keys[c0 + c];
                __m512 cell[NQ];
                dot_f32_lanes<NQ>(
                    qf, [k](int64_t i, __mmask16 mk) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, k + i)); },
                    dk, cell);
                for (int i = 0; i < NQ; ++i) lanes[i][c] = cell[i];
            } else {
                for (int i = 0; i < NQ; ++i) lanes[i][c] = _mm512_setzero_ps();
            }
        }
        for (int i = 0; i < NQ; ++i)
            _mm512_mask_storeu_ps(sm[i].weight + c0, mask_of(m),
                                  _mm512_mul_ps(reduce_add_16(lanes[i]), _mm512_set1_ps(scale)));
    }
    for (int i = 0; i < NQ; ++i) softmax_in_order(sm[i], n);
}

// Pass 3 for NQ queries over values j0 .. j0 + 16 * NVec of every row: per query, through every
// cell, where rescale[c] >= 0 acc = Values::rescaled(acc, rescale[c]); then acc =
// Values::add(acc, the value, weight[c]); out[i] = acc / sum (0 where sum = 0). Values::load(row,
// j, m): values j .. j + 15 of a row as floats (lanes past m zero).
template <int NQ, int NVec, typename Values>
void weighted_values(const typename Values::Row* values, int64_t n, int64_t j0, int64_t dv, const Softmax* sm,
                     float* const* out) {
    __m512 acc[NQ][NVec];
    __mmask16 m[NVec];
    for (int k = 0; k < NVec; ++k) m[k] = mask_of(dv - j0 - 16 * k);
    for (int i = 0; i < NQ; ++i)
        for (int k = 0; k < NVec; ++k) acc[i][k] = _mm512_setzero_ps();
    for (int64_t c = 0; c < n; ++c) {
        for (int i = 0; i < NQ; ++i) {
            if (sm[i].rescale[c] >= 0.0f) {
                const __m512 ms = _mm512_set1_ps(sm[i].rescale[c]);
                for (int k = 0; k < NVec; ++k) acc[i][k] = Values::rescaled(acc[i][k], ms);
            }
        }
        for (int k = 0; k < NVec; ++k) {
            const __m512 v = Values::load(values[c], j0 + 16 * k, m[k]);
            for (int i = 0; i < NQ; ++i) acc[i][k] = Values::add(acc[i][k], v, _mm512_set1_ps(sm[i].weight[c]));
        }
    }
    for (int i = 0; i < NQ; ++i)
        for (int k = 0; k < NVec; ++k) {
            const __m512 r =
                sm[i].sum == 0.0f ? _mm512_setzero_ps() : _mm512_div_ps(acc[i][k], _mm512_set1_ps(sm[i].sum));
            _mm512_mask_storeu_ps(out[i] + j0 + 16 * k, m[k], r);
        }
}

// Binary16 values, the sums kept in binary16 as the reference keeps them: one fma and one rounding
// to binary16 and back per value and cell.
struct F16Values {
    using Row = const uint16_t*;
    static __m512 load(const uint16_t* row, int64_t j, __mmask16 m) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + j));
    }
    static __m512 rescaled(__m512 acc, __m512 ms) { return round_f16(_mm512_mul_ps(acc, ms)); }
    static __m512 add(__m512 acc, __m512 v, __m512 w) { return round_f16(_mm512_fmadd_ps(v, w, acc)); }
};

// Pass 3 of each slab of kSlab vectors (fewer at the end).
template <int NQ, typename Values>
void weighted_slabs(const typename Values::Row* values, int64_t n, int64_t dv, const Softmax* sm, float* const* out) {
    for (int64_t j0 = 0; j0 < dv; j0 += 16 * kSlab) {
        switch ((dv - j0 + 15) / 16) {
            case 1:
                weighted_values<NQ, 1, Values>(values, n, j0, dv, sm, out);
                break;
            case 2:
                weighted_values<NQ, 2, Values>(values, n, j0, dv, sm, out);
                break;
            case 3:
                weighted_values<NQ, 3, Values>(values, n, j0, dv, sm, out);
                break;
            default:
                weighted_values<NQ, kSlab, Values>(values, n, j0, dv, sm, out);
                break;
        }
    }
}

// Every pass for NQ queries (q[i], out[i]); scratch as attend_f16_rounded's.
template <int NQ>
void attend_group(const float* const* q, const uint16_t* const* keys, const uint16_t* const* values, int64_t n,
                  int64_t dk, int64_t dv, float scale, float* const* out, float* scratch) {
    const float* qf[NQ];
    Softmax sm[NQ];
    for (int i = 0; i < NQ; ++i) {
        float* r = scratch + i * (dk + 2 * n);
        for (int64_t j = 0; j < dk; j += 16) {
            const __mmask16 m = mask_of(dk - j);
            _mm512_mask_storeu_ps(r + j, m, round_f16(_mm512_maskz_loadu_ps(m, q[i] + j)));
        }
        qf[i] = r;
        sm[i].rescale = r + dk;
        sm[i].weight = r + dk + n;
    }
    scores_and_softmax<NQ>(qf, keys, n, dk, scale, sm);
    weighted_slabs<NQ, F16Values>(values, n, dv, sm, out);
}

// Over a Q8_0 cache (ops.h, attend_q8_0): pass 1 each query's scores by vec_dot_q8_0 (the level's
// dot product, so its bits), pass 2 as above, pass 3 the weighted sums in float (a multiply and an
// add per value and cell), each value block dequantized once for the group. Rows of whole blocks.
struct Q8_0Values {
    using Row = const BlockQ8_0*;
    static __m512 load(const BlockQ8_0* row, int64_t j, __mmask16) {  // half j % 32 / 16 of a block
        const BlockQ8_0& b = row[j / 32];
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + j % 32));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(_cvtsh_ss(b.d)));
    }
    static __m512 rescaled(__m512 acc, __m512 ms) { return _mm512_mul_ps(acc, ms); }
    static __m512 add(__m512 acc, __m512 v, __m512 w) { return _mm512_add_ps(acc, _mm512_mul_ps(w, v)); }
};

template <int NQ>
void attend_q8_0_group(const float* const* q, const BlockQ8_0* const* keys, const BlockQ8_0* const* values, int64_t n,
                       int64_t dk, int64_t dv, float scale, float* const* out, float* scratch) {
    Softmax sm[NQ];
    BlockQ8_0* q_dot[NQ];
    for (int i = 0; i < NQ; ++i) {
        float* r = scratch + i * (dk + 2 * n);
        q_dot[i] = reinterpret_cast<BlockQ8_0*>(r);  // dk / 32 blocks of 34 bytes fit in dk floats
        quantize_q8_0_activations(q[i], q_dot[i], dk);
        sm[i].rescale = r + dk;
        sm[i].weight = r + dk + n;
    }
    for (int64_t c = 0; c < n; ++c)
        for (int i = 0; i < NQ; ++i) sm[i].weight[c] = vec_dot_q8_0(keys[c], q_dot[i], dk) * scale;
    for (int i = 0; i < NQ; ++i) softmax_in_order(sm[i], n);
    weighted_slabs<NQ, Q8_0Values>(values, n, dv, sm, out);
}

// f(Const<NQ>, queries, outputs) for the n_q queries kGroup at a time.
template <typename F>
void by_groups(const float* q, int64_t q_stride, int64_t n_q, float* out, int64_t out_stride, F&& f) {
    for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
        const int n_g = static_cast<int>(n_q - g0 < kGroup ? n_q - g0 : kGroup);
        const float* qg[kGroup];
        float* og[kGroup];
        for (int i = 0; i < n_g; ++i) {
            qg[i] = q + (g0 + i) * q_stride;
            og[i] = out + (g0 + i) * out_stride;
        }
        if (n_g == 1) f(Const<1>{}, qg, og);
        if (n_g == 2) f(Const<2>{}, qg, og);
        if (n_g == 3) f(Const<3>{}, qg, og);
    }
}

}  // namespace

void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride, float* scratch) {
    by_groups(q, q_stride, n_q, out, out_stride, [&](auto NQ, const float* const* qg, float* const* og) {
        attend_group<NQ>(qg, keys, values, n, dk, dv, scale, og, scratch);
    });
}

void attend_q8_0(const float* q, int64_t q_stride, int64_t n_q, const void* const* keys, const void* const* values,
                 int64_t n, int64_t dk, int64_t dv, float scale, float* out, int64_t out_stride, float* scratch) {
    by_groups(q, q_stride, n_q, out, out_stride, [&](auto NQ, const float* const* qg, float* const* og) {
        attend_q8_0_group<NQ>(qg, reinterpret_cast<const BlockQ8_0* const*>(keys),
                              reinterpret_cast<const BlockQ8_0* const*>(values), n, dk, dv, scale, og, scratch);
    });
}

}  // namespace sinan::kernels::avx512
