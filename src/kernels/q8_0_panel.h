// The packed Q8_0 panel: the AVX-512 and AVX2 levels' pack_q8_0_panels write it (avx512/gemm.cpp,
// avx2/gemm_q8_0.cpp); their kernels and the AMX ones (amx/gemm_q8_0.cpp) read it. 16 rows, 16 * 34
// bytes a block: a panel lies where its first row did and takes 16 rows' bytes. The blocks lie in
// runs of kRunBlocks (a last, odd block alone), each run its blocks' scales, then their quants:
//   scales of block b  16 binary16, row r's d at r
//   quants of block b  8 vectors of 64 bytes, vector g's int32 lane r = bytes 4g..4g+3 of row r's
//                      block, plus 128 (w XOR 0x80: vpdpbusd multiplies unsigned bytes)
// So a kernel that takes a block's quants and then its scales reads the panel as one stream, in
// order (17 cache lines a run, the scales' line first). Measured from memory with a one-token
// kernel over the 1.5B's decoding matrices on two threads (an out-of-tree harness, alternated in
// one process; bench/NOTES.md, 2026-12-06 10:45): with all the scales after all the quants (the
// layout before) the scales were a second stream restarting at every panel, and the short rows
// (1,536 values) read 15-30% below a plain read of the same bytes (in a fast memory spell 31 against
// 46 GB/s); runs of 8 blocks with the scales after their quants read the short rows faster but
// the long ones (8,960 values) slower (the scales' line fetched ahead of the quants before it);
// these runs read within 1-3% of the plain read for both.
// Blocks b, b + 1 with b even lie in one run: block b + 1's quants start kQBytes after block b's,
// its scales kDBytes after b's (the kernels that take two blocks at a time rely on it).
// Integer offsets only, with internal linkage: the including files are compiled with different
// instruction sets (see half.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinan::kernels::q8_0_panel {

constexpr int kRows = 16;                          // one int32 lane per row
constexpr size_t kQBytes = 512;                    // a block's quants: 8 vectors of 64 bytes
constexpr size_t kDBytes = kRows * 2;              // a block's 16 binary16 scales
constexpr size_t kBlockBytes = kQBytes + kDBytes;  // 16 rows' 34-byte blocks
constexpr int64_t kRunBlocks = 2;                  // blocks a run: 17 whole cache lines
static_assert(kRunBlocks % 2 == 0 && kRunBlocks * kBlockBytes % 64 == 0);

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

}  // namespace sinan::kernels::q8_0_panel
