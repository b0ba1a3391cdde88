// AVX-512 small-batch attention over binary16 keys and values (ops.h, attend_f16_rounded): the
// operations of attend_f16_rounded_composite (dispatch.h) on this level's kernels, bit for bit,
// in passes over the cells instead of four kernel calls per cell, for up to kGroup query heads at
// once:
//   1. the scores, each key converted to floats once for the group, as dot_f32 reads it
//      (dot_f32.h's order), the reductions of 16 cells' sums together;
//   2. the online softmax over them: in cell order, where each new maximum comes and the argument
//      of each exp (max - s there, the rescale; s - max elsewhere, the value's weight); then every
//      exp, 16 cells a vector (this level's exp, exp.h, where libm's expf one call at a time took
//      a third of the time); then the running sum of the weights, in cell order;
//   3. the weighted sums of the values, kept in binary16 as the reference keeps them: 64 floats
//      of each in registers through all the cells (one fma, one rounding to binary16 and back per
//      value), each value converted once for the group, where the composite stored and reloaded
//      the sum at every cell.
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>
#include <math.h>

#include "kernels/avx512/dot_f32.h"
#include "kernels/avx512/exp.h"
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
    for (int i = 0; i < NQ; ++i) {
        float* w = sm[i].weight;
        float* r = sm[i].rescale;
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
        sm[i].sum = sum;
    }
}

// Pass 3 for NQ queries over values j0 .. j0 + 16 * NVec of every row: per query, through every
// cell, where rescale[c] >= 0 acc = round(acc * rescale[c]); then acc = round(fma(v_c, weight[c],
// acc)); out[i] = acc / sum (0 where sum = 0).
template <int NQ, int NVec>
void weighted_values(const uint16_t* const* values, int64_t n, int64_t j0, int64_t dv, const Softmax* sm,
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
                for (int k = 0; k < NVec; ++k) acc[i][k] = round_f16(_mm512_mul_ps(acc[i][k], ms));
            }
        }
        const uint16_t* v = values[c] + j0;
        for (int k = 0; k < NVec; ++k) {
            const __m512 vf = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[k], v + 16 * k));
            for (int i = 0; i < NQ; ++i)
                acc[i][k] = round_f16(_mm512_fmadd_ps(vf, _mm512_set1_ps(sm[i].weight[c]), acc[i][k]));
        }
    }
    for (int i = 0; i < NQ; ++i)
        for (int k = 0; k < NVec; ++k) {
            const __m512 r =
                sm[i].sum == 0.0f ? _mm512_setzero_ps() : _mm512_div_ps(acc[i][k], _mm512_set1_ps(sm[i].sum));
            _mm512_mask_storeu_ps(out[i] + j0 + 16 * k, m[k], r);
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
    for (int64_t j0 = 0; j0 < dv; j0 += 16 * kSlab) {
        switch ((dv - j0 + 15) / 16) {
            case 1:
                weighted_values<NQ, 1>(values, n, j0, dv, sm, out);
                break;
            case 2:
                weighted_values<NQ, 2>(values, n, j0, dv, sm, out);
                break;
            case 3:
                weighted_values<NQ, 3>(values, n, j0, dv, sm, out);
                break;
            default:
                weighted_values<NQ, kSlab>(values, n, j0, dv, sm, out);
                break;
        }
    }
}

}  // namespace

void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride, float* scratch) {
    for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
        const int n_g = static_cast<int>(n_q - g0 < kGroup ? n_q - g0 : kGroup);
        const float* qg[kGroup];
        float* og[kGroup];
        for (int i = 0; i < n_g; ++i) {
            qg[i] = q + (g0 + i) * q_stride;
            og[i] = out + (g0 + i) * out_stride;
        }
        if (n_g == 1) attend_group<1>(qg, keys, values, n, dk, dv, scale, og, scratch);
        if (n_g == 2) attend_group<2>(qg, keys, values, n, dk, dv, scale, og, scratch);
        if (n_g == 3) attend_group<3>(qg, keys, values, n, dk, dv, scale, og, scratch);
    }
}

}  // namespace sinan::kernels::avx512
