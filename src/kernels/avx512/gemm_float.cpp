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
// One token (decoding) reads each row in order with no software prefetch, 512 values a loop pass;
// an F16 product's one token stays binary16, converted as it is read: half the bytes beside the
// weights' stream (the FFN down matrix's 8,960 values as floats, 35 KB, outgrow a 32 KB L1 data
// cache): on the AMD family 25 host that matrix took 0.75-0.90 ms a call instead of 1.14-1.26,
// and the 1.5B model's F16 decoding made 4-36% more tokens/s (bench/NOTES.md, 2026-12-06 09:40).
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

// R weight rows of W (uint16_t: binary16, float) against T tokens of X (the same): per row and
// token the accumulators and operation order of the single-row dot product, each weight vector
// loaded once for all T tokens and each token's vector once for all R rows. The rows are read in
// order with no software prefetch: one token's steps of the F16 model ran ~30% faster without the
// 4 KiB-ahead prefetch of every line, alternated in one process (bench/NOTES.md, 2026-12-03).
template <typename W, int R, int T, typename X>
void rows_times_tile(const W* const* w, const X* const* x, int64_t n, float* y, int64_t y_stride) {
    __m512 acc[R][T][4];
    unrolled<R>([&](auto r) {
        unrolled<T>([&](auto t) { unrolled<4>([&](auto k) { acc[r][t][k] = _mm512_setzero_ps(); }); });
    });
    auto step64 = [&](int64_t j) {
        unrolled<4>([&](auto k) {
            __m512 wv[R];
            unrolled<R>([&](auto r) { wv[r] = load_floats(w[r] + j + 16 * k); });
            unrolled<T>([&](auto t) {
                const __m512 xv = load_floats(x[t] + j + 16 * k);
                unrolled<R>([&](auto r) { acc[r][t][k] = fma_in_registers(acc[r][t][k], wv[r], xv); });
            });
        });
    };
    // One token: 512 values a loop pass (the same operations in the same order): ~17% less time
    // a decoding step of the F16 model than 64 a pass, alternated in one process (bench/NOTES.md,
    // 2026-12-03).
    constexpr int kUnroll = R * T == 1 ? 8 : 1;
    int64_t i = 0;
    for (; i + 64 * kUnroll <= n; i += 64 * kUnroll) unrolled<kUnroll>([&](auto u) { step64(i + 64 * u); });
    for (; i + 64 <= n; i += 64) step64(i);
    for (; i + 16 <= n; i += 16) {
        unrolled<R>([&](auto r) {
            const __m512 wv = load_floats(w[r] + i);
            unrolled<T>([&](auto t) { acc[r][t][0] = _mm512_fmadd_ps(wv, load_floats(x[t] + i), acc[r][t][0]); });
        });
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        unrolled<R>([&](auto r) {
            const __m512 wv = load_floats(w[r] + i, m);
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

// The product of n_rows rows of W (w_row_bytes apart) with n_tokens float rows (x_row_floats
// apart).
template <typename W>
void rows_times_tokens(const void* w, size_t w_row_bytes, int64_t n_rows, const float* x, int64_t x_row_floats,
                       int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    using TileFn = void (*)(const W* const*, const float* const*, int64_t, float*, int64_t);
    // [whether kRowTile rows][tokens]. One token takes one row at a time: decoding with 2 to 8
    // rows at once ran up to 27% slower (docs/model.md).
    constexpr TileFn kTileFns[2][kTokenTile + 1] = {
        {nullptr, rows_times_tile<W, 1, 1, float>, rows_times_tile<W, 1, 2, float>, rows_times_tile<W, 1, 3, float>},
        {nullptr, nullptr, rows_times_tile<W, kRowTile, 2, float>, rows_times_tile<W, kRowTile, 3, float>},
    };
    const float* xt[kTokenTile];
    const W* wr[kRowTile];
    for (int64_t r0 = 0; r0 < n_rows; r0 += kChunkRows) {
        const int64_t r1 = r0 + kChunkRows < n_rows ? r0 + kChunkRows : n_rows;
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
            const int n_t = static_cast<int>(n_tokens - t0 < kTokenTile ? n_tokens - t0 : kTokenTile);
            for (int k = 0; k < n_t; ++k) xt[k] = x + (t0 + k) * x_row_floats;
            for (int64_t r = r0; r < r1;) {
                const int n_r = n_t > 1 && r1 - r >= kRowTile ? kRowTile : 1;
                for (int k = 0; k < n_r; ++k)
                    wr[k] = reinterpret_cast<const W*>(static_cast<const uint8_t*>(w) + (r + k) * w_row_bytes);
                kTileFns[n_r == kRowTile][n_t](wr, xt, n_cols, y + t0 * y_stride + r, y_stride);
                r += n_r;
            }
        }
    }
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
    if (n_tokens == 1) {
        const auto* xh = static_cast<const uint16_t*>(x);
        for (int64_t r = 0; r < n_rows; ++r) {
            const auto* wr = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
            rows_times_tile<uint16_t, 1, 1, uint16_t>(&wr, &xh, n_cols, y + r, y_stride);
        }
        return;
    }
    rows_times_tokens<uint16_t>(w, w_row_bytes, n_rows, static_cast<const float*>(x), n_cols, n_tokens, n_cols, y,
                                y_stride);
}

size_t gemm_float_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

void gemm_f32(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
              int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    rows_times_tokens<float>(w, w_row_bytes, n_rows, static_cast<const float*>(x),
                             static_cast<int64_t>(x_row_bytes / sizeof(float)), n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx512
