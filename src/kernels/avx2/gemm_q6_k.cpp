// AVX2 matrix product for Q6_K weights and Q8_K activations (dispatch.h, GemmKernel), each result
// bit-identical to the level's single-row vec_dot_q6_k (and so to the scalar reference).
//
// Rows in place (gemm_q6_k): row by row through vec_dot_q6_k_x4 / vec_dot_q6_k, four tokens a pass.
//
// Packed weights (gemm_q6_k_packed): a model repacks its Q6_K matrices once, at load
// (pack_q6_k_panels), into the layout of the AVX-512 kernel (avx512/gemm_q6_k.cpp, PackedBlock):
// per block of 16 rows, 16 steps of three vectors (two words of low bits, one of high bits, int32
// lane r: 4 bytes of row r), then 4 vectors of int8 group scales; each block's 16 row scales d
// before it (panel_runs.h: two blocks' d, then the two blocks); long rows in slices
// (panel_slices.h). A 256-bit register takes half of each vector (panel.h).
// Per half block and token, as the reference computes it, with u = the six-bit value (0..63, the stored value + 32):
//   isum = sum_g sc[g] * sum_j (u[j] - 32) x[j]
//        = sum_g sc[g] * sum_j u[j] x[j]  -  32 * sum_g sc[g] * bsums[g]        (exact, int32)
//   the first: vpmaddubsw of u against the token's 4 bytes broadcast, two of them added as int16
//   (at most 2 * 2 * 63 * 128 = 32256: exact), vpmaddwd by the group scale sign-extended into both
//   halves of the lane; the second: vpmaddwd of the scales in pairs against the token's bsums
//   y += d * x.d * float(isum)   (lane r: row r)
// The product over packed panels is avx2/q6_k_panels.h's (the avx-vnni level compiles it too).
// Batches meet a panel 2 tokens a pass (panel.h); one token may have each block fetched ahead
// (gemm_q6_k_packed_read_ahead, panel::read_ahead, kernels.h's decode_read_ahead).
// Compiled with -mavx2 -mfma -mf16c; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/avx2/q6_k_panels.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/panel_slices.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

using q6_k_panels::kGroups;
using q6_k_panels::kScaleVector;
using q6_k_panels::Layout;

size_t gemm_q6_k_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q6_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    panel::rows_times_tokens<vec_dot_q6_k_x4, vec_dot_q6_k>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y,
                                                            y_stride);
}

void pack_q6_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQKK;
    panel_slices::pack_units<BlockQ6_K>(
        w, w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), Layout::kRunBlocks, out,
        [&](uint8_t* unit, const BlockQ6_K* const* rows, const panel_slices::Unit& u) {
            // The unit laid out as a panel of its blocks.
            for (int64_t b = u.b0; b < u.b1; ++b) {
                uint8_t* block = unit + Layout::q_offset(u.b1 - u.b0, b - u.b0);
                auto* d = reinterpret_cast<uint16_t*>(unit + Layout::d_offset(b - u.b0));
                for (int r = 0; r < panel::kRows; ++r) {
                    const BlockQ6_K& src = rows[r][b];
                    for (int h = 0; h < 2; ++h) {
                        for (int w4 = 0; w4 < 8; ++w4) {
                            const int s = 8 * h + w4;
                            panel::put_lane(block + 64 * (3 * s), r, src.ql + 64 * h + 4 * w4);
                            panel::put_lane(block + 64 * (3 * s + 1), r, src.ql + 64 * h + 32 + 4 * w4);
                            panel::put_lane(block + 64 * (3 * s + 2), r, src.qh + 32 * h + 4 * w4);
                        }
                    }
                    for (int i = 0; i < kGroups / 4; ++i)
                        panel::put_lane(block + 64 * (kScaleVector + i), r, src.scales + 4 * i);
                    std::memcpy(&d[r], &src.d, sizeof(uint16_t));
                }
            }
        });
}

size_t gemm_q6_k_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    q6_k_panels::packed_product<false>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    q6_k_panels::packed_product<true>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx2
