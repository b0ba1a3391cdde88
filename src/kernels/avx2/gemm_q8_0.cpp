// AVX2 matrix product for Q8_0 weights and Q8_0 activations (dispatch.h, GemmKernel), each result
// bit-identical to the level's single-row vec_dot_q8_0, which keeps the scalar reference's
// operations.
//
// Rows in place (gemm_q8_0): row by row through vec_dot_q8_0_x4 / vec_dot_q8_0, four tokens a pass.
//
// Packed weights (gemm_q8_0_packed): a model repacks its Q8_0 matrices once, at load
// (pack_q8_0_panels), into the AVX-512 kernels' panels of 16 rows (panel_runs.h): block b's quants
// in 8 vectors of 64 bytes, vector g's int32 lane r = bytes 4g .. 4g + 3 of row r's block plus 128,
// its 16 row scales (binary16) at the start of its run. A 256-bit register takes half of each vector
// (panel.h). Per half block and token, as the reference computes it:
//   isum = sum_j w[j] x[j]      the weights back to signed (XOR 0x80), then per 4-byte group one
//                               vpmaddubsw of |w| against the token's 4 bytes with w's signs (at
//                               most 2 * 128 * 127 = 32512: exact) and one vpmaddwd by 1
//   y   += float(isum) * (d_w * d_x)                          (lane r: row r, no fused multiply-add)
// Batches meet a panel 2 tokens a pass (panel.h); one token may have each block fetched ahead
// (gemm_q8_0_packed_read_ahead, panel::read_ahead, kernels.h's decode_read_ahead).
// Compiled with -mavx2 -mfma -mf16c; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

using panel::half_vector;
using Layout = panel_runs::Q8_0;  // where a packed panel's blocks lie

constexpr int kGroups = kQK / 4;  // 4-byte groups of a block: vectors a block
static_assert(Layout::kQBytes == kGroups * 64 && Layout::kBlockBytes == panel::kRows * sizeof(BlockQ8_0));

// acc[t] += half h of packed block `q` (its rows' d: d, 8 binary16) times token t's block xb[t].
template <int T>
[[gnu::always_inline]] inline void accumulate_half(const uint8_t* q, const uint16_t* d, int h,
                                                   const BlockQ8_0* const* xb, __m256* acc) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
    __m256i isum[T];
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g) {
        const __m256i w = _mm256_xor_si256(half_vector(q, g, h), flip);
        const __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 2
        for (int t = 0; t < T; ++t) {
            const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(panel::broadcast4(xb[t]->qs + 4 * g), w));
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, ones));
        }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) {
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(xb[t]->d)));
        acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[t]), scale));
    }
}

template <bool kReadAhead>
void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                    int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQK;
    panel::over_panels<kReadAhead, BlockQ8_0>(
        w, w_row_bytes, n_rows, n_blocks, 1, 1, [](int64_t n, int64_t b) { return Layout::q_offset(n, b); },
        Layout::kQBytes, x, x_row_bytes, n_tokens, y, y_stride,
        [](auto T, const uint8_t* q, const uint8_t* panel, int64_t b, int h, const BlockQ8_0* const* xb, __m256* acc)
            __attribute__((always_inline)) {
                // The block's d at the start of its run.
                const auto* d = reinterpret_cast<const uint16_t*>(panel + Layout::d_offset(b));
                accumulate_half<T>(q, d + 8 * h, h, xb, acc);
            });
}

}  // namespace

size_t gemm_q8_0_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    panel::rows_times_tokens<vec_dot_q8_0_x4, vec_dot_q8_0>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y,
                                                            y_stride);
}

void pack_q8_0_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQK;
    for (int64_t r0 = 0; r0 < n_rows; r0 += panel::kRows) {
        const BlockQ8_0* rows[panel::kRows];
        panel_rows::rows_of(w, w_row_bytes, r0, n_rows, rows);
        uint8_t* start = static_cast<uint8_t*>(out) + r0 * w_row_bytes;
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* q = start + Layout::q_offset(n_blocks, b);
            auto* d = reinterpret_cast<uint16_t*>(start + Layout::d_offset(b));
            for (int r = 0; r < panel::kRows; ++r) {
                const BlockQ8_0& src = rows[r][b];
                for (int g = 0; g < kGroups; ++g) {
                    uint8_t word[4];
                    for (int j = 0; j < 4; ++j) word[j] = static_cast<uint8_t>(src.qs[4 * g + j]) ^ 0x80;
                    panel::put_lane(q + 64 * g, r, word);
                }
                std::memcpy(&d[r], &src.d, sizeof(uint16_t));
            }
        }
    }
}

size_t gemm_q8_0_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    packed_product<false>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    packed_product<true>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx2
