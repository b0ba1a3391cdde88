// What the AVX2 panel matrix kernels share (gemm_q8_0.cpp, gemm_q4_k.cpp, gemm_q6_k.cpp). They
// read the packed layouts of the AVX-512 kernels (Q8_0's and Q6_K's: panel_runs.h): per block of 16 rows,
// vectors of 64 bytes whose int32 lane r holds 4 bytes of row r; a 256-bit register takes half of
// each vector (rows 0-7 or 8-15), one lane per row, so no block is summed across lanes. Included
// only by sources compiled with the AVX2 flags (src/kernels/CMakeLists.txt): every function here is
// static, so no copy of it leaves its translation unit (see half.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/panel_rows.h"
#include "kernels/panel_slices.h"

namespace sinan::kernels::avx2::panel {

// Tokens per pass over a panel: 16 registers hold the sums of 2 (with 4 GCC kept them on the
// stack, and a prompt of 128 tokens took 1.7x as long as with 2; with 3, 1.0-1.1x; bench/NOTES.md).
constexpr int kPackedTile = 2;

using panel_rows::kReadAheadBytes;
using panel_rows::kRows;
using panel_rows::rows_times_tokens;

// Row r's 4 bytes at src into lane r of the 64-byte vector at dst.
static inline void put_lane(uint8_t* dst, int r, const void* src) { std::memcpy(dst + 4 * r, src, 4); }

// Half h (rows 8h .. 8h + 7) of the 64-byte vector v of a packed block.
static inline __m256i half_vector(const uint8_t* block, int v, int h) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64 * v + 32 * h));
}

// A vpshufb mask putting bytes j0 and j1 of each 32-bit lane into bytes b0 and b0 + 2 of it (b0: 0
// or 1), the other two bytes zero: b0 0 gives the bytes as two unsigned int16, b0 1 the bytes
// times 256 (shifted right arithmetically by 8: signed int16).
static inline __m256i spread(int j0, int j1, int b0) {
    auto lane = [&](int p) {
        const unsigned lo = static_cast<unsigned>(4 * p + j0), hi = static_cast<unsigned>(4 * p + j1);
        return static_cast<int>(b0 == 0 ? lo | 0x8000u | hi << 16 | 0x80000000u
                                        : 0x80u | lo << 8 | 0x800000u | hi << 24);
    };
    return _mm256_setr_epi32(lane(0), lane(1), lane(2), lane(3), lane(0), lane(1), lane(2), lane(3));
}

// The 4 bytes at p in every 32-bit lane.
static inline __m256i broadcast4(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// The integer steps of the K-quant panel kernels (q4_k_panels.h, q6_k_panels.h), by the flags of
// the source that includes this: built with -mavxvnni (the avx-vnni level), a 4-byte group's
// products of unsigned weight bytes v and the token's signed bytes x go through one vpdpbusd into
// int32 sums, and a scale multiplies them as int32 (vpmulld); on AVX2, vpmaddubsw's pair sums are
// added as int16 (callers keep them exact) and vpmaddwd multiplies them by the scale in both int16
// halves of each lane. kInt32Sums says which.
#if defined(__AVXVNNI__)
constexpr bool kInt32Sums = true;
static inline __m256i add_products(__m256i sums, __m256i v, __m256i x) { return _mm256_dpbusd_avx_epi32(sums, v, x); }
static inline __m256i scaled(__m256i sums, __m256i scale) { return _mm256_mullo_epi32(sums, scale); }
#else
constexpr bool kInt32Sums = false;
static inline __m256i add_products(__m256i sums, __m256i v, __m256i x) {
    return _mm256_add_epi16(sums, _mm256_maddubs_epi16(v, x));
}
static inline __m256i scaled(__m256i sums, __m256i scale) { return _mm256_madd_epi16(sums, scale); }
#endif

// Byte j of each 32-bit lane of `bytes` as the scale `scaled` takes (kSigned: a signed byte),
// extended: to the whole lane for int32 sums, into both int16 halves for int16 ones.
template <bool kSigned>
static inline __m256i lane_scale(__m256i bytes, int j) {
    if constexpr (kInt32Sums) {
        auto lane = [&](int p) { return static_cast<int>(0x00808080u | static_cast<unsigned>(4 * p + j) << 24); };
        const __m256i top = _mm256_shuffle_epi8(
            bytes, _mm256_setr_epi32(lane(0), lane(1), lane(2), lane(3), lane(0), lane(1), lane(2), lane(3)));
        return kSigned ? _mm256_srai_epi32(top, 24) : _mm256_srli_epi32(top, 24);
    } else {
        const __m256i high = _mm256_shuffle_epi8(bytes, spread(j, j, 1));
        return kSigned ? _mm256_srai_epi16(high, 8) : _mm256_srli_epi16(high, 8);
    }
}

// Rows [0, n_valid) of the results of 16 rows (lo: rows 0-7, hi: 8-15) into y.
static inline void store_rows(__m256 lo, __m256 hi, float* y, int n_valid) {
    alignas(32) float out[kRows];
    _mm256_store_ps(out, lo);
    _mm256_store_ps(out + 8, hi);
    std::memcpy(y, out, static_cast<size_t>(n_valid) * sizeof(float));
}

// Rows [0, n_valid) of 16 rows' sums from y (lo: rows 0-7, hi: 8-15), the others 0.
static inline void load_rows(const float* y, int n_valid, __m256* lo, __m256* hi) {
    alignas(32) float in[kRows] = {};
    std::memcpy(in, y, static_cast<size_t>(n_valid) * sizeof(float));
    *lo = _mm256_load_ps(in);
    *hi = _mm256_load_ps(in + 8);
}

// Every line of the `bytes` at p fetched kReadAheadBytes ahead into L1 and kFarAheadBytes ahead
// into L2. On the Intel host (family 6, model 207; `SINAN_CPU=avx-vnni`, 2 threads) generation of
// the 1.5B Q4_K_M went 69-73% of the read limit -> 82-86% with the second prefetch (32 KiB about
// the same), Q4_K 69-72% -> 83-86%, Q8_0 unchanged at 97-102% (bench/NOTES.md, 2026-12-08).
constexpr int64_t kFarAheadBytes = 16384;
static inline void read_ahead(const uint8_t* p, size_t bytes) {
    for (size_t line = 0; line < bytes; line += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(p) + kReadAheadBytes + line, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(p) + kFarAheadBytes + line, _MM_HINT_T1);
    }
}

// y[t * y_stride + r] for the n_valid rows of a unit of a packed panel (its blocks [b0, b1), laid
// out as a panel of b1 - b0 blocks: block b at byte offset block_at(b1 - b0, b - b0) from `unit`;
// panel_slices.h) and T tokens (x[t]: token t's blocks), the blocks in order, from 0, or from the
// sums in y where b0 > 0 (the panel's earlier slices left them there), with kReadAhead each one's
// block_bytes fetched ahead: half(T, block, unit, b - b0, h, xb, acc) adds half h (rows 8h .. 8h +
// 7) of block b (at `block`) times the tokens' blocks xb[t] to acc[t]. A function of its own per
// tile size, with `half` inlined into it (the kernels mark theirs always_inline): left to GCC's
// choices, the 2-token loops ran up to 5x as long (bench/NOTES.md).
template <int T, bool kReadAhead, typename XBlock, typename BlockAt, typename Half>
[[gnu::noinline]] static void blocks_times_tokens(const uint8_t* unit, int64_t b0, int64_t b1, BlockAt block_at,
                                                  size_t block_bytes, const XBlock* const* x, float* y,
                                                  int64_t y_stride, int n_valid, Half half) {
    const std::integral_constant<int, T> tokens;
    __m256 acc[2][T];
    for (int t = 0; t < T; ++t) {
        if (b0 == 0)
            acc[0][t] = acc[1][t] = _mm256_setzero_ps();
        else
            load_rows(y + t * y_stride, n_valid, &acc[0][t], &acc[1][t]);
    }
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* block = unit + block_at(b1 - b0, b - b0);
        if constexpr (kReadAhead) read_ahead(block, block_bytes);
        const XBlock* xb[T];
        for (int t = 0; t < T; ++t) xb[t] = x[t] + b;
        half(tokens, block, unit, b - b0, 0, xb, acc[0]);
        // The second half's broadcasts of the tokens' bytes made again, not kept from the first:
        // kept, they took 64 registers' worth of stack per token (GCC reloaded them).
        for (int t = 0; t < T; ++t) asm("" : "+r"(xb[t]));
        half(tokens, block, unit, b - b0, 1, xb, acc[1]);
    }
    for (int t = 0; t < T; ++t) store_rows(acc[0][t], acc[1][t], y + t * y_stride, n_valid);
}

// A product over packed panels (w: n_rows rows of w_row_bytes as panels, n_blocks blocks a panel, in
// n_slices slices a row starting at multiples of step blocks: panel_slices.h, 1 slice for a layout
// of whole panels; blocks as blocks_times_tokens takes them), kPackedTile tokens a pass,
// blocks_times_tokens on each unit and tile with `half`; one token with kReadAhead, more without.
template <bool kReadAhead, typename XBlock, typename BlockAt, typename Half>
static void over_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_blocks, int64_t n_slices,
                        int64_t step, BlockAt block_at, size_t block_bytes, const void* x, size_t x_row_bytes,
                        int64_t n_tokens, float* y, int64_t y_stride, Half half) {
    static_assert(kPackedTile == 2);
    const auto* xs = static_cast<const uint8_t*>(x);
    panel_slices::for_each_unit(w_row_bytes, n_rows, n_blocks, n_slices, step, [&](const panel_slices::Unit& u) {
        const uint8_t* unit = static_cast<const uint8_t*>(w) + u.offset;
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kPackedTile) {
            const XBlock* xt[kPackedTile] = {};
            for (int k = 0; k < kPackedTile && t0 + k < n_tokens; ++k)
                xt[k] = reinterpret_cast<const XBlock*>(xs + (t0 + k) * x_row_bytes);
            float* yt = y + t0 * y_stride + u.r0;
            if (n_tokens - t0 == 1)
                blocks_times_tokens<1, kReadAhead>(unit, u.b0, u.b1, block_at, block_bytes, xt, yt, y_stride, u.n_valid,
                                                   half);
            else
                blocks_times_tokens<2, false>(unit, u.b0, u.b1, block_at, block_bytes, xt, yt, y_stride, u.n_valid,
                                              half);
        }
    });
}

}  // namespace sinan::kernels::avx2::panel
