// Q8_0 matrix products for CPUs with AVX-VNNI but no AVX-512 (Intel's client cores since Alder
// Lake; dispatch.h, GemmKernel): the AVX2 level's panels with its four integer steps per 4-byte
// group and token (vpsignb, vpmaddubsw, vpmaddwd, vpaddd, avx2/gemm_q8_0.cpp) replaced by one
// 256-bit vpdpbusd, which multiplies unsigned by signed bytes and adds the four products to an
// int32 lane. Each result is bit-identical to the level's single-row vec_dot_q8_0 (the reference's
// operations):
//   isum = -128 * sum_j x[j] + sum_j (w[j] + 128) x[j]   the panel holds w + 128 (panel_runs.h), so
//                                                         every sum starts at the token's
//                                                         -128 * sum(x) (exact in int32)
//   y   += float(isum) * (d_w * d_x)                      (lane r: row r, no fused multiply-add)
// The tokens are prepared once per product (prepare_q8_0, GemmKernel::prepare): each block's
// quants, its d_x as a float and its sum's start, so that no call sums a token again. Packed
// panels (the AVX2 level's, avx2::pack_q8_0_panels) meet 3 tokens a pass, both halves of the
// panel at once (kTile); one token may have each block fetched ahead (gemm_q8_0_packed_read_ahead,
// avx2::panel::read_ahead, kernels.h's decode_read_ahead). Rows in place (gemm_q8_0: a Q8_0
// KV cache's keys, weights a model could not repack) go row by row, up to 4 tokens a pass.
// Against the AVX2 level on the AMD family 26 host (Zen 5, which has AVX-VNNI beside AVX-512;
// bench/NOTES.md, 2026-12-07 21:30): in cache 1.8-2.4x, pp128 of the 1.5B shape 2.2x, 8
// sequences decoded together 1.6x.
// Compiled with -mavx2 -mfma -mf16c -mavxvnni; includes no header with inline functions (see
// half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx_vnni {

namespace {

namespace panel = avx2::panel;
using panel::half_vector;
using Layout = panel_runs::Q8_0;  // where a packed panel's blocks lie

constexpr int kGroups = kQK / 4;  // 4-byte groups of a block: vectors a block
static_assert(Layout::kQBytes == kGroups * 64 && Layout::kBlockBytes == panel::kRows * sizeof(BlockQ8_0));

// A token's block as prepare_q8_0 leaves it: its quants, d_x as a float, and -128 * sum(qs).
struct TokenBlock {
    int8_t qs[kQK];
    float d;
    int32_t start;
};
static_assert(sizeof(TokenBlock) == 40);

// Tokens per pass over a panel: each group of 4 bytes a row is loaded for both halves of the
// panel (rows 0-7 and 8-15) and met by every token of the pass, so a pass of kTile tokens issues
// 2 * kTile vpdpbusd per 2 + kTile loads (the halves one at a time, as avx2/panel.h takes them,
// issued 2 per 3: pp128 in cache 22% slower). kTile 3 keeps the loop in 15 of the 16 vector
// registers (6 float sums, 6 block sums, 2 weight vectors, a token's bytes); 4 ran as fast in
// prompts and 8 tokens, 10% faster at 4 (bench/NOTES.md).
constexpr int kTile = 3;

// y[t * y_stride + r] for the n_valid rows of the packed panel at `panel` (n_blocks blocks) and
// T tokens (x[t]: token t's prepared blocks), the blocks in order, with kReadAhead each block's
// quants fetched ahead (panel::read_ahead). A function of its own per T, as avx2/panel.h's.
template <int T, bool kReadAhead>
[[gnu::noinline]] void panel_times_tokens(const uint8_t* panel, int64_t n_blocks, const TokenBlock* const* x, float* y,
                                          int64_t y_stride, int n_valid) {
    __m256 acc[2][T];
    for (int t = 0; t < T; ++t) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* q = panel + Layout::q_offset(n_blocks, b);
        if constexpr (kReadAhead) panel::read_ahead(q, Layout::kQBytes);
        __m256i isum[2][T];
        for (int t = 0; t < T; ++t) isum[0][t] = isum[1][t] = _mm256_set1_epi32(x[t][b].start);
#pragma GCC unroll 8
        for (int g = 0; g < kGroups; ++g) {
            // w + 128: vpdpbusd's unsigned operand as it is.
            const __m256i w0 = half_vector(q, g, 0), w1 = half_vector(q, g, 1);
            for (int t = 0; t < T; ++t) {
                const __m256i xg = panel::broadcast4(x[t][b].qs + 4 * g);
                isum[0][t] = _mm256_dpbusd_avx_epi32(isum[0][t], w0, xg);
                isum[1][t] = _mm256_dpbusd_avx_epi32(isum[1][t], w1, xg);
            }
        }
        const auto* d = reinterpret_cast<const uint16_t*>(panel + Layout::d_offset(b));
        for (int h = 0; h < 2; ++h) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + 8 * h)));
            for (int t = 0; t < T; ++t) {
                const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(x[t][b].d));
                acc[h][t] = _mm256_add_ps(acc[h][t], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[h][t]), scale));
            }
        }
    }
    for (int t = 0; t < T; ++t) panel::store_rows(acc[0][t], acc[1][t], y + t * y_stride, n_valid);
}

template <bool kReadAhead>
void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, int64_t n_tokens, int64_t n_cols,
                    float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQK;
    const auto* xs = static_cast<const TokenBlock*>(x);
    for (int64_t r0 = 0; r0 < n_rows; r0 += panel::kRows) {
        // Panel p lies where row 16p lies (dispatch.h, GemmKernel::pack).
        const uint8_t* panel = static_cast<const uint8_t*>(w) + r0 * w_row_bytes;
        const int n_valid = static_cast<int>(n_rows - r0 < panel::kRows ? n_rows - r0 : panel::kRows);
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTile) {
            const TokenBlock* xt[kTile];
            for (int k = 0; k < kTile; ++k) xt[k] = xs + (t0 + k < n_tokens ? t0 + k : t0) * n_blocks;
            float* yt = y + t0 * y_stride + r0;
            switch (n_tokens - t0) {
                case 1:
                    panel_times_tokens<1, kReadAhead>(panel, n_blocks, xt, yt, y_stride, n_valid);
                    break;
                case 2:
                    panel_times_tokens<2, false>(panel, n_blocks, xt, yt, y_stride, n_valid);
                    break;
                default:
                    panel_times_tokens<kTile, false>(panel, n_blocks, xt, yt, y_stride, n_valid);
                    break;
            }
        }
    }
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// y[t * y_stride] for T tokens (x: token 0's blocks, the others x_stride blocks apart) and one
// row in place, the blocks in order as the reference adds them.
template <int T>
void row_times_tokens(const BlockQ8_0* row, const TokenBlock* x, int64_t x_stride, int64_t n_blocks, float* y,
                      int64_t y_stride) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    float sum[T] = {};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256i wq = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[b].qs)), flip);
        const float dw = _cvtsh_ss(row[b].d);
        for (int t = 0; t < T; ++t) {
            const TokenBlock& xb = x[t * x_stride + b];
            const __m256i s = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), wq,
                                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs)));
            sum[t] += static_cast<float>(hsum_i32(s) + xb.start) * (dw * xb.d);
        }
    }
    for (int t = 0; t < T; ++t) y[t * y_stride] = sum[t];
}

}  // namespace

size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols) {
    return static_cast<size_t>(n_tokens) * static_cast<size_t>(n_cols / kQK) * sizeof(TokenBlock);
}

void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t /*n_tokens*/, int64_t n_cols, int64_t first, int64_t end,
                  void* out) {
    const int64_t n_blocks = n_cols / kQK;
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t t = first; t < end; ++t) {
        const auto* src = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(x) + t * x_row_bytes);
        TokenBlock* dst = static_cast<TokenBlock*>(out) + t * n_blocks;
        for (int64_t b = 0; b < n_blocks; ++b) {
            const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[b].qs));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[b].qs), qs);
            dst[b].d = _cvtsh_ss(src[b].d);
            // sum(x + 128) by vpsadbw over the bytes XOR 0x80, in four 64-bit parts.
            const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(qs, flip), _mm256_setzero_si256());
            const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
            const int32_t biased = _mm_cvtsi128_si32(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s)));
            dst[b].start = -128 * (biased - 128 * kQK);
        }
    }
}

size_t gemm_q8_0_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    const int64_t n_blocks = n_cols / kQK;
    const auto* xs = static_cast<const TokenBlock*>(x);
    for (int64_t r = 0; r < n_rows; ++r) {
        const auto* row = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
        int64_t t = 0;
        for (; t + 4 <= n_tokens; t += 4)
            row_times_tokens<4>(row, xs + t * n_blocks, n_blocks, n_blocks, y + t * y_stride + r, y_stride);
        for (; t < n_tokens; ++t)
            row_times_tokens<1>(row, xs + t * n_blocks, n_blocks, n_blocks, y + t * y_stride + r, y_stride);
    }
}

size_t gemm_q8_0_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    packed_product<false>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                 size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                 void* /*scratch*/) {
    packed_product<true>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx_vnni
