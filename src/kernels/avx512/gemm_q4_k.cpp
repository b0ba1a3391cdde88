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

#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int kPanelRows = 16;  // one int32 lane per row
constexpr int kTokenTile = 4;   // tokens sharing one pass over a panel
constexpr int64_t kMinGemmTokens = 8;
constexpr int kGroups = kQKK / 32;

// One 256-value block of a panel.
struct PanelBlock {
    __m512i q[kGroups][8];       // q[g][k]: bytes 4k..4k+3 of group g of each row (lane r: row r), values 0..15
    __m512i scale[kGroups];      // int32 lane r: row r's scale of group g
    __m512i min_pair[kGroups / 2];  // int32 lane r: row r's mins of groups 2k (low 16 bits) and 2k+1 (high)
    __m512 d, dmin;              // float lane r: row r's block scales
};

// The activations of one token, per block: its scale and, for each pair of groups (2k, 2k+1),
// the sums of their values as int16 (low: group 2k, high: group 2k+1; each at most 32 * 128).
struct TokenBlock {
    float d;
    int32_t group_sum_pair[kGroups / 2];
};

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

// An 8x8 transpose of 4-byte groups in each 256-bit half of r[0..7] (lanes 0-7: row k's eight
// groups, lanes 8-15: row k + 8's), into out[0..7] (out[j]: group j of all 16 rows), as in gemm.cpp.
inline void transpose_groups(const __m512i* r, const __m512i& idx_lo, const __m512i& idx_hi, __m512i* out) {
    __m512i t[8], u[8];
    for (int k = 0; k < 4; ++k) {
        t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {
        u[4 * k + 0] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
        u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
    }
    for (int j = 0; j < 4; ++j) {
        out[j] = _mm512_permutex2var_epi64(u[j], idx_lo, u[j + 4]);
        out[j + 4] = _mm512_permutex2var_epi64(u[j], idx_hi, u[j + 4]);
    }
}

// Unpacks block b of the 16 rows at rows[0..15] (rows past the end of the matrix repeat the last).
void pack_block(const BlockQ4_K* const* rows, int64_t b, PanelBlock* out) {
    const __m512i idx_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i idx_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
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
        transpose_groups(lo, idx_lo, idx_hi, out->q[2 * pair]);
        transpose_groups(hi, idx_lo, idx_hi, out->q[2 * pair + 1]);
    }
    alignas(64) int32_t scale[kGroups][kPanelRows], min_pair[kGroups / 2][kPanelRows];
    alignas(64) float d[kPanelRows], dmin[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r) {
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

// y[t * y_stride + r] for the `valid` rows of a packed panel and T tokens.
template <int T>
void panel_times_tokens(const PanelBlock* panel, int64_t n_blocks, const TokenBlock* const* tb,
                        const BlockQ8_K* const* xb, float* y, int64_t y_stride, __mmask16 valid) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const PanelBlock& p = panel[b];
        __m512i isum[T];
        for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
        for (int g = 0; g < kGroups; ++g) {
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const int8_t* xq = xb[t][b].qs + 32 * g;
                __m512i gsum = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int k = 0; k < 8; ++k) {
                    int32_t x4;
                    __builtin_memcpy(&x4, xq + 4 * k, sizeof(x4));
                    gsum = _mm512_dpbusd_epi32(gsum, p.q[g][k], _mm512_set1_epi32(x4));
                }
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(gsum, p.scale[g]));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            const TokenBlock& x = tb[t][b];
            __m512i msum = _mm512_madd_epi16(p.min_pair[0], _mm512_set1_epi32(x.group_sum_pair[0]));
            for (int k = 1; k < kGroups / 2; ++k)
                msum = _mm512_add_epi32(msum, _mm512_madd_epi16(p.min_pair[k], _mm512_set1_epi32(x.group_sum_pair[k])));
            const __m512 xd = _mm512_set1_ps(x.d);
            const __m512 a = _mm512_mul_ps(_mm512_mul_ps(xd, p.d), _mm512_cvtepi32_ps(isum[t]));
            const __m512 m = _mm512_mul_ps(_mm512_mul_ps(xd, p.dmin), _mm512_cvtepi32_ps(msum));
            acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(a, m));
        }
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, valid, acc[t]);
}

using PanelFn = void (*)(const PanelBlock*, int64_t, const TokenBlock* const*, const BlockQ8_K* const*, float*, int64_t,
                         __mmask16);
constexpr PanelFn kPanelFns[kTokenTile + 1] = {
    nullptr, panel_times_tokens<1>, panel_times_tokens<2>, panel_times_tokens<3>, panel_times_tokens<4>,
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
    if (n_tokens < kMinGemmTokens) return 0;
    const auto n_blocks = static_cast<size_t>(n_cols / kQKK);
    return n_blocks * sizeof(PanelBlock) + static_cast<size_t>(n_tokens) * n_blocks * sizeof(TokenBlock);
}

void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    const auto* ws = static_cast<const uint8_t*>(w);
    const auto* xs = static_cast<const uint8_t*>(x);
    if (n_tokens < kMinGemmTokens) return rows_times_tokens(ws, w_row_bytes, n_rows, xs, x_row_bytes, n_tokens, n_cols, y, y_stride);
    const int64_t n_blocks = n_cols / kQKK;
    auto* panel = static_cast<PanelBlock*>(scratch);
    auto* token_blocks = reinterpret_cast<TokenBlock*>(panel + n_blocks);
    // Each token's block scales and group-pair sums, once per call (a thread's share of the rows).
    for (int64_t t = 0; t < n_tokens; ++t) {
        const auto* xb = reinterpret_cast<const BlockQ8_K*>(xs + t * x_row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            TokenBlock& tb = token_blocks[t * n_blocks + b];
            tb.d = xb[b].d;
            const int16_t* bs = xb[b].bsums;
            for (int k = 0; k < kGroups / 2; ++k) {
                const auto lo = static_cast<uint16_t>(bs[4 * k] + bs[4 * k + 1]);
                const auto hi = static_cast<uint16_t>(bs[4 * k + 2] + bs[4 * k + 3]);
                tb.group_sum_pair[k] = static_cast<int32_t>(lo | (static_cast<uint32_t>(hi) << 16));
            }
        }
    }
    const TokenBlock* tb[kTokenTile];
    const BlockQ8_K* xb[kTokenTile];
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const int n_valid = static_cast<int>(n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows);
        const BlockQ4_K* rows[kPanelRows];
        for (int k = 0; k < kPanelRows; ++k)
            rows[k] = reinterpret_cast<const BlockQ4_K*>(ws + (r0 + (k < n_valid ? k : n_valid - 1)) * w_row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) pack_block(rows, b, panel + b);
        const __mmask16 valid = static_cast<__mmask16>((1u << n_valid) - 1);
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
            const int n_t = static_cast<int>(n_tokens - t0 < kTokenTile ? n_tokens - t0 : kTokenTile);
            for (int k = 0; k < n_t; ++k) {
                tb[k] = token_blocks + (t0 + k) * n_blocks;
                xb[k] = reinterpret_cast<const BlockQ8_K*>(xs + (t0 + k) * x_row_bytes);
            }
            kPanelFns[n_t](panel, n_blocks, tb, xb, y + t0 * y_stride + r0, y_stride, valid);
        }
    }
}

}  // namespace sinan::kernels::avx512
