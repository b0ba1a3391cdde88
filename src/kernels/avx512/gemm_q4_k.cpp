// AVX-512 VNNI matrix product for Q4_K weights and Q8_K activations (dispatch.h, GemmKernel), each
// result bit-identical to the level's single-row vec_dot_q4_k (and so to the scalar reference), so
// a token's logits do not depend on what else is in its batch.
//
// Batches of fewer than kMinGemmTokens tokens go row by row through vec_dot_q4_k_x4 / vec_dot_q4_k
// (decoding reads each weight once whatever the layout). Larger ones take the weights 16 rows at a
// time (a panel): each 256-value block of the 16 rows is unpacked once into scratch, its 4-bit
// quants transposed so that int32 lane r of a vector belongs to row r (8 vectors of 4 bytes per
// 32-value group), its six-bit group scales and mins spread the same way; then every token meets
// the panel. Per block and token, as the reference computes it:
//   group sum g   = sum_j q[j] * x[j]             eight vpdpbusd (quants 0..15, unsigned, times the
//                                                 signed activations: exact int32)
//   isum          = sum_g scale[g] * group sum g  (vpmulld, exact)
//   msum          = sum_g min[g] * (bsums[2g] + bsums[2g+1])   (vpmaddwd on int16 pairs, exact)
//   y            += x.d * d * float(isum) - x.d * dmin * float(msum)   (one lane per row, left to
//                                                                      right, no fused multiply-add)
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int64_t kMinGemmTokens = 8;
constexpr int kGroups = kQKK / 32;

// The 6-bit scales and mins of a Q4_K block: sc[0..7], m[0..7] (the packing of
// docs/formats/quant-types.md undone as ref::get_scale_min_k4 does).
inline void scales_mins(const uint8_t* q, uint8_t* sc, uint8_t* m) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = static_cast<uint8_t>((q[j + 8] & 0x0f) | ((q[j] >> 6) << 4));
        m[j + 4] = static_cast<uint8_t>((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

// The kernel panel::gemm runs (see panel.h for the parts).
struct Q4K {
    using WBlock = BlockQ4_K;
    using XBlock = BlockQ8_K;
    static constexpr int64_t kBlockValues = kQKK;
    static constexpr int kTile = 4;  // 8 was no faster

    // One 256-value block of a panel.
    struct Panel {
        __m512i q[kGroups][8];          // q[g][k]: bytes 4k..4k+3 of group g of each row, values 0..15
        __m512i scale[kGroups];         // int32 lane r: row r's scale of group g
        __m512i min_pair[kGroups / 2];  // int32 lane r: row r's mins of groups 2k (low 16 bits) and 2k+1 (high)
        __m512 d, dmin;                 // float lane r: row r's block scales
    };

    // A token's block: its scale and, for each pair of groups (2k, 2k+1), the sums of their
    // values as int16 (low: group 2k, high: group 2k+1; each at most 32 * 128 in magnitude).
    struct TokenBlock {
        float d;
        int32_t group_sum_pair[kGroups / 2];
    };

    static void summarize(const BlockQ8_K& x, TokenBlock* out) {
        out->d = x.d;
        for (int k = 0; k < kGroups / 2; ++k) {
            const auto lo = static_cast<uint16_t>(x.bsums[4 * k] + x.bsums[4 * k + 1]);
            const auto hi = static_cast<uint16_t>(x.bsums[4 * k + 2] + x.bsums[4 * k + 3]);
            out->group_sum_pair[k] = static_cast<int32_t>(lo | (static_cast<uint32_t>(hi) << 16));
        }
    }

    static void pack(const BlockQ4_K* const* rows, int64_t b, Panel* out) {
        const __m512i low4 = _mm512_set1_epi8(0x0f);
        for (int pair = 0; pair < kGroups / 2; ++pair) {
            __m512i lo[8], hi[8];
            for (int k = 0; k < 8; ++k) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k][b].qs + 32 * pair));
                const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k + 8][b].qs + 32 * pair));
                const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), c, 1);
                lo[k] = _mm512_and_si512(v, low4);
                hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            }
            panel::transpose_groups(lo, out->q[2 * pair]);
            panel::transpose_groups(hi, out->q[2 * pair + 1]);
        }
        alignas(64) int32_t scale[kGroups][panel::kRows], min_pair[kGroups / 2][panel::kRows];
        alignas(64) float d[panel::kRows], dmin[panel::kRows];
        for (int r = 0; r < panel::kRows; ++r) {
            const BlockQ4_K& blk = rows[r][b];
            uint8_t sc[kGroups], m[kGroups];
            scales_mins(blk.scales, sc, m);
            for (int g = 0; g < kGroups; ++g) scale[g][r] = sc[g];
            for (int k = 0; k < kGroups / 2; ++k) min_pair[k][r] = m[2 * k] | (m[2 * k + 1] << 16);
            d[r] = _cvtsh_ss(blk.d);
            dmin[r] = _cvtsh_ss(blk.dmin);
        }
        for (int g = 0; g < kGroups; ++g) out->scale[g] = _mm512_load_si512(scale[g]);
        for (int k = 0; k < kGroups / 2; ++k) out->min_pair[k] = _mm512_load_si512(min_pair[k]);
        out->d = _mm512_load_ps(d);
        out->dmin = _mm512_load_ps(dmin);
    }

    template <int T>
    static void accumulate(const Panel& p, const TokenBlock* const* tb, const BlockQ8_K* const* xb, __m512* acc) {
        const int8_t* xq[T];
        for (int t = 0; t < T; ++t) xq[t] = xb[t]->qs;
        __m512i isum[T];
        panel::scaled_group_sums<T, kGroups, 8>(
            p.q, p.scale, xq, [](int, int) { return _mm512_setzero_si512(); }, isum);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            const TokenBlock& x = *tb[t];
            __m512i msum = _mm512_madd_epi16(p.min_pair[0], _mm512_set1_epi32(x.group_sum_pair[0]));
            for (int k = 1; k < kGroups / 2; ++k)
                msum = _mm512_add_epi32(msum, _mm512_madd_epi16(p.min_pair[k], _mm512_set1_epi32(x.group_sum_pair[k])));
            const __m512 xd = _mm512_set1_ps(x.d);
            const __m512 a = _mm512_mul_ps(_mm512_mul_ps(xd, p.d), _mm512_cvtepi32_ps(isum[t]));
            const __m512 m = _mm512_mul_ps(_mm512_mul_ps(xd, p.dmin), _mm512_cvtepi32_ps(msum));
            acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(a, m));
        }
    }
};

// Rows one at a time for small batches: four tokens per pass over a row, then the rest singly.
void rows_times_tokens(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x, size_t x_row_bytes,
                       int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = w + r * w_row_bytes;
        int64_t t = 0;
        for (; t + 4 <= n_tokens; t += 4) {
            float s[4];
            vec_dot_q4_k_x4(row, x + t * x_row_bytes, x_row_bytes, n_cols, s);
            for (int k = 0; k < 4; ++k) y[(t + k) * y_stride + r] = s[k];
        }
        for (; t < n_tokens; ++t) y[t * y_stride + r] = vec_dot_q4_k(row, x + t * x_row_bytes, n_cols);
    }
}

}  // namespace

size_t gemm_q4_k_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return n_tokens < kMinGemmTokens ? 0 : panel::scratch_bytes<Q4K>(n_tokens, n_cols);
}

void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    if (n_tokens < kMinGemmTokens)
        return rows_times_tokens(static_cast<const uint8_t*>(w), w_row_bytes, n_rows, static_cast<const uint8_t*>(x),
                                 x_row_bytes, n_tokens, n_cols, y, y_stride);
    panel::gemm<Q4K>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride, scratch);
}

}  // namespace sinan::kernels::avx512
