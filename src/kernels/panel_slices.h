// Packed panels of long rows in slices: the layout that keeps one token's activations in L1 while
// the weights stream past (a kernel opts in; Q4_K's and Q6_K's do, on AVX2 and AVX-512 VNNI).
//
// A panel (16 rows, block after block) of a long row is more bytes than L1 holds: the FFN down
// matrix of the 1.5B shape, 8,960 values a row, is 80 KB a panel in Q4_K. Read panel after panel,
// its weights pushed the token's 10 KB of activations out of L1 before the next panel needed them,
// and one token's product read 0.85-0.88 of what it read from the 1536-value rows in fast memory
// spells; with the token's footprint held to 6 blocks (a wrong-results measurement) it read the
// same (bench_row_lengths, bench/NOTES.md 2026-12-06). Fetching the token's lines ahead did not
// help; reading the panels a slice of columns at a time did not either, as it broke the weights'
// one sequential stream into strides (24 GB/s). Q6_K's 117 KB panels likewise (0.85-0.86 with its
// activations fetched at each block). In slices both read 0.94-0.95 in fast spells, 0.98-0.99 in
// slow ones (0.98 and 0.97 before).
//
// So a row of more than kMaxSliceValues values is cut into slices of at most that many values
// (blocks shared out evenly, in whole runs of `step` blocks where the layout keeps its blocks in
// runs: Q6_K's 2, panel_runs.h; a unit is laid out as a panel of its blocks would be), and the
// panels are packed in groups of kGroupPanels (64 rows; the last group of a matrix may have fewer
// panels): a group holds its panels' first slices, panel after panel, then their second
// slices, and so on. A kernel reads a group in memory order, one unit (a panel's slice) after
// another, adding each unit's blocks to the sums that the panel's earlier slices left in y: one
// sequential stream, and a token's footprint of one slice. A group lies where its first row lies in
// the rows, so a call on packed weights begins at a multiple of group_rows(n_cols) rows (rows of one
// slice: any panel; GemmKernel::packed_group_rows) and ends at one or at the matrix's last row.
// Results are the same bits: each row's blocks are still added left to right, its partial sum kept
// in y as a float between slices.
//
// Plain C++; every function here is static (internal linkage), so the copy compiled with one
// level's flags never serves another's (see half.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/panel_rows.h"

namespace sinan::kernels::panel_slices {

constexpr int64_t kMaxSliceValues = 2048;  // a Q8_K token: 8 blocks, 2.3 KB
// A slice's units a group: a token's slice read from L2 once per 4 units. With groups of 8 (the
// threads' chunks twice as large) the long rows read 0.88-0.95 of the short rows' rate in fast
// spells, and the Q4_K_M model's Q6_K down matrix 0.77-0.91 of its gate+up rate in slow ones;
// groups of 4, 0.94-0.95 and 0.84-0.95 (bench/NOTES.md).
constexpr int64_t kGroupPanels = 4;
constexpr int64_t kGroupRows = kGroupPanels * panel_rows::kRows;

// Slices of a row of n_cols values.
static inline int64_t n_slices(int64_t n_cols) { return (n_cols + kMaxSliceValues - 1) / kMaxSliceValues; }

// Rows per group of the packed layout of rows of n_cols values: a call begins at a multiple.
static inline int64_t group_rows(int64_t n_cols) { return n_slices(n_cols) > 1 ? kGroupRows : panel_rows::kRows; }

// The first block of slice s of a row of n_blocks blocks in n slices (s = n: n_blocks), slices
// starting at multiples of `step` blocks (a layout's runs of blocks: panel_runs.h). Every slice
// holds a block: a slice is at most 2048 values, a run at most 512.
static inline int64_t slice_start(int64_t s, int64_t n, int64_t n_blocks, int64_t step) {
    const int64_t at = s * ((n_blocks + step - 1) / step) / n * step;
    return at < n_blocks ? at : n_blocks;
}

// One panel's slice in the packed layout: blocks [b0, b1) of the rows [r0, r0 + n_valid), laid out
// `offset` bytes from the first row's place as a panel of b1 - b0 blocks would be.
struct Unit {
    size_t offset;
    int64_t r0;
    int n_valid;
    int64_t b0, b1;
};

// fn(unit) for every unit of packed rows [0, n_rows) (w_row_bytes and n_blocks blocks a row, n
// slices a row starting at multiples of step; a unit of b blocks is 16 * w_row_bytes * b /
// n_blocks bytes), in memory order: the kernels read them so, and their pack functions write them.
template <typename Fn>
static inline void for_each_unit(size_t w_row_bytes, int64_t n_rows, int64_t n_blocks, int64_t n, int64_t step, Fn fn) {
    size_t offset = 0;
    for (int64_t g0 = 0; g0 < n_rows; g0 += kGroupRows) {
        const int64_t group_end = n_rows - g0 < kGroupRows ? n_rows : g0 + kGroupRows;
        for (int64_t s = 0; s < n; ++s) {
            const int64_t b0 = slice_start(s, n, n_blocks, step), b1 = slice_start(s + 1, n, n_blocks, step);
            const size_t unit_bytes = panel_rows::kRows * w_row_bytes * static_cast<size_t>(b1 - b0) / n_blocks;
            for (int64_t r0 = g0; r0 < group_end; r0 += panel_rows::kRows) {
                const int n_valid = static_cast<int>(n_rows - r0 < panel_rows::kRows ? n_rows - r0 : panel_rows::kRows);
                fn(Unit{offset, r0, n_valid, b0, b1});
                offset += unit_bytes;
            }
        }
    }
}

// What a pack function writes, unit after unit: fn(unit, rows, u) for every unit u of the rows
// [0, n_rows) of w (as for_each_unit takes them), unit = out + u.offset, rows = the 16 rows of u's
// panel as block pointers (panel_rows::rows_of).
template <typename Block, typename Fn>
static inline void pack_units(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_blocks, int64_t n,
                              int64_t step, void* out, Fn fn) {
    for_each_unit(w_row_bytes, n_rows, n_blocks, n, step, [&](const Unit& u) {
        const Block* rows[panel_rows::kRows];
        panel_rows::rows_of(w, w_row_bytes, u.r0, n_rows, rows);
        fn(static_cast<uint8_t*>(out) + u.offset, rows, u);
    });
}

}  // namespace sinan::kernels::panel_slices
