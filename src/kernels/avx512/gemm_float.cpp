// AVX-512 matrix products over float weights (dispatch.h, GemmKernel): F16 (binary16) and F32.
// Each result is bit-identical to the level's single-row dot product (vec_dot_f16 in vec_dot.cpp;
// dot_f32, dot_f32.h's order), whatever the batch: per row and token the same four FMA chains in
// the same order, the weights loaded (and converted, for F16) once for every token of a tile.
//
// Rows in chunks of 16 that stay in L2 while every tile of up to 3 tokens meets them, two rows at
// a time (the activations stream once per chunk). F16 activations are binary16 rows (the
// reference rounds them so), converted to floats once per product (prepare_f16, as
// GemmKernel::prepare: not again in each call a product's rows are split into); F32 activations
// are read as they are.
// One token (decoding) reads rows in place one at a time in order with no software prefetch, 512
// values a loop pass; an F16 product's one token stays binary16, converted as it is read: half the
// bytes beside the weights' stream (the FFN down matrix's 8,960 values as floats, 35 KB, outgrow a
// 32 KB L1 data cache): on the AMD family 25 host that matrix took 0.75-0.90 ms a call instead of
// 1.14-1.26, and the 1.5B model's F16 decoding made 4-36% more tokens/s (bench/NOTES.md,
// 2026-12-06 09:40).
// Packed F16 (pack_f16, what models load): rows in groups of 4 with their 64-value chunks
// interleaved (RowLayout), and one token meets a group's 4 rows at once, one stream in order. Row
// by row, a long row's 17.5 KB of weights pushed the token's 17.5 KB out of L1 before the next row
// came back to it, so every row read the token again from L2; a group reads it once for 4 rows.
// The 8,960-value rows went from 31-33 to 42-53 GB/s in fast memory spells, 25-28 to 32-33 in slow
// ones (bench_row_lengths --type f16, alternated with the rows in place), and F16 decoding of the
// 1.5B from 73-80% to 87-93% of the read limit where memory was fast (bench/NOTES.md, 2026-12-06
// 20:20). Four rows in place at once, four streams, reached only 41-43 GB/s; eight interleaved, 32
// accumulators past the registers, less. gemm_f16_packed_read_ahead also fetches that stream
// ahead (kF16ReadAhead into L1, kF16StreamAhead into L2), for the processors whose hardware
// prefetcher leaves it waiting (kernels.h, decode_read_ahead: Intel's).
// Without this kernel an F32 matrix ran one dot product per row and token, each matrix of a
// layer's q/k/v or gate/up as a separate call (bench/NOTES.md, 2026-12-06).
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/avx512/unrolled.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

// A tile: 2 rows x 3 tokens, 24 accumulators (4 chains each) + 2 weight and 1 token vectors in
// registers: 5 loads per 6 multiply-adds, where one row against 4 tokens took 5 per 4. Prompts of
// 128 tokens, bench_kernels' 1536x8960 on one thread: F32 1.5x, F16 1.27x; the 1.5B model's pp128
// +4% and +7% (its FFN down matrix, 8960 values a row, unmoved: presumably because a tile's 5 rows
// outgrow L1 there, not measured; bench/NOTES.md, 2026-12-06).
constexpr int kRowTile = 2;
constexpr int kTokenTile = 3;
constexpr int64_t kChunkRows = 16;  // 16 rows of up to ~16k values (F16; 8k F32): within L2

// 16 values (weights, or one token's binary16 activations) from p as floats; under a mask, the
// lanes it sets (the rest zero).
inline __m512 load_floats(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_floats(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_floats(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
inline __m512 load_floats(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

// acc += w * x (one rounding, as _mm512_fmadd_ps) with w and x in registers: GCC otherwise folds
// the load of one of them into every multiply-add that uses it, a load per multiply-add.
inline __m512 fma_in_registers(__m512 acc, __m512 w, __m512 x) {
    asm("vfmadd231ps %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));
    return acc;
}

// Where a matrix's rows lie: row r's 64-value chunk c at start(r) + c * kChunk, its last n % 64
// values at tail(r). In place (kGroup 1): rows `stride` values apart, each in order. Packed
// (kGroup 4, pack_f16): rows in groups of 4 (4 * n values, n = stride), the group's 64-value chunks
// interleaved (chunk c of its row k at (4c + k) * 64), then its rows' last n % 64 values one row
// after another: 4 rows met together are one stream.
template <typename W, int kGroup>
struct RowLayout {
    static constexpr int64_t kChunk = 64 * kGroup;
    const W* w;
    int64_t stride, n;
    const W* group(int64_t r) const { return w + (r - r % kGroup) * stride; }
    const W* start(int64_t r) const { return group(r) + (r % kGroup) * 64; }
    const W* tail(int64_t r) const { return group(r) + kGroup * (n - n % 64) + (r % kGroup) * (n % 64); }
};
constexpr int kPackedGroup = 4;

// How far ahead one token's packed F16 rows are fetched where decoding reads ahead (kernels.h,
// decode_read_ahead): into L1 kF16ReadAhead bytes ahead, into L2 kF16StreamAhead. On the Intel
// host (family 6, model 207, 2 threads), generation of the 1.5B F16 model reached 61-63% of the
// read limit with neither; with L1 alone 84-86% at 4 KiB (2 KiB 80-82%, 8 KiB 79-80%, 16 KiB
// 77-82%); with both 90-105% (4 KiB and 8, 16 or 24 KiB; 2 KiB or 1 KiB into L1 89-96%)
// (bench/NOTES.md, 2026-12-08).
constexpr int64_t kF16ReadAhead = 4096;
constexpr int64_t kF16StreamAhead = 16384;

// R weight rows (their starts and tails, RowLayout) against T tokens of X (uint16_t: binary16, or
// float): per row and token the accumulators and operation order of the single-row dot product,
// each weight vector loaded once for all T tokens and each token's vector once for all R rows. The
// rows are read in order with no software prefetch: one token's steps of the F16 model ran ~30%
// faster without the 4 KiB-ahead prefetch of every line, alternated in one process
// (bench/NOTES.md, 2026-12-03).
// kReadAhead (packed rows, one token: gemm_f16_packed_read_ahead): each step's lines of the group's
// one stream also fetched kF16ReadAhead bytes ahead into L1 and kF16StreamAhead into L2.
template <typename W, int R, int T, int64_t kChunk, bool kReadAhead, typename X>
void rows_times_tile(const W* const* w, const W* const* tail, const X* const* x, int64_t n, float* y,
                     int64_t y_stride) {
    static_assert(!kReadAhead || kChunk == 64 * R, "the read-ahead follows one stream: a packed group's rows");
    __m512 acc[R][T][4];
    unrolled<R>([&](auto r) {
        unrolled<T>([&](auto t) { unrolled<4>([&](auto k) { acc[r][t][k] = _mm512_setzero_ps(); }); });
    });
    // Values j .. j + 63 (j a multiple of 64), the rows' chunk j / 64.
    auto step64 = [&](int64_t j) __attribute__((always_inline)) {
        constexpr int64_t kPerValue = kChunk / 64;  // values from a row's start to chunk j / 64, per j
        if constexpr (kReadAhead) {
            const char* at = reinterpret_cast<const char*>(w[0] + j * kPerValue);
            constexpr int kLines = static_cast<int>(kChunk * sizeof(W) / 64);
#pragma GCC unroll 16
            for (int l = 0; l < kLines; ++l) {
                _mm_prefetch(at + kF16ReadAhead + 64 * l, _MM_HINT_T0);
                _mm_prefetch(at + kF16StreamAhead + 64 * l, _MM_HINT_T1);
            }
        }
        unrolled<4>([&](auto k) {
            __m512 wv[R];
            unrolled<R>([&](auto r) { wv[r] = load_floats(w[r] + j * kPerValue + 16 * k); });
            unrolled<T>([&](auto t) {
                const __m512 xv = load_floats(x[t] + j + 16 * k);
                unrolled<R>([&](auto r) { acc[r][t][k] = fma_in_registers(acc[r][t][k], wv[r], xv); });
            });
        });
    };
    // One row and token: 512 values a loop pass (the same operations in the same order): ~17% less
    // time a decoding step of the F16 model than 64 a pass, alternated in one process
    // (bench/NOTES.md, 2026-12-03).
    constexpr int kUnroll = R * T == 1 ? 8 : 1;
    int64_t i = 0;
    for (; i + 64 * kUnroll <= n; i += 64 * kUnroll) unrolled<kUnroll>([&](auto u) { step64(i + 64 * u); });
    for (; i + 64 <= n; i += 64) step64(i);
    const int64_t full = i;
    for (; i + 16 <= n; i += 16) {
        unrolled<R>([&](auto r) {
            const __m512 wv = load_floats(tail[r] + (i - full));
            unrolled<T>([&](auto t) { acc[r][t][0] = _mm512_fmadd_ps(wv, load_floats(x[t] + i), acc[r][t][0]); });
        });
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        unrolled<R>([&](auto r) {
            const __m512 wv = load_floats(tail[r] + (i - full), m);
            unrolled<T>([&](auto t) { acc[r][t][1] = _mm512_fmadd_ps(wv, load_floats(x[t] + i, m), acc[r][t][1]); });
        });
    }
    unrolled<R>([&](auto r) {
        unrolled<T>([&](auto t) {
            y[t * y_stride + r] = _mm512_reduce_add_ps(
                _mm512_add_ps(_mm512_add_ps(acc[r][t][0], acc[r][t][1]), _mm512_add_ps(acc[r][t][2], acc[r][t][3])));
        });
    });
}

// rows_times_tile over rows [r, r + R) of `rows`.
template <int R, int T, typename W, int kGroup, typename X, bool kReadAhead = false>
void tile_at(const RowLayout<W, kGroup>& rows, int64_t r, const X* const* x, float* y, int64_t y_stride) {
    const W *w[R], *tail[R];
    for (int k = 0; k < R; ++k) w[k] = rows.start(r + k), tail[k] = rows.tail(r + k);
    rows_times_tile<W, R, T, RowLayout<W, kGroup>::kChunk, kReadAhead>(w, tail, x, rows.n, y, y_stride);
}

// The product of n_rows rows (RowLayout) with n_tokens float rows (x_row_floats apart).
template <typename W, int kGroup>
void rows_times_tokens(const RowLayout<W, kGroup>& rows, int64_t n_rows, const float* x, int64_t x_row_floats,
                       int64_t n_tokens, float* y, int64_t y_stride) {
    using TileFn = void (*)(const RowLayout<W, kGroup>&, int64_t, const float* const*, float*, int64_t);
    // [whether kRowTile rows][tokens]. One token takes one row at a time here: decoding rows in
    // place with 2 to 8 rows at once ran up to 27% slower (docs/model.md).
    constexpr TileFn kTileFns[2][kTokenTile + 1] = {
        {nullptr, tile_at<1, 1>, tile_at<1, 2>, tile_at<1, 3>},
        {nullptr, nullptr, tile_at<kRowTile, 2>, tile_at<kRowTile, 3>},
    };
    const float* xt[kTokenTile];
    for (int64_t r0 = 0; r0 < n_rows; r0 += kChunkRows) {
        const int64_t r1 = r0 + kChunkRows < n_rows ? r0 + kChunkRows : n_rows;
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
            const int n_t = static_cast<int>(n_tokens - t0 < kTokenTile ? n_tokens - t0 : kTokenTile);
            for (int k = 0; k < n_t; ++k) xt[k] = x + (t0 + k) * x_row_floats;
            for (int64_t r = r0; r < r1;) {
                const int n_r = n_t > 1 && r1 - r >= kRowTile ? kRowTile : 1;
                kTileFns[n_r == kRowTile][n_t](rows, r, xt, y + t0 * y_stride + r, y_stride);
                r += n_r;
            }
        }
    }
}

// One binary16 token against n_rows rows: in place one row at a time (above), packed a group of 4
// rows at a time (with kReadAhead, their stream fetched ahead).
template <int kGroup, bool kReadAhead = false>
void rows_times_f16_token(const RowLayout<uint16_t, kGroup>& rows, int64_t n_rows, const uint16_t* x, float* y) {
    int64_t r = 0;
    if constexpr (kGroup > 1)
        for (; r + kGroup <= n_rows; r += kGroup)
            tile_at<kGroup, 1, uint16_t, kGroup, uint16_t, kReadAhead>(rows, r, &x, y + r, 1);
    for (; r < n_rows; ++r) tile_at<1, 1>(rows, r, &x, y + r, 1);
}

// gemm_f16 on rows laid out as `rows` says.
template <int kGroup, bool kReadAhead = false>
void f16_product(const RowLayout<uint16_t, kGroup>& rows, int64_t n_rows, const void* x, int64_t n_tokens, float* y,
                 int64_t y_stride) {
    if (n_tokens == 1)
        rows_times_f16_token<kGroup, kReadAhead>(rows, n_rows, static_cast<const uint16_t*>(x), y);
    else
        rows_times_tokens(rows, n_rows, static_cast<const float*>(x), rows.n, n_tokens, y, y_stride);
}

}  // namespace

void prepare_f16(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                 void* out) {
    if (n_tokens == 1) {  // one token: its binary16 row as it is (gemm_f16 converts it as it reads)
        if (first < end) std::memcpy(out, x, static_cast<size_t>(n_cols) * sizeof(uint16_t));
        return;
    }
    for (int64_t t = first; t < end; ++t)
        dequantize_f16(static_cast<const uint8_t*>(x) + t * x_row_bytes, static_cast<float*>(out) + t * n_cols, n_cols);
}

size_t prepared_f16_bytes(int64_t n_tokens, int64_t n_cols) {
    return static_cast<size_t>(n_tokens * n_cols) * (n_tokens == 1 ? sizeof(uint16_t) : sizeof(float));
}

void gemm_f16(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
              int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    const RowLayout<uint16_t, 1> rows{static_cast<const uint16_t*>(w), static_cast<int64_t>(w_row_bytes / 2), n_cols};
    f16_product(rows, n_rows, x, n_tokens, y, y_stride);
}

void pack_f16(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    auto* base = static_cast<uint16_t*>(out);
    const RowLayout<uint16_t, kPackedGroup> to{base, n_cols, n_cols};
    const int64_t full = n_cols - n_cols % 64;
    for (int64_t r = 0; r < (n_rows + kPackedGroup - 1) / kPackedGroup * kPackedGroup; ++r) {
        // A last group's rows past n_rows are zeros (the kernels compute no result from them).
        const auto* from =
            r < n_rows ? reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) + r * w_row_bytes) : nullptr;
        // count values of the row from `at` to where `to` places them (dst).
        auto copy = [&](const uint16_t* dst, int64_t at, int64_t count) {
            uint16_t* d = base + (dst - to.w);
            const size_t bytes = static_cast<size_t>(count) * sizeof(uint16_t);
            if (from != nullptr)
                std::memcpy(d, from + at, bytes);
            else
                std::memset(d, 0, bytes);
        };
        for (int64_t c = 0; c < full; c += 64) copy(to.start(r) + c * kPackedGroup, c, 64);
        copy(to.tail(r), full, n_cols - full);
    }
}

void gemm_f16_packed(const void* w, size_t /*w_row_bytes*/, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
                     int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    const RowLayout<uint16_t, kPackedGroup> rows{static_cast<const uint16_t*>(w), n_cols, n_cols};
    f16_product(rows, n_rows, x, n_tokens, y, y_stride);
}

void gemm_f16_packed_read_ahead(const void* w, size_t /*w_row_bytes*/, int64_t n_rows, const void* x,
                                size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                void* /*scratch*/) {
    const RowLayout<uint16_t, kPackedGroup> rows{static_cast<const uint16_t*>(w), n_cols, n_cols};
    f16_product<kPackedGroup, true>(rows, n_rows, x, n_tokens, y, y_stride);
}

size_t gemm_float_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_f32(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
              int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    const RowLayout<float, 1> rows{static_cast<const float*>(w), static_cast<int64_t>(w_row_bytes / sizeof(float)),
                                   n_cols};
    rows_times_tokens(rows, n_rows, static_cast<const float*>(x), static_cast<int64_t>(x_row_bytes / sizeof(float)),
                      n_tokens, y, y_stride);
}

}  // namespace sinan::kernels::avx512
