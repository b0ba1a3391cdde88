// Q6_K's product over packed panels, the AVX2 kernel's (avx2/gemm_q6_k.cpp says what it computes),
// shared by the levels that read the AVX2 panels: avx2/gemm_q6_k.cpp, and avx_vnni/gemm_q6_k.cpp,
// which compiles it with -mavxvnni: there panel.h's integer steps take each group's four steps of
// products through vpdpbusd into int32 group sums (no int16 stage: at most 16 * 63 * 128 =
// 129024), and the group scales multiply them as int32 (vpmulld), the same exact integers.
// Included only by sources compiled with the AVX2 flags; every function here is static, so no copy
// of it leaves its translation unit (see half.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/panel_slices.h"

namespace sinan::kernels::avx2::q6_k_panels {

using panel::half_vector;
using panel::spread;

constexpr int kGroups = kQKK / 16;
// A packed block's 64-byte vectors: step s's low bits (bytes 64h + 4w and 64h + 32 + 4w of ql)
// and high bits (bytes 32h + 4w of qh) at 3s, 3s + 1 and 3s + 2 (s = 8h + w); the group scales
// 4i .. 4i + 3 at kScaleVector + i.
constexpr int kSteps = 16, kScaleVector = 3 * kSteps;
constexpr size_t kBlockBytes = (kScaleVector + kGroups / 4) * 64;
using Layout = panel_runs::Runs<kBlockBytes>;  // the blocks with their d
static_assert(Layout::kBlockBytes == panel::kRows * sizeof(BlockQ6_K));

// Values 128h + 32v + 4w .. + 3 of each lane's row (0..63) from step 8h + w's words: (low & 0x0f)
// | the high bits moved to 0x30; lo: the low-bit word (v 0, 2: lo0; 1, 3: lo1), hi: the high bits.
static inline __m256i unpack(__m256i lo, __m256i hi, int v) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    const __m256i x = v < 2 ? lo : _mm256_srli_epi16(lo, 4);  // v 2, 3: the upper nibbles
    const __m256i y = v == 0   ? _mm256_slli_epi16(hi, 4)
                      : v == 1 ? _mm256_slli_epi16(hi, 2)
                      : v == 2 ? hi
                               : _mm256_srli_epi16(hi, 2);
    return _mm256_or_si256(_mm256_and_si256(x, low4), _mm256_and_si256(y, bits45));
}

// acc[t] += half h of packed block `block` (its rows' d: d, 8 binary16) times token t's block xb[t].
template <int T>
[[gnu::always_inline]] static inline void accumulate_half(const uint8_t* block, const uint16_t* d, int h,
                                                          const BlockQ8_K* const* xb, __m256* acc) {
    // The group scales, 4 bytes a lane.
    __m256i sc_vec[kGroups / 4];
    for (int i = 0; i < kGroups / 4; ++i) sc_vec[i] = half_vector(block, kScaleVector + i, h);
    __m256i isum[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
    // Groups 8hh + 2v + wq (values 128hh + 32v + 16wq .. + 15) four at a time, v = 0..3, from the
    // four steps 8hh + 4wq .. + 3, scaled every kStepsPerScale steps: int16 sums of two steps (at
    // most 2 * 2 * 63 * 128 = 32256), int32 ones of all four.
    constexpr int kStepsPerScale = panel::kInt32Sums ? 4 : 2;
#pragma GCC unroll 2
    for (int hh = 0; hh < 2; ++hh) {
#pragma GCC unroll 2
        for (int wq = 0; wq < 2; ++wq) {
            __m256i p[4][T];
#pragma GCC unroll 4
            for (int w = 4 * wq; w < 4 * wq + 4; ++w) {
                const int s = 8 * hh + w;
                const __m256i lo0 = half_vector(block, 3 * s, h), lo1 = half_vector(block, 3 * s + 1, h),
                              hi = half_vector(block, 3 * s + 2, h);
#pragma GCC unroll 4
                for (int v = 0; v < 4; ++v) {
                    const __m256i u = unpack(v % 2 == 0 ? lo0 : lo1, hi, v);
#pragma GCC unroll 4
                    for (int t = 0; t < T; ++t)
                        p[v][t] = panel::add_products(w % kStepsPerScale == 0 ? _mm256_setzero_si256() : p[v][t], u,
                                                      panel::broadcast4(xb[t]->qs + 128 * hh + 32 * v + 4 * w));
                    if (w % kStepsPerScale == kStepsPerScale - 1) {
                        const int g = 8 * hh + 2 * v + wq;
                        const __m256i sc = panel::lane_scale<true>(sc_vec[g / 4], g % 4);
#pragma GCC unroll 4
                        for (int t = 0; t < T; ++t) isum[t] = _mm256_add_epi32(isum[t], panel::scaled(p[v][t], sc));
                    }
                }
            }
        }
    }
    // 32 * sum_g sc[g] * bsums[g], the scales in pairs (groups 2k, 2k + 1) against bsums' word k.
    __m256i sc_pair[kGroups / 2];
#pragma GCC unroll 8
    for (int k = 0; k < kGroups / 2; ++k)
        sc_pair[k] = _mm256_srai_epi16(_mm256_shuffle_epi8(sc_vec[k / 2], spread(2 * (k % 2), 2 * (k % 2) + 1, 1)), 8);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        __m256i corr = _mm256_madd_epi16(sc_pair[0], panel::broadcast4(xb[t]->bsums));
#pragma GCC unroll 8
        for (int k = 1; k < kGroups / 2; ++k)
            corr = _mm256_add_epi32(corr, _mm256_madd_epi16(sc_pair[k], panel::broadcast4(xb[t]->bsums + 2 * k)));
        const __m256i total = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(corr, 5));
        acc[t] = _mm256_add_ps(acc[t],
                               _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xb[t]->d)), _mm256_cvtepi32_ps(total)));
    }
}

template <bool kReadAhead>
static void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                           int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQKK;
    panel::over_panels<kReadAhead, BlockQ8_K>(
        w, w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), Layout::kRunBlocks,
        [](int64_t n, int64_t b) { return Layout::q_offset(n, b); }, kBlockBytes, x, x_row_bytes, n_tokens, y, y_stride,
        [](auto T, const uint8_t* block, const uint8_t* unit, int64_t b, int h, const BlockQ8_K* const* xb, __m256* acc)
            __attribute__((always_inline)) {
                // The block's d at the start of its run.
                const auto* d = reinterpret_cast<const uint16_t*>(unit + Layout::d_offset(b));
                accumulate_half<T>(block, d + 8 * h, h, xb, acc);
            });
}

}  // namespace sinan::kernels::avx2::q6_k_panels
