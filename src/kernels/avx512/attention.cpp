// AVX-512 small-batch attention over binary16 keys and values (ops.h, attend_f16_rounded): the
// operations of attend_f16_rounded_composite (dispatch.h) on this level's kernels, bit for bit,
// in three passes per query instead of four kernel calls per cell:
//   1. the scores, each key converted to floats as dot_f32 reads it (dot_f32.h's order);
//   2. the online softmax over them, in cell order: where each new maximum comes, the rescale
//      exp(max - s), and every cell's weight exp(s - max) (libm's expf, as the composite's
//      std::exp) and the running sum;
//   3. the weighted sum of the values, kept in binary16 as the reference keeps it: 128 floats of
//      it in 8 registers through all the cells (one fma, one rounding to binary16 and back per
//      value), where the composite stored and reloaded them at every cell.
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>
#include <math.h>

#include "kernels/avx512/dot_f32.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int kSlab = 8;  // 16-float vectors of the weighted sum held in registers: 128 values

__m512 round_f16(__m512 x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }

__mmask16 mask_of(int64_t left) { return static_cast<__mmask16>(left >= 16 ? 0xffff : (1u << left) - 1); }

// acc[0 .. 16 * n_vec) of the weighted sum (values j0 + ... of each row) through every cell:
// where rescale[c] >= 0 (a new maximum), acc = round(acc * rescale[c]); then
// acc = round(fma(v_c, weight[c], acc)).
template <int NVec>
void weighted_values(const uint16_t* const* values, int64_t n, int64_t j0, int64_t dv, const float* rescale,
                     const float* weight, float* out, float sum) {
    __m512 acc[NVec];
    __mmask16 m[NVec];
    for (int k = 0; k < NVec; ++k) {
        acc[k] = _mm512_setzero_ps();
        m[k] = mask_of(dv - j0 - 16 * k);
    }
    for (int64_t c = 0; c < n; ++c) {
        if (rescale[c] >= 0.0f) {
            const __m512 ms = _mm512_set1_ps(rescale[c]);
            for (int k = 0; k < NVec; ++k) acc[k] = round_f16(_mm512_mul_ps(acc[k], ms));
        }
        const __m512 vs = _mm512_set1_ps(weight[c]);
        const uint16_t* v = values[c] + j0;
        for (int k = 0; k < NVec; ++k) {
            const __m512 vf = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[k], v + 16 * k));
            acc[k] = round_f16(_mm512_fmadd_ps(vf, vs, acc[k]));
        }
    }
    for (int k = 0; k < NVec; ++k) {
        const __m512 r = sum == 0.0f ? _mm512_setzero_ps() : _mm512_div_ps(acc[k], _mm512_set1_ps(sum));
        _mm512_mask_storeu_ps(out + j0 + 16 * k, m[k], r);
    }
}

using WeightedValuesFn = void (*)(const uint16_t* const*, int64_t, int64_t, int64_t, const float*, const float*, float*,
                                  float);
constexpr WeightedValuesFn kWeightedValues[kSlab + 1] = {
    nullptr,
    weighted_values<1>,
    weighted_values<2>,
    weighted_values<3>,
    weighted_values<4>,
    weighted_values<5>,
    weighted_values<6>,
    weighted_values<7>,
    weighted_values<8>,
};

}  // namespace

void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride, float* scratch) {
    float* qf = scratch;          // the query rounded to binary16, dk floats
    float* rescale = qf + dk;     // per cell: exp(max - s) where a new maximum comes, else -1
    float* weight = rescale + n;  // per cell: the value's weight
    for (int64_t g = 0; g < n_q; ++g) {
        const float* qg = q + g * q_stride;
        for (int64_t i = 0; i < dk; i += 16) {
            const __mmask16 m = mask_of(dk - i);
            _mm512_mask_storeu_ps(qf + i, m, round_f16(_mm512_maskz_loadu_ps(m, qg + i)));
        }
        float max = -INFINITY, sum = 0.0f;
        for (int64_t c = 0; c < n; ++c) {
            const uint16_t* k = keys[c];
            const float s =
                dot_f32_in_order(
                    qf, [k](int64_t i, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + i)); },
                    dk) *
                scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > max) {
                ms = expf(max - s);  // 0 for the first cell
                max = s;
                rescale[c] = ms;
            } else {
                vs = expf(s - max);
                rescale[c] = -1.0f;
            }
            weight[c] = vs;
            sum = sum * ms + vs;
        }
        float* og = out + g * out_stride;
        for (int64_t j0 = 0; j0 < dv; j0 += 16 * kSlab) {
            const int64_t left = (dv - j0 + 15) / 16;
            kWeightedValues[left < kSlab ? left : kSlab](values, n, j0, dv, rescale, weight, og, sum);
        }
    }
}

}  // namespace sinan::kernels::avx512
