// Where the blocks of a packed panel lie when each block is a run of quants (kQBytes, the
// kernel's own arrangement) plus its 16 rows' scales (16 binary16, row r's at r): Q8_0's panels
// (512 bytes of quants a block: avx512/gemm.cpp, avx2/gemm_q8_0.cpp, amx/gemm_q8_0.cpp) and Q6_K's
// (3,328: avx512/gemm_q6_k.cpp, avx2/gemm_q6_k.cpp). 16 rows, 16 rows' bytes a block: a panel lies
// where its first row did and takes 16 rows' bytes. The blocks lie in runs of kRunBlocks (a last,
// odd block alone), each run its blocks' scales, then their quants, so a kernel that takes a
// block's scales and quants block after block reads the panel as one stream, in order.
// Measured by bench_panel_layouts (Q8_0's one-token loop over the 1.5B's decoding matrices from
// memory on two threads, the layouts alternated in one process; bench/NOTES.md, 2026-12-06 10:45):
// with all the scales after all the quants (the layout before) the scales were a second stream
// restarting at every panel, and the short rows (1,536 values) read ~13% below a plain read of the
// same bytes; runs of 8 blocks with the scales after their quants read the long rows (8,960
// values) ~19% below it (the scales' line fetched ahead of the quants before it); these runs read
// within 1-4% of it for both. Blocks b, b + 1 with b even lie in one run: block b + 1's quants
// start kQBytes after block b's, its scales kDBytes after b's (the kernels that take two blocks at
// a time rely on it).
// Integer offsets only, with internal linkage (an unnamed namespace): the including files are
// compiled with different instruction sets (see half.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinan::kernels::panel_runs {
namespace {

template <size_t QBytes>
struct Runs {
    static constexpr int kRows = 16;
    static constexpr size_t kQBytes = QBytes;                 // a block's quants
    static constexpr size_t kDBytes = kRows * 2;              // a block's 16 binary16 scales
    static constexpr size_t kBlockBytes = kQBytes + kDBytes;  // 16 rows' blocks
    static constexpr int64_t kRunBlocks = 2;                  // blocks a run
    static_assert(kRunBlocks * kBlockBytes % 64 == 0, "a run: whole cache lines");

    // Byte offsets from the panel's start: of the run that starts at block `first` (a multiple of
    // kRunBlocks), and of block b's scales and quants in a panel of n_blocks blocks (unsigned
    // arithmetic: the divisions are shifts).
    static constexpr size_t run_offset(int64_t first) { return static_cast<size_t>(first) * kBlockBytes; }
    static constexpr size_t d_offset(int64_t b) {
        const auto u = static_cast<size_t>(b);
        constexpr auto run = static_cast<size_t>(kRunBlocks);
        return u / run * run * kBlockBytes + u % run * kDBytes;
    }
    static constexpr size_t q_offset(int64_t n_blocks, int64_t b) {
        const auto u = static_cast<size_t>(b), n = static_cast<size_t>(n_blocks);
        constexpr auto run = static_cast<size_t>(kRunBlocks);
        const size_t first = u / run * run;  // the run's first block
        const size_t in_run = n - first < run ? n - first : run;
        return first * kBlockBytes + in_run * kDBytes + (u - first) * kQBytes;
    }
};

// Q8_0's: 8 vectors of 64 bytes a block, vector g's int32 lane r = bytes 4g..4g+3 of row r's
// block plus 128 (w XOR 0x80: vpdpbusd multiplies unsigned bytes).
using Q8_0 = Runs<512>;

}  // namespace
}  // namespace sinan::kernels::panel_runs
