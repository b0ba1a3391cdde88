// AVX2 matrix product for Q4_K weights and Q8_K activations (dispatch.h, GemmKernel), each result
// bit-identical to the level's single-row vec_dot_q4_k (and so to the scalar reference), so a
// token's logits do not depend on what else is in its batch.
//
// Rows in place (gemm_q4_k): row by row through vec_dot_q4_k_x4 / vec_dot_q4_k, four tokens a pass.
//
// Packed weights (gemm_q4_k_packed): a model repacks its Q4_K matrices once, at load
// (pack_q4_k_panels), into the layout of the AVX-512 kernel (avx512/gemm_q4_k.cpp, PackedBlock):
// per block of 16 rows, 36 vectors of 64 bytes whose int32 lane r holds 4 bytes of row r (32 of
// quants as they lie in the rows, 3 of packed scales and mins, 1 of d and dmin), long rows in
// slices (panel_slices.h). A 256-bit register takes half of each vector, rows 0-7 or 8-15, one
// lane per row, so no block is reduced across lanes; the row-wise dot product spends most of its
// instructions on those reductions and on unpacking each row's scales (one core, weights in L2:
// see bench/NOTES.md). Per half block and token, as the reference computes it:
//   group sums   vpmaddubsw of the nibbles (0..15, unsigned) against the token's 4 bytes broadcast,
//                eight of them added as int16 (at most 16 * 15 * 128 = 30720 in magnitude: exact),
//                then vpmaddwd with the group's scale in both halves of the lane: scale * sum, exact
//   msum         = sum_g m[g] * (bsums[2g] + bsums[2g+1]): vpmaddwd of the mins as int16 pairs
//                against the token's pairs of group sums
//   y           += x.d * d * float(isum) - x.d * dmin * float(msum)   (no fused multiply-add)
// The product over packed panels is avx2/q4_k_panels.h's (the avx-vnni level compiles it too).
// Batches meet a panel 2 tokens a pass (its blocks then come from L1 or L2; panel.h); one token
// may have each block fetched 8 KiB ahead into L1 and 16 KiB into L2 (gemm_q4_k_packed_read_ahead,
// panel::read_ahead, kernels.h's decode_read_ahead).
// Compiled with -mavx2 -mfma -mf16c; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/avx2/q4_k_panels.h"
#include "kernels/blocks.h"
#include "kernels/panel_slices.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

using q4_k_panels::kBlockBytes;
using q4_k_panels::kDVector;
using q4_k_panels::kQuantVectors;
using q4_k_panels::kScaleVector;

size_t gemm_q4_k_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    panel::rows_times_tokens<vec_dot_q4_k_x4, vec_dot_q4_k>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y,
                                                            y_stride);
}

void pack_q4_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQKK;
    panel_slices::pack_units<BlockQ4_K>(
        w, w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), 1, out,
        [&](uint8_t* unit, const BlockQ4_K* const* rows, const panel_slices::Unit& u) {
            for (int64_t b = u.b0; b < u.b1; ++b) {
                uint8_t* block = unit + (b - u.b0) * kBlockBytes;
                for (int r = 0; r < panel::kRows; ++r) {
                    const BlockQ4_K& src = rows[r][b];
                    for (int v = 0; v < kQuantVectors; ++v) panel::put_lane(block + 64 * v, r, src.qs + 4 * v);
                    for (int i = 0; i < 3; ++i) panel::put_lane(block + 64 * (kScaleVector + i), r, src.scales + 4 * i);
                    const uint32_t d_dmin = src.d | static_cast<uint32_t>(src.dmin) << 16;
                    panel::put_lane(block + 64 * kDVector, r, &d_dmin);
                }
            }
        });
}

size_t gemm_q4_k_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q4_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    q4_k_panels::packed_product<false>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

void gemm_q4_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    q4_k_panels::packed_product<true>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx2
