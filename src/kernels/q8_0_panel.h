// The packed Q8_0 panel: the AVX-512 and AVX2 levels' pack_q8_0_panels write it (avx512/gemm.cpp,
// avx2/gemm_q8_0.cpp); their kernels and the AMX ones (amx/gemm_q8_0.cpp) read it. 16 rows, 16 * 34
// bytes a block: a panel lies where its first row did and takes 16 rows' bytes. The blocks lie in
// runs of kRunBlocks (the last run may be shorter), each run its blocks' quants, then their scales:
//   quants of block b  8 vectors of 64 bytes, vector g's int32 lane r = bytes 4g..4g+3 of row r's
//                      block, plus 128 (w XOR 0x80: vpdpbusd multiplies unsigned bytes)
//   scales of block b  16 binary16, row r's d at r
// A panel is so one sequential stream, 68 cache lines a run. With all the scales after all the
// quants (the layout before), they were a second stream that restarted at every panel, and one
// token's products read memory 8% below a plain read of the same bytes where runs read within 2%
// of it; the 1.5B's Q8_0 decoding gained 2 points of the read limit in the host's slow memory
// spells and ~10 in its fast ones, on AVX2 ~20 (bench/NOTES.md, 2026-12-06 10:45).
// Two blocks b, b + 1 with b even lie in one run: block b + 1's quants start kQBytes after block
// b's, its scales kDBytes after b's (the kernels that take two blocks at a time rely on it).
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
constexpr int64_t kRunBlocks = 8;                  // blocks a run: 68 whole cache lines
static_assert(kRunBlocks % 2 == 0 && kRunBlocks * kBlockBytes % 64 == 0);

// Byte offsets from the panel's start of block b's quants and scales, in a panel of n_blocks
// blocks (unsigned arithmetic: the divisions are shifts).
static constexpr size_t q_offset(int64_t b) {
    const auto u = static_cast<size_t>(b);
    constexpr auto run = static_cast<size_t>(kRunBlocks);
    return u / run * run * kBlockBytes + u % run * kQBytes;
}
static constexpr size_t d_offset(int64_t n_blocks, int64_t b) {
    const auto u = static_cast<size_t>(b), n = static_cast<size_t>(n_blocks);
    constexpr auto run = static_cast<size_t>(kRunBlocks);
    const size_t first = u / run * run;  // the run's first block
    const size_t in_run = n - first < run ? n - first : run;
    return first * kBlockBytes + in_run * kQBytes + (u - first) * kDBytes;
}

}  // namespace sinan::kernels::q8_0_panel
