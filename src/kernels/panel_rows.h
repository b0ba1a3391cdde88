// What the panel matrix kernels of every SIMD level share that needs no SIMD: the rows of a panel
// (16 weight rows) as block pointers, the read-ahead distance, and a product on rows in place
// through a level's dot products. Plain C++; every function here is static (internal linkage), so the copy compiled
// with one level's flags never serves another's (see half.h). Included by avx2/panel.h and avx512/panel.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinan::kernels::panel_rows {

constexpr int kRows = 16;  // a panel's rows: one int32 lane per row of a 512-bit vector

// How far ahead of the block being read the one-token kernels of every level fetch, where they
// read ahead (kernels.h, decode_read_ahead; measured: avx512/panel.h's read_ahead).
constexpr int64_t kReadAheadBytes = 8192;

// The 16 rows of the panel at row r0 of n_rows (w_row_bytes apart) as block pointers: rows past
// the end repeat the last one. Returns how many are real.
template <typename Block>
static int rows_of(const void* w, size_t w_row_bytes, int64_t r0, int64_t n_rows, const Block** rows) {
    const int n_valid = static_cast<int>(n_rows - r0 < kRows ? n_rows - r0 : kRows);
    for (int k = 0; k < kRows; ++k)
        rows[k] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) +
                                                 (r0 + (k < n_valid ? k : n_valid - 1)) * w_row_bytes);
    return n_valid;
}

// A matrix product on rows in place, row by row: four tokens a pass through Dot4 (VecDotX4Fn),
// the rest through Dot (VecDotFn).
template <void (*Dot4)(const void*, const void*, size_t, int64_t, float*),
          float (*Dot)(const void*, const void*, int64_t)>
static void rows_times_tokens(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                              int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride) {
    const auto* xs = static_cast<const uint8_t*>(x);
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(w) + r * w_row_bytes;
        int64_t t = 0;
        for (; t + 4 <= n_tokens; t += 4) {
            float s[4];
            Dot4(row, xs + t * x_row_bytes, x_row_bytes, n_cols, s);
            for (int k = 0; k < 4; ++k) y[(t + k) * y_stride + r] = s[k];
        }
        for (; t < n_tokens; ++t) y[t * y_stride + r] = Dot(row, xs + t * x_row_bytes, n_cols);
    }
}

}  // namespace sinan::kernels::panel_rows
