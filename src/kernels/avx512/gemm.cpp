// AVX-512 matrix products for any number of tokens (dispatch.h, GemmKernel), each result
// bit-identical to the level's single-row dot product, so a token's logits do not depend on what
// else is in its batch.
//
// Q8_0 (VNNI): the weights are taken 16 rows at a time (a panel), transposed so that int32 lane r
// of a vector belongs to row r (once into scratch for large batches, in registers for 2-8), then
// every token meets the panel: per 32-value block, eight vpdpbusd (4 bytes of the token broadcast
// against 4 bytes of each of the 16 rows) give the exact integer block sums of 16 rows, and the
// float operations of the scalar reference follow, one lane per row:
//   y += float(isum) * (d_w * d_x)          (multiply, then add; no fused multiply-add)
// vpdpbusd multiplies unsigned by signed bytes: the panel holds w + 128 (w XOR 0x80), and each
// block's sum starts at -128 * sum(x) to take that back. The tokens' quants are interleaved once
// per product, 8 tokens a tile (one pointer for all of them; prepare_q8_0, shared by every call
// and thread that the product's rows are split into), and two blocks of a packed panel are
// worked at once (16 independent vpdpbusd chains for 8 tokens; bench/NOTES.md).
//
// Packed weights (gemm_q8_0_packed): a model repacks its matrices into panels once, at load
// (pack_q8_0_panels; panel_runs.h: every two blocks' scales, then their quants, so that a panel is
// read as one stream), and every call, one token or many, runs them as they are: no transpose per
// call, so 8 tokens cost little more than reading the weights, where the transposes on the fly
// (below) make them about 1.45x one token (bench_kernels, bench/NOTES.md). One token reads its
// quants from a tight copy of its row, not from a tile (one cache line a block instead of five:
// the kernel from memory at ~78% of the read limit instead of ~60%, bench/NOTES.md). Prompts (9+
// tokens) take two packed panels at once against 4 tokens, each token's 4 bytes broadcast into a
// register once for both (panel_pair_times_4_tokens, one asm statement): fewer loads per vpdpbusd,
// pp128 10-12% faster. Decoding 2 to 8 sequences takes one row and 2 tokens to each 64-bit half
// of a 128-bit lane (pairs_times_two_blocks, one asm statement): the weights spread by vpshufd,
// the tokens' bytes broadcast 8 at a time, far fewer loads per vpdpbusd than with a broadcast
// load per vpdpbusd (8 sequences decoded 12-20% faster with the first such form, 4 rows and 4
// tokens to a lane; pairs ran 6-44% faster again in cache; bench/NOTES.md).
//
// One token (decoding) transposes sums instead of quants: a register holds block b of rows k and
// k + 8 as they lie in memory, one vpdpbusd against the token's block gives 8 partial sums per
// row, and a tree of adds over 8 such registers (14 shuffles) leaves each row's exact block sum in
// one lane. Up to 8 tokens read the weights once: the next panel is fetched into L2 as one
// sequential run while the current one is used (one token: 23 GB/s of 25 on 2 threads, against 17
// with the rows prefetched as 16 streams; bench/NOTES.md); packed weights met by 2 to 8 tokens
// stream ahead into L2 instead (panel::stream_ahead), and met by one token are read in order,
// left to the hardware's streams (gemm_q8_0_packed: where they keep up, prefetch instructions only
// take load slots) or with each block fetched ahead (gemm_q8_0_packed_read_ahead, panel::read_ahead:
// where they do not; kernels.h, decode_read_ahead); that form fetches 2 to 8 tokens' block pairs
// ahead into L1 too, instead of their stream into L2.
//
// F16 and F32 weights: gemm_float.cpp.
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/avx512/unrolled.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

using panel::NextPanelPrefetch;
using Layout = panel_runs::Q8_0;  // where a packed panel's blocks lie

constexpr int kPanelRows = Layout::kRows;  // one int32 lane per row
constexpr int kTokenTile = 8;              // tokens sharing one pass over a panel (registers: 2 x 8 sums + 8 results)
constexpr size_t kPanelQBytes = Layout::kQBytes;  // a block's quants: kQK / 4 vectors
static_assert(kPanelQBytes == kQK / 4 * sizeof(__m512i));

// A panel in memory, as gemm_q8_0_packed reads it and pack_q8_0_panels writes it (for raw rows,
// 9+ tokens, a call packs each panel into scratch the same way): panel_runs.h's layout, blocks in
// runs of scales then quants. q(b): block b's 8 quant vectors; d(b): its 16 row scales (binary16).
struct PanelView {
    const uint8_t* start;
    int64_t n_blocks;
    const __m512i* q(int64_t b) const {
        return reinterpret_cast<const __m512i*>(start + Layout::q_offset(n_blocks, b));
    }
    const uint16_t* d(int64_t b) const { return reinterpret_cast<const uint16_t*>(start + Layout::d_offset(b)); }
};
inline PanelView panel_view(const void* panel, int64_t n_blocks) {
    return {static_cast<const uint8_t*>(panel), n_blocks};
}

// Block b of a tile of up to kTokenTile tokens, interleaved so that one pointer reaches every
// token's values (the tile's tokens would otherwise need a register each): q[g][t] holds bytes
// 4g..4g+3 of token t's quants, d[t] its d_x as a float, neg128_sum[t] -128 times the sum of its
// quants. Built once per call; slots past the tile's tokens are unused.
struct TileBlock {
    int32_t q[kQK / 4][kTokenTile];
    float d[kTokenTile];
    int32_t neg128_sum[kTokenTile];
};

// One token's summary of a block, for decoding (its quants are read in place): packed tight, so
// that the summaries of a row take a few cache lines, not one per block as a TileBlock would.
struct TokenBlock {
    float d;
    int32_t neg128_sum;
};

// Weights are read once, as 16 streams (one per row): fetching 1 KiB ahead in each keeps more of
// them in flight than the hardware prefetcher does.
inline void prefetch_rows(const BlockQ8_0* const* rows, int64_t b) {
    if (b % 2 != 0) return;  // a block is about half a cache line
    for (int k = 0; k < kPanelRows; ++k) _mm_prefetch(reinterpret_cast<const char*>(rows[k] + b) + 1024, _MM_HINT_T0);
}

// Transposes block `b` of the rows at rows[0..15] (row pointers; rows past the end of the matrix
// repeat the last one; row_offsets: their byte offsets from rows[0]) into q[0..7]; returns the
// rows' scales (binary16, lane r: row r).
inline __m256i pack_block(const BlockQ8_0* const* rows, __m512i row_offsets, int64_t b, __m512i* q) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512i r[8];
    for (int k = 0; k < 8; ++k) {
        // Lanes 0-7: row k's eight 4-byte groups; lanes 8-15: row k + 8's.
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k][b].qs));
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k + 8][b].qs));
        r[k] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
    }
    panel::transpose_groups(r, q);
    // The scales: 4 bytes gathered at each row's block (d and two quants), the low half kept.
    const __m512i d32 = _mm512_i32gather_epi32(row_offsets, rows[0] + b, 1);
    return _mm512_cvtepi32_epi16(d32);
}

// Packs the panel of rows[0..15] (as pack_block takes them) into `out` (16 * w_row_bytes bytes).
void pack_panel(const BlockQ8_0* const* rows, __m512i row_offsets, int64_t n_blocks, void* out) {
    auto* start = static_cast<uint8_t*>(out);
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch_rows(rows, b);
        __m512i qb[kQK / 4];
        const __m256i db = pack_block(rows, row_offsets, b, qb);
        auto* q = reinterpret_cast<__m512i*>(start + Layout::q_offset(n_blocks, b));
        for (int g = 0; g < kQK / 4; ++g) _mm512_storeu_si512(q + g, qb[g]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(start + Layout::d_offset(b)), db);
    }
}

// acc[t] += the products of B consecutive panel blocks (quants q[k][0..7], scales d[k]) with the
// same blocks of the first T tokens of a tile (x[0..B-1]), block after block as the reference
// adds them.
template <int T, int B>
inline void accumulate_blocks(const __m512i* const* q, const __m512* d, const TileBlock* x, __m512* acc) {
    // The sums of the tokens and of the B blocks are interleaved (B * T independent vpdpbusd chains,
    // not one chain after another): with 2 blocks, 16 chains keep vpdpbusd busy where 8 wait on its
    // latency (bench/NOTES.md).
    __m512i isum[B][T];
#pragma GCC unroll 8
    for (int k = 0; k < B; ++k)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) isum[k][t] = _mm512_set1_epi32(x[k].neg128_sum[t]);
#pragma GCC unroll 8
    for (int g = 0; g < kQK / 4; ++g) {
        __m512i qg[B];  // unaligned: a packed matrix's panels need not start on a 64-byte boundary
#pragma GCC unroll 2
        for (int k = 0; k < B; ++k) qg[k] = _mm512_loadu_si512(q[k] + g);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
#pragma GCC unroll 2
            for (int k = 0; k < B; ++k) isum[k][t] = panel::dpbusd_broadcast(isum[k][t], qg[k], &x[k].q[g][t]);
    }
#pragma GCC unroll 2
    for (int k = 0; k < B; ++k) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m512 scale = _mm512_mul_ps(d[k], _mm512_set1_ps(x[k].d[t]));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(isum[k][t]), scale));
        }
    }
}

static_assert(sizeof(TileBlock) == 320 && offsetof(TileBlock, d) == 256 && offsetof(TileBlock, neg128_sum) == 288,
              "the asm steps below address TileBlock's fields by these offsets");
static_assert(kPanelQBytes == 512 && kPanelRows * sizeof(uint16_t) == 32,
              "the asm steps below find block 1's quants 512 bytes and its scales 32 bytes after block 0's");

// accumulate_blocks<T, 2> as one asm statement, with the products taken in pairs of tokens. As
// C++, GCC spilled its 8 results to the stack and back at every step (16 sums, 8 results, 2 weight
// vectors and the temporaries need all 32 registers); and where each vpdpbusd broadcasts its
// token's 4 bytes from memory, a block pair takes ~180 loads for 128 vpdpbusd, and the loads bound
// it (two loads and two vpdpbusd issue a cycle on AMD family 26; bench/NOTES.md). Here each 64-bit
// half of a 128-bit lane pairs one row with 2 tokens: vpshufd spreads rows 4c + 2s and 4c + 2s + 1
// (s = 0, 1) over the two halves of lane c, and one 8-byte broadcast (vpbroadcastq, a plain load)
// gives every half tokens 2p and 2p + 1's 4 bytes (the tile holds them side by side), so a group of
// both blocks takes 2 + 2P loads and 4 vpshufd for its 4P vpdpbusd. The earlier form, 4 rows
// against 4 tokens in a lane, took 8 vpshufd and 16-byte broadcasts (vbroadcasti32x4, which takes
// a slot of vpdpbusd's pipes now and then: bench_kernels' VnniLoop/broadcast16), and ran 6% (8
// tokens) to 44% (2 tokens) slower in cache (bench/NOTES.md, 2026-12-07 17:52). Sum and result (p, s), lane 4c + j: row
// 4c + 2s + j / 2, token 2p + j % 2 (pairs_to_tokens puts the results back in token order). Every lane's operations are
// those of accumulate_blocks, in the same order: bit for bit the same. Registers: zmm0-1 the weights of group g of
// blocks 0 and 1, zmm2-3 and zmm6-7 their spreads, zmm4-5 the tokens' bytes; afterwards the scales, the tokens' scales
// and temporaries; the integer sums (block b, pair p, s) in zmm(8 + 2Pb + 2p + s); the results a(2p + s) in the 8 left.
// %[x]: the tile's block (320 bytes a block; the offsets asserted above).
// clang-format off
#define SINAN_Q8_SPREAD(w, s0, s1)                                                 \
    "vpshufd $0x50, %%zmm" #w ", %%zmm" #s0 "\n\t"                                 \
    "vpshufd $0xfa, %%zmm" #w ", %%zmm" #s1 "\n\t"
// Tokens 2p, 2p + 1 of block b, group g (into zmm t) against its spreads (zmm s0, s1).
#define SINAN_Q8_PAIR(b, g, p, t, s0, s1, c0, c1)                                  \
    "vpbroadcastq " #b "*320+" #g "*32+" #p "*8(%[x]), %%zmm" #t "\n\t"          \
    "vpdpbusd %%zmm" #t ", %%zmm" #s0 ", %%zmm" #c0 "\n\t"                        \
    "vpdpbusd %%zmm" #t ", %%zmm" #s1 ", %%zmm" #c1 "\n\t"
// Group g of both blocks; B0, B1: the pairs of block 0 and of block 1.
#define SINAN_Q8_PAIRS_GROUP(g, B0, B1)                                            \
    "vmovdqu64 " #g "*64(%[q]), %%zmm0\n\t"                                      \
    "vmovdqu64 512+" #g "*64(%[q]), %%zmm1\n\t"                                  \
    SINAN_Q8_SPREAD(0, 2, 3) B0(g) SINAN_Q8_SPREAD(1, 6, 7) B1(g)
// The sums' starts (-128 times the tokens' sums).
#define SINAN_Q8_PAIR_START(b, p, c0, c1)                                          \
    "vpbroadcastq " #b "*320+288+" #p "*8(%[x]), %%zmm" #c0 "\n\t"               \
    "vpbroadcastq " #b "*320+288+" #p "*8(%[x]), %%zmm" #c1 "\n\t"
// One block's sums into the results: y += float(isum) * (d_w * d_x), d_w in zmm dw, dx the token's
// scale (a register), zmm tmp a temporary.
#define SINAN_Q8_ADD_BLOCK(dx, dw, c, tmp, a)                              \
    "vmulps " dx ", %%zmm" #dw ", %%zmm" #tmp "\n\t"                        \
    "vcvtdq2ps %%zmm" #c ", %%zmm" #c "\n\t"                                \
    "vmulps %%zmm" #c ", %%zmm" #tmp ", %%zmm" #tmp "\n\t"                   \
    "vaddps %%zmm" #tmp ", %[" #a "], %[" #a "]\n\t"
// Block b's row scales (d_w), spread as the weights were, into zmm2 and zmm3.
#define SINAN_Q8_PAIR_DW(b) "vcvtph2ps " #b "*32(%[d]), %%zmm0\n\t" SINAN_Q8_SPREAD(0, 2, 3)
// Pair p of block b into its results: the pair's d_x (8 bytes) broadcast into zmm4.
#define SINAN_Q8_PAIR_SCALE(b, p, c0, c1, a0, a1)                                  \
    "vbroadcastsd " #b "*320+256+" #p "*8(%[x]), %%zmm4\n\t"                     \
    SINAN_Q8_ADD_BLOCK("%%zmm4", 2, c0, 5, a0) SINAN_Q8_ADD_BLOCK("%%zmm4", 3, c1, 6, a1)
// Two lines of the read-ahead (operand pf: kReadAhead bytes past the weights) fetched into L1 with
// each group: spread over the groups, where all 17 lines at a block pair's start made 8 Q8_0
// sequences decode ~3.5% slower (bench/NOTES.md, 2026-12-07 15:14); the last after them.
#define SINAN_Q8_AHEAD(g) "prefetcht0 " #g "*128(%[pf])\n\t" "prefetcht0 " #g "*128+64(%[pf])\n\t"
#define SINAN_Q8_NOT_AHEAD(g) ""
#define SINAN_Q8_LAST_AHEAD "prefetcht0 1024(%[pf])\n\t"
// The asm text for P pairs: starts, groups (each after A(g): the read-ahead or nothing), T (the
// read-ahead's last line or nothing), the scales.
#define SINAN_Q8_PAIRS_BODY(P, A, T)                                                                               \
    SINAN_Q8_P##P##_START A(0) SINAN_Q8_P##P##_GROUP(0) A(1) SINAN_Q8_P##P##_GROUP(1) A(2) SINAN_Q8_P##P##_GROUP(2) \
    A(3) SINAN_Q8_P##P##_GROUP(3) A(4) SINAN_Q8_P##P##_GROUP(4) A(5) SINAN_Q8_P##P##_GROUP(5)                       \
    A(6) SINAN_Q8_P##P##_GROUP(6) A(7) SINAN_Q8_P##P##_GROUP(7) T SINAN_Q8_P##P##_SCALE
// P = 1 to 4: sums zmm8 on, 4P of them.
#define SINAN_Q8_P1_B0(g) SINAN_Q8_PAIR(0, g, 0, 4, 2, 3, 8, 9)
#define SINAN_Q8_P1_B1(g) SINAN_Q8_PAIR(1, g, 0, 4, 6, 7, 10, 11)
#define SINAN_Q8_P1_GROUP(g) SINAN_Q8_PAIRS_GROUP(g, SINAN_Q8_P1_B0, SINAN_Q8_P1_B1)
#define SINAN_Q8_P1_START SINAN_Q8_PAIR_START(0, 0, 8, 9) SINAN_Q8_PAIR_START(1, 0, 10, 11)
#define SINAN_Q8_P1_SCALE                                                                                          \
    SINAN_Q8_PAIR_DW(0) SINAN_Q8_PAIR_SCALE(0, 0, 8, 9, a0, a1)                                                    \
    SINAN_Q8_PAIR_DW(1) SINAN_Q8_PAIR_SCALE(1, 0, 10, 11, a0, a1)
#define SINAN_Q8_P2_B0(g) SINAN_Q8_PAIR(0, g, 0, 4, 2, 3, 8, 9) SINAN_Q8_PAIR(0, g, 1, 5, 2, 3, 10, 11)
#define SINAN_Q8_P2_B1(g) SINAN_Q8_PAIR(1, g, 0, 4, 6, 7, 12, 13) SINAN_Q8_PAIR(1, g, 1, 5, 6, 7, 14, 15)
#define SINAN_Q8_P2_GROUP(g) SINAN_Q8_PAIRS_GROUP(g, SINAN_Q8_P2_B0, SINAN_Q8_P2_B1)
#define SINAN_Q8_P2_START                                                                                          \
    SINAN_Q8_PAIR_START(0, 0, 8, 9) SINAN_Q8_PAIR_START(0, 1, 10, 11)                                              \
    SINAN_Q8_PAIR_START(1, 0, 12, 13) SINAN_Q8_PAIR_START(1, 1, 14, 15)
#define SINAN_Q8_P2_SCALE                                                                                          \
    SINAN_Q8_PAIR_DW(0) SINAN_Q8_PAIR_SCALE(0, 0, 8, 9, a0, a1) SINAN_Q8_PAIR_SCALE(0, 1, 10, 11, a2, a3)          \
    SINAN_Q8_PAIR_DW(1) SINAN_Q8_PAIR_SCALE(1, 0, 12, 13, a0, a1) SINAN_Q8_PAIR_SCALE(1, 1, 14, 15, a2, a3)
#define SINAN_Q8_P3_B0(g)                                                                                          \
    SINAN_Q8_PAIR(0, g, 0, 4, 2, 3, 8, 9) SINAN_Q8_PAIR(0, g, 1, 5, 2, 3, 10, 11)                                  \
    SINAN_Q8_PAIR(0, g, 2, 4, 2, 3, 12, 13)
#define SINAN_Q8_P3_B1(g)                                                                                          \
    SINAN_Q8_PAIR(1, g, 0, 5, 6, 7, 14, 15) SINAN_Q8_PAIR(1, g, 1, 4, 6, 7, 16, 17)                                \
    SINAN_Q8_PAIR(1, g, 2, 5, 6, 7, 18, 19)
#define SINAN_Q8_P3_GROUP(g) SINAN_Q8_PAIRS_GROUP(g, SINAN_Q8_P3_B0, SINAN_Q8_P3_B1)
#define SINAN_Q8_P3_START                                                                                          \
    SINAN_Q8_PAIR_START(0, 0, 8, 9) SINAN_Q8_PAIR_START(0, 1, 10, 11) SINAN_Q8_PAIR_START(0, 2, 12, 13)            \
    SINAN_Q8_PAIR_START(1, 0, 14, 15) SINAN_Q8_PAIR_START(1, 1, 16, 17) SINAN_Q8_PAIR_START(1, 2, 18, 19)
#define SINAN_Q8_P3_SCALE                                                                                          \
    SINAN_Q8_PAIR_DW(0) SINAN_Q8_PAIR_SCALE(0, 0, 8, 9, a0, a1) SINAN_Q8_PAIR_SCALE(0, 1, 10, 11, a2, a3)          \
    SINAN_Q8_PAIR_SCALE(0, 2, 12, 13, a4, a5)                                                                      \
    SINAN_Q8_PAIR_DW(1) SINAN_Q8_PAIR_SCALE(1, 0, 14, 15, a0, a1) SINAN_Q8_PAIR_SCALE(1, 1, 16, 17, a2, a3)        \
    SINAN_Q8_PAIR_SCALE(1, 2, 18, 19, a4, a5)
#define SINAN_Q8_P4_B0(g)                                                                                          \
    SINAN_Q8_PAIR(0, g, 0, 4, 2, 3, 8, 9) SINAN_Q8_PAIR(0, g, 1, 5, 2, 3, 10, 11)                                  \
    SINAN_Q8_PAIR(0, g, 2, 4, 2, 3, 12, 13) SINAN_Q8_PAIR(0, g, 3, 5, 2, 3, 14, 15)
#define SINAN_Q8_P4_B1(g)                                                                                          \
    SINAN_Q8_PAIR(1, g, 0, 4, 6, 7, 16, 17) SINAN_Q8_PAIR(1, g, 1, 5, 6, 7, 18, 19)                                \
    SINAN_Q8_PAIR(1, g, 2, 4, 6, 7, 20, 21) SINAN_Q8_PAIR(1, g, 3, 5, 6, 7, 22, 23)
#define SINAN_Q8_P4_GROUP(g) SINAN_Q8_PAIRS_GROUP(g, SINAN_Q8_P4_B0, SINAN_Q8_P4_B1)
#define SINAN_Q8_P4_START                                                                                          \
    SINAN_Q8_PAIR_START(0, 0, 8, 9) SINAN_Q8_PAIR_START(0, 1, 10, 11) SINAN_Q8_PAIR_START(0, 2, 12, 13)            \
    SINAN_Q8_PAIR_START(0, 3, 14, 15) SINAN_Q8_PAIR_START(1, 0, 16, 17) SINAN_Q8_PAIR_START(1, 1, 18, 19)          \
    SINAN_Q8_PAIR_START(1, 2, 20, 21) SINAN_Q8_PAIR_START(1, 3, 22, 23)
#define SINAN_Q8_P4_SCALE                                                                                          \
    SINAN_Q8_PAIR_DW(0) SINAN_Q8_PAIR_SCALE(0, 0, 8, 9, a0, a1) SINAN_Q8_PAIR_SCALE(0, 1, 10, 11, a2, a3)          \
    SINAN_Q8_PAIR_SCALE(0, 2, 12, 13, a4, a5) SINAN_Q8_PAIR_SCALE(0, 3, 14, 15, a6, a7)                            \
    SINAN_Q8_PAIR_DW(1) SINAN_Q8_PAIR_SCALE(1, 0, 16, 17, a0, a1) SINAN_Q8_PAIR_SCALE(1, 1, 18, 19, a2, a3)        \
    SINAN_Q8_PAIR_SCALE(1, 2, 20, 21, a4, a5) SINAN_Q8_PAIR_SCALE(1, 3, 22, 23, a6, a7)
// The statement: 8 results (those past 2P unused), every register the largest P takes clobbered.
#define SINAN_Q8_PAIRS_ASM(BODY)                                                                                   \
    asm(BODY                                                                                                       \
        : [a0] "+v"(a[0]), [a1] "+v"(a[1]), [a2] "+v"(a[2]), [a3] "+v"(a[3]), [a4] "+v"(a[4]), [a5] "+v"(a[5]),   \
          [a6] "+v"(a[6]), [a7] "+v"(a[7])                                                                         \
        : [q] "r"(q), [d] "r"(d), [x] "r"(x), [pf] "r"(reinterpret_cast<const char*>(q) + panel::kReadAhead),     \
          "m"(*reinterpret_cast<const QBytes*>(q)), "m"(*reinterpret_cast<const DHalves*>(d)),                     \
          "m"(*reinterpret_cast<const TileBlock(*)[2]>(x))                                                         \
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",        \
          "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",       \
          "xmm23")
// clang-format on

// acc[2p + s] (pairs: see above; P of them, 1 to 4) += blocks 0 and 1 of a packed panel (quants q,
// scales d from the first) times the first 2P tokens of the tile blocks at x:
// accumulate_blocks<2P, 2>, bit for bit. Always inlined: called, its results went through memory
// at every step, and 8 streams served 12% slower than with the broadcasts (bench/NOTES.md).
// kAhead: the 17 lines kReadAhead bytes past the block pair are fetched into L1 as the groups go
// (panel::read_ahead's distance), two a group and the last after them.
template <int P, bool kAhead>
__attribute__((always_inline)) inline void pairs_times_two_blocks(const __m512i* q, const uint16_t* d,
                                                                  const TileBlock* x, __m512* acc) {
    using QBytes = uint8_t[2 * kPanelQBytes];
    using DHalves = uint16_t[2 * kPanelRows];
    static_assert(2 * kPanelQBytes + 2 * kPanelRows * sizeof(uint16_t) == 17 * 64, "a block pair: 17 lines");
    static_assert(P >= 1 && P <= 4);
    __m512 a[8];
    for (int k = 0; k < 8; ++k) a[k] = k < 2 * P ? acc[k] : _mm512_setzero_ps();
    if constexpr (P == 1 && kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(1, SINAN_Q8_AHEAD, SINAN_Q8_LAST_AHEAD));
    if constexpr (P == 1 && !kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(1, SINAN_Q8_NOT_AHEAD, ""));
    if constexpr (P == 2 && kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(2, SINAN_Q8_AHEAD, SINAN_Q8_LAST_AHEAD));
    if constexpr (P == 2 && !kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(2, SINAN_Q8_NOT_AHEAD, ""));
    if constexpr (P == 3 && kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(3, SINAN_Q8_AHEAD, SINAN_Q8_LAST_AHEAD));
    if constexpr (P == 3 && !kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(3, SINAN_Q8_NOT_AHEAD, ""));
    if constexpr (P == 4 && kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(4, SINAN_Q8_AHEAD, SINAN_Q8_LAST_AHEAD));
    if constexpr (P == 4 && !kAhead) SINAN_Q8_PAIRS_ASM(SINAN_Q8_PAIRS_BODY(4, SINAN_Q8_NOT_AHEAD, ""));
    for (int k = 0; k < 2 * P; ++k) acc[k] = a[k];
}

#undef SINAN_Q8_SPREAD
#undef SINAN_Q8_PAIR
#undef SINAN_Q8_PAIRS_GROUP
#undef SINAN_Q8_PAIR_START
#undef SINAN_Q8_PAIR_DW
#undef SINAN_Q8_PAIR_SCALE
#undef SINAN_Q8_AHEAD
#undef SINAN_Q8_NOT_AHEAD
#undef SINAN_Q8_LAST_AHEAD
#undef SINAN_Q8_PAIRS_BODY
#undef SINAN_Q8_P1_B0
#undef SINAN_Q8_P1_B1
#undef SINAN_Q8_P1_GROUP
#undef SINAN_Q8_P1_START
#undef SINAN_Q8_P1_SCALE
#undef SINAN_Q8_P2_B0
#undef SINAN_Q8_P2_B1
#undef SINAN_Q8_P2_GROUP
#undef SINAN_Q8_P2_START
#undef SINAN_Q8_P2_SCALE
#undef SINAN_Q8_P3_B0
#undef SINAN_Q8_P3_B1
#undef SINAN_Q8_P3_GROUP
#undef SINAN_Q8_P3_START
#undef SINAN_Q8_P3_SCALE
#undef SINAN_Q8_P4_B0
#undef SINAN_Q8_P4_B1
#undef SINAN_Q8_P4_GROUP
#undef SINAN_Q8_P4_START
#undef SINAN_Q8_P4_SCALE
#undef SINAN_Q8_PAIRS_ASM  // SINAN_Q8_ADD_BLOCK serves the kernel below too

// pairs_times_two_blocks' results in token order: acc[t] lane r = row r, token t. Per pair p, lane
// 4c + j of result (p, s) holds row 4c + 2s + j / 2, token 2p + j % 2: the even and odd halves of
// each 128-bit lane of both results, side by side.
template <int P>
inline void pairs_to_tokens(__m512* acc) {
    for (int p = 0; p < P; ++p) {
        const __m512 even = acc[2 * p], odd = acc[2 * p + 1];
        acc[2 * p] = _mm512_shuffle_ps(even, odd, 0x88);      // dwords 0, 2 of each: token 2p
        acc[2 * p + 1] = _mm512_shuffle_ps(even, odd, 0xdd);  // dwords 1, 3: token 2p + 1
    }
}

// y[t * y_stride + r] for the `valid` rows of a packed panel and T tokens, while the next panel is
// fetched (steps first_step + b), so that it is read (or packed) from L2; or, prefetch null (a
// batch of one tile: the weights read once), while the weights stream 32 KiB ahead into L2
// (panel::stream_ahead, which has its figures) or, with kReadAhead and 2 to 8 tokens, each block
// pair is fetched into L1 panel::kReadAhead bytes ahead instead (panel::read_ahead's distance; by
// the pairs' asm, a few lines a group): on the family 26 host the 1.5B Q8_0 model's decode steps of 8
// sequences ~16% faster than with both prefetches (median of 8 alternations; with both, 1-4%
// faster than with the stream alone), of 2 6-13% (bench/NOTES.md, 2026-12-07 12:40), and the
// lines spread over the groups ~3.5% faster again than all at the pair's start (2026-12-07 15:14).
template <int T, bool kReadAhead = false>
void packed_panel_times_tokens(PanelView panel, int64_t n_blocks, const TileBlock* x, const NextPanelPrefetch* prefetch,
                               int64_t first_step, float* y, int64_t y_stride, __mmask16 valid) {
    // 2 to 8 tokens go in pairs (a last odd token's partner slot holds zeros: clear_slots_past),
    // one token alone.
    constexpr int kPairs = T >= 2 ? (T + 1) / 2 : 0;
    constexpr int kAcc = kPairs > 0 ? 2 * kPairs : T;
    __m512 acc[kAcc];
    for (int t = 0; t < kAcc; ++t) acc[t] = _mm512_setzero_ps();
    auto scales = [&](int64_t b) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel.d(b))));
    };
    int64_t b = 0;
    // kReadAhead comes with prefetch null (panel_times_tiles' callers); 2 to 8 tokens then fetch
    // the weights ahead inside the pairs' asm.
    constexpr bool kPairsAhead = kReadAhead && kPairs > 0;
    for (; b + 2 <= n_blocks; b += 2) {
        if (prefetch != nullptr) {
            prefetch->at_step(first_step + b);
            prefetch->at_step(first_step + b + 1);
        } else if constexpr (!kPairsAhead) {
            panel::stream_ahead<2 * kQK / 4>(panel.q(b));
            panel::stream_ahead<1>(panel.d(b));
        }
        if constexpr (kPairs > 0) {
            pairs_times_two_blocks<kPairs, kPairsAhead>(panel.q(b), panel.d(b), x + b, acc);
        } else {
            const __m512i* q[2] = {panel.q(b), panel.q(b + 1)};
            const __m512 d[2] = {scales(b), scales(b + 1)};
            accumulate_blocks<T, 2>(q, d, x + b, acc);
        }
    }
    if constexpr (kPairs > 0) pairs_to_tokens<kPairs>(acc);
    if (b < n_blocks) {
        if (prefetch == nullptr)
            panel::stream_ahead<kQK / 4>(panel.q(b));
        else
            prefetch->at_step(first_step + b);
        const __m512i* q[1] = {panel.q(b)};
        const __m512 d[1] = {scales(b)};
        accumulate_blocks<T, 1>(q, d, x + b, acc);
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, valid, acc[t]);
}

// Prompts: two panels (32 rows) against 4 tokens at a time. Where every vpdpbusd loads its 4
// token bytes ({1to16}, accumulate_blocks), with the weights, the sums' starts and the scales a
// block takes ~11 loads per 8 vpdpbusd: on this host (AMD family 26) two loads and two vpdpbusd
// issue a cycle, so the loads bound it (58-65% of the vpdpbusd probe in L1).
// Here each token's 4 bytes are broadcast once into a register for both panels: ~7 loads per 8
// vpdpbusd, and the two multiplies per block and token (vmulps shares vpdpbusd's pipes) bound it
// instead, 80% at most (bench/NOTES.md). Written as one asm statement: 16 sums, 8 results, 4
// weight vectors and 2 broadcasts take all 32 registers, which GCC fills with spills and copies.
// The operations per lane are those of accumulate_blocks, in the same order: bit for bit the same.

// Registers: zmm0-3 the weights of group g (panel p, block k: zmm(2k + p)), then the scales
// (the same numbering), zmm4-5 a token's broadcast bytes (block k: zmm(4 + k)), then temporaries,
// zmm8-23 the integer sums (block k, panel p, token t: zmm(8 + 8k + 4p + t)); the results a0-a7
// (panel p, token t: a(4p + t)) are in the 8 left.
// %[x]: the tokens' tile block (320 bytes a block) plus 16 bytes per 4 tokens skipped.
// clang-format off
#define SINAN_Q8_START(t, k, c0, c1)                                       \
    "vpbroadcastd " #k "*320+288+" #t "*4(%[x]), %%zmm" #c0 "\n\t"         \
    "vmovdqa64 %%zmm" #c0 ", %%zmm" #c1 "\n\t"
#define SINAN_Q8_TOKEN(g, t, k, xr, w0, w1, c0, c1)                        \
    "vpbroadcastd " #k "*320+" #g "*32+" #t "*4(%[x]), %%zmm" #xr "\n\t"   \
    "vpdpbusd %%zmm" #xr ", %%zmm" #w0 ", %%zmm" #c0 "\n\t"                \
    "vpdpbusd %%zmm" #xr ", %%zmm" #w1 ", %%zmm" #c1 "\n\t"
#define SINAN_Q8_GROUP(g)                                                                                  \
    "vmovdqu64 " #g "*64(%[q0]), %%zmm0\n\t"                                                               \
    "vmovdqu64 " #g "*64(%[q1]), %%zmm1\n\t"                                                               \
    "vmovdqu64 512+" #g "*64(%[q0]), %%zmm2\n\t"                                                           \
    "vmovdqu64 512+" #g "*64(%[q1]), %%zmm3\n\t" SINAN_Q8_TOKEN(g, 0, 0, 4, 0, 1, 8, 12)                    \
        SINAN_Q8_TOKEN(g, 0, 1, 5, 2, 3, 16, 20) SINAN_Q8_TOKEN(g, 1, 0, 4, 0, 1, 9, 13)                    \
            SINAN_Q8_TOKEN(g, 1, 1, 5, 2, 3, 17, 21) SINAN_Q8_TOKEN(g, 2, 0, 4, 0, 1, 10, 14)               \
                SINAN_Q8_TOKEN(g, 2, 1, 5, 2, 3, 18, 22) SINAN_Q8_TOKEN(g, 3, 0, 4, 0, 1, 11, 15)           \
                    SINAN_Q8_TOKEN(g, 3, 1, 5, 2, 3, 19, 23)
// Block k's sums of token t into the results, per panel.
#define SINAN_Q8_SCALE(t, k, d0, d1, c0, c1, a0, a1)                                 \
    "vbroadcastss " #k "*320+256+" #t "*4(%[x]), %%zmm4\n\t"                      \
    SINAN_Q8_ADD_BLOCK("%%zmm4", d0, c0, 5, a0) SINAN_Q8_ADD_BLOCK("%%zmm4", d1, c1, 6, a1)
// clang-format on

// acc[4p + t] += blocks [b0, b0 + 2 * n_pairs) of panel p (p0, p1; b0 even) times token t of the
// 4 at x (the tile's block b0, 16 bytes in for its tokens 4-7).
void panel_pair_times_4_tokens(PanelView p0, PanelView p1, int64_t b0, const uint8_t* x, int64_t n_pairs, __m512* acc) {
    __m512 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7];
    using Bytes = uint8_t[2 * kPanelQBytes];
    for (int64_t i = 0; i < n_pairs; ++i) {
        const __m512i *q0 = p0.q(b0 + 2 * i), *q1 = p1.q(b0 + 2 * i);
        const uint16_t *d0 = p0.d(b0 + 2 * i), *d1 = p1.d(b0 + 2 * i);
        // The second block's weights start 8 vectors (512 bytes) in, its scales 16 binary16 (32
        // bytes): two blocks from an even one lie in one run (panel_runs.h).
        // clang-format off
        asm(SINAN_Q8_START(0, 0, 8, 12) SINAN_Q8_START(1, 0, 9, 13) SINAN_Q8_START(2, 0, 10, 14)
            SINAN_Q8_START(3, 0, 11, 15) SINAN_Q8_START(0, 1, 16, 20) SINAN_Q8_START(1, 1, 17, 21)
            SINAN_Q8_START(2, 1, 18, 22) SINAN_Q8_START(3, 1, 19, 23)
            SINAN_Q8_GROUP(0) SINAN_Q8_GROUP(1) SINAN_Q8_GROUP(2) SINAN_Q8_GROUP(3)
            SINAN_Q8_GROUP(4) SINAN_Q8_GROUP(5) SINAN_Q8_GROUP(6) SINAN_Q8_GROUP(7)
            "vcvtph2ps (%[d0]), %%zmm0\n\t"
            "vcvtph2ps (%[d1]), %%zmm1\n\t"
            "vcvtph2ps 32(%[d0]), %%zmm2\n\t"
            "vcvtph2ps 32(%[d1]), %%zmm3\n\t"
            SINAN_Q8_SCALE(0, 0, 0, 1, 8, 12, a0, a4) SINAN_Q8_SCALE(0, 1, 2, 3, 16, 20, a0, a4)
            SINAN_Q8_SCALE(1, 0, 0, 1, 9, 13, a1, a5) SINAN_Q8_SCALE(1, 1, 2, 3, 17, 21, a1, a5)
            SINAN_Q8_SCALE(2, 0, 0, 1, 10, 14, a2, a6) SINAN_Q8_SCALE(2, 1, 2, 3, 18, 22, a2, a6)
            SINAN_Q8_SCALE(3, 0, 0, 1, 11, 15, a3, a7) SINAN_Q8_SCALE(3, 1, 2, 3, 19, 23, a3, a7)
            : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5),
              [a6] "+v"(a6), [a7] "+v"(a7)
            : [q0] "r"(q0), [q1] "r"(q1), [d0] "r"(d0), [d1] "r"(d1), [x] "r"(x),
              "m"(*reinterpret_cast<const Bytes*>(q0)), "m"(*reinterpret_cast<const Bytes*>(q1)),
              "m"(*reinterpret_cast<const uint16_t(*)[2 * kPanelRows]>(d0)),
              "m"(*reinterpret_cast<const uint16_t(*)[2 * kPanelRows]>(d1)),
              "m"(*reinterpret_cast<const uint8_t(*)[2 * sizeof(TileBlock)]>(x))
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
              "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
              "xmm23");
        // clang-format on
        x += 2 * sizeof(TileBlock);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

#undef SINAN_Q8_START
#undef SINAN_Q8_TOKEN
#undef SINAN_Q8_GROUP
#undef SINAN_Q8_SCALE
#undef SINAN_Q8_ADD_BLOCK

// The same for one token (decoding) from its tight summaries and its quants (tb; xq, 32 bytes a
// block), not from a tile: a tile's block spreads one token's 32 quants over four cache lines
// (320 bytes a block, 90 KB for 8960 columns: more than L1), where xq holds them in half of one.
// Weights and scales are read in order, with kReadAhead each block's quants fetched ahead
// (panel::read_ahead), else left to the hardware prefetcher (on the family 25 host, with
// panel::stream_ahead on both, one-token steps of the Q8_0 model took ~5% longer, alternated in
// one process; bench/NOTES.md).
template <bool kReadAhead>
void packed_panel_times_token(PanelView panel, int64_t n_blocks, const TokenBlock* tb, const int8_t* xq, float* y,
                              __mmask16 valid) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        __m512i isum = _mm512_set1_epi32(tb[b].neg128_sum);
        const __m512i* q = panel.q(b);
        if constexpr (kReadAhead) panel::read_ahead<kPanelQBytes / 64>(q);
#pragma GCC unroll 8
        for (int g = 0; g < kQK / 4; ++g)
            isum = panel::dpbusd_broadcast(isum, _mm512_loadu_si512(q + g), xq + kQK * b + 4 * g);
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel.d(b))));
        const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(tb[b].d));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), scale));
    }
    _mm512_mask_storeu_ps(y, valid, acc);
}

// The same for a panel read straight from the rows, each block transposed in registers and used at
// once: for batches of 2 to 8 tokens, where a packed panel would be read only once.
template <int T>
void rows_times_tokens(const BlockQ8_0* const* rows, __m512i row_offsets, int64_t n_blocks, const TileBlock* x,
                       const NextPanelPrefetch& prefetch, float* y, int64_t y_stride, __mmask16 valid) {
    // One block at a time: two would need 16 panel vectors and 16 sums live next to the results,
    // more than the 32 registers (the spills cost 8-10%; bench/NOTES.md).
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch.at_step(b);
        __m512i q[kQK / 4];
        const __m512 d[1] = {_mm512_cvtph_ps(pack_block(rows, row_offsets, b, q))};
        const __m512i* qs[1] = {q};
        accumulate_blocks<T, 1>(qs, d, x + b, acc);
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, valid, acc[t]);
}

// y[r] for the `valid` rows of a panel read straight from the rows, against one token: per block,
// register k holds block b of rows k and k + 8 (low and high 256 bits, plus 128); one vpdpbusd
// with the token's block in both halves gives 8 partial sums per row, and three levels of
// unpack/shuffle and add (pairs of registers, then pairs of those, then 128-bit lanes) leave each
// row's exact block sum in one lane (128-bit lanes: rows 0-3, 8-11, 4-7, 12-15; lane_offsets: the
// rows' byte offsets from rows[0] in that order), where the reference's float operations follow.
void rows_times_token(const BlockQ8_0* const* rows, __m512i lane_offsets, int64_t n_blocks, const TokenBlock* tb,
                      const int8_t* xq_row, const NextPanelPrefetch& prefetch, float* y, __mmask16 valid) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch.at_step(b);
        const __m512i xq =
            _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq_row + kQK * b)));
        __m512i p[8];
        for (int k = 0; k < 8; ++k) {
            const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k][b].qs));
            const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k + 8][b].qs));
            const __m512i w = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
            p[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, xq);
        }
        // Per 128-bit lane, a[k] holds rows 2k and 2k + 1 (or + 8) twice, 4 partials added into 2.
        __m512i a[4];
        for (int k = 0; k < 4; ++k)
            a[k] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * k], p[2 * k + 1]),
                                    _mm512_unpackhi_epi32(p[2 * k], p[2 * k + 1]));
        // c0: rows 0-3 in 128-bit lanes 0 and 1 (half of each row's sum in each), rows 8-11 in 2 and 3;
        // c1: the same for rows 4-7 and 12-15.
        const __m512i c0 = _mm512_add_epi32(_mm512_unpacklo_epi64(a[0], a[1]), _mm512_unpackhi_epi64(a[0], a[1]));
        const __m512i c1 = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2], a[3]), _mm512_unpackhi_epi64(a[2], a[3]));
        const __m512i sums = _mm512_add_epi32(_mm512_shuffle_i64x2(c0, c1, _MM_SHUFFLE(2, 0, 2, 0)),
                                              _mm512_shuffle_i64x2(c0, c1, _MM_SHUFFLE(3, 1, 3, 1)));
        const __m512i isum = _mm512_add_epi32(sums, _mm512_set1_epi32(tb[b].neg128_sum));
        // The scales: 4 bytes gathered at each lane's row (d and two quants), the low half kept.
        const __m512i d32 = _mm512_i32gather_epi32(lane_offsets, rows[0] + b, 1);
        const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(d32)), _mm512_set1_ps(tb[b].d));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), scale));
    }
    // Lanes back in row order: 128-bit lanes 1 and 2 swap.
    _mm512_mask_storeu_ps(y, valid, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(3, 1, 2, 0)));
}

}  // namespace

namespace {

// Tokens [first, end)'s block scales and sums, and their quants interleaved with their tiles'
// other tokens (tile k's block b: tiles[k * n_blocks + b]).
void summarize_tokens(const void* x, size_t x_row_bytes, int64_t first, int64_t end, int64_t n_blocks,
                      TileBlock* tiles) {
    const auto* xs = static_cast<const uint8_t*>(x);
    for (int64_t t = first; t < end; ++t) {
        const auto* xb = reinterpret_cast<const BlockQ8_0*>(xs + t * x_row_bytes);
        TileBlock* tile = tiles + (t / kTokenTile) * n_blocks;
        const int64_t slot = t % kTokenTile;
        for (int64_t b = 0; b < n_blocks; ++b) {
            tile[b].d[slot] = _cvtsh_ss(xb[b].d);
            tile[b].neg128_sum[slot] = -128 * panel::block_quant_sum(xb[b].qs);
            alignas(32) int32_t groups[kQK / 4];
            __builtin_memcpy(groups, xb[b].qs, sizeof(groups));
            for (int g = 0; g < kQK / 4; ++g) tile[b].q[g][slot] = groups[g];
        }
    }
}

int64_t n_tiles_of(int64_t n_tokens) { return (n_tokens + kTokenTile - 1) / kTokenTile; }

// Zeros the last tile's slots past token n_tokens - 1: the pairs (pairs_times_two_blocks) compute
// an odd count's last partner and drop its results, on zeros rather than on whatever the memory
// held.
void clear_slots_past(int64_t n_tokens, int64_t n_blocks, TileBlock* tiles) {
    const int64_t used = n_tokens % kTokenTile;
    if (used == 0) return;
    TileBlock* tile = tiles + (n_tokens / kTokenTile) * n_blocks;
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (int64_t slot = used; slot < kTokenTile; ++slot) {
            for (int g = 0; g < kQK / 4; ++g) tile[b].q[g][slot] = 0;
            tile[b].d[slot] = 0.0f;
            tile[b].neg128_sum[slot] = 0;
        }
    }
}

// The tokens as prepare_q8_0 lays them out, as byte offsets: the tiles from 0, then for one token
// (decoding: rows_times_token, packed_panel_times_token) its tight summaries, then from a 64-byte
// boundary its quants, 32 bytes a block: in the row as it was, 34 bytes a block (scale first), a
// block's 4-byte broadcasts crossed cache lines and its quants were spread over two lines. With
// them aligned, one token against the FFN down matrix's 8,960-value rows read 0.98-1.00 of what
// the 1,536-value rows do in fast memory spells instead of 0.93-0.96 (bench_row_lengths --type
// q8_0, bench/NOTES.md, 2026-12-06 21:20). `bytes` in all.
struct PreparedLayout {
    PreparedLayout(int64_t n_tokens, int64_t n_blocks)
        : token_blocks(static_cast<size_t>(n_tiles_of(n_tokens) * n_blocks) * sizeof(TileBlock)),
          row((token_blocks + static_cast<size_t>(n_blocks) * sizeof(TokenBlock) + 63) / 64 * 64),
          bytes(n_tokens == 1 ? row + static_cast<size_t>(n_blocks) * kQK : token_blocks) {}
    size_t token_blocks, row, bytes;
};

// Every tile of tokens against one packed panel (y: the panel's first row of token 0);
// kReadAhead: packed_panel_times_tokens'.
template <bool kReadAhead = false>
void panel_times_tiles(PanelView panel, int64_t n_blocks, const TileBlock* tiles, int64_t n_tokens,
                       const NextPanelPrefetch* prefetch, float* y, int64_t y_stride, __mmask16 valid) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
        const int n_t = static_cast<int>(n_tokens - t0 < kTokenTile ? n_tokens - t0 : kTokenTile);
        with_count<kTokenTile>(n_t, [&](auto T) {
            packed_panel_times_tokens<T, kReadAhead>(panel, n_blocks, tiles + (t0 / kTokenTile) * n_blocks, prefetch,
                                                     (t0 / kTokenTile) * n_blocks, y + t0 * y_stride, y_stride, valid);
        });
    }
}

// Blocks per pass of panel_pairs_times_tiles: a pair of panels' 16 blocks (17 KB) stay in L1 while
// every tile of tokens meets them. In one pass over all the blocks (48 of them: 52 KB) each tile's
// second 4 tokens met them in L2, and the pair ran 4.2 G vpdpbusd/s, against 4.7 in passes of 16
// blocks and 5.1 all in L1 (an out-of-tree harness around this file, bench/NOTES.md).
constexpr int64_t kPairPassBlocks = 16;
static_assert(kPairPassBlocks % Layout::kRunBlocks == 0, "a pass takes whole runs: one run of lines to fetch");

// The rows of a packed matrix that lie in pairs of panels (a last, single panel is left to the
// caller; returns the rows done) against the tokens: pair after pair, the full tiles of tokens in
// passes of kPairPassBlocks blocks that every tile meets, 4 tokens at a time
// (panel_pair_times_4_tokens), while the pair's next pass (or the next pair's first) is fetched
// into L2. Each result is kept in y between passes (stored and reloaded: the same bits); a pair's
// results stay in cache from one pass to the next, where all pairs taking one pass after another
// (the tokens' blocks of a pass kept in L2 instead) made pp128 12-17% slower (bench/NOTES.md).
// n_blocks even.
int64_t panel_pairs_times_tiles(const uint8_t* ws, size_t w_row_bytes, int64_t n_rows, int64_t n_blocks,
                                const TileBlock* tiles, int64_t n_tokens, float* y, int64_t y_stride) {
    const int64_t n_tiles = n_tokens / kTokenTile, n_rest = n_tokens - n_tiles * kTokenTile;
    const int64_t n_pairs = (n_rows + kPanelRows - 1) / kPanelRows / 2;
    const int64_t n_steps = n_tiles * (kTokenTile / 4);
    auto pass_blocks = [&](int64_t b0) { return n_blocks - b0 < kPairPassBlocks ? n_blocks - b0 : kPairPassBlocks; };
    // Panel k (0, 1) of pair i, from block b0.
    auto panel_at = [&](int64_t i, int k) {
        return panel_view(ws + (2 * i + k) * kPanelRows * static_cast<int64_t>(w_row_bytes), n_blocks);
    };
    for (int64_t i = 0; i < n_pairs; ++i) {
        const int64_t rows1 = n_rows - (2 * i + 1) * kPanelRows;  // real rows in the second panel
        const auto valid1 = static_cast<__mmask16>((1u << (rows1 < kPanelRows ? rows1 : kPanelRows)) - 1);
        for (int64_t b0 = 0; b0 < n_blocks; b0 += kPairPassBlocks) {
            const int64_t n_pass = pass_blocks(b0);
            const PanelView p0 = panel_at(i, 0), p1 = panel_at(i, 1);
            // What to fetch meanwhile: the pair's next pass, or the next pair's first; a share of
            // its lines at each step (a tile's 4 tokens).
            const bool last_pass = b0 + n_pass == n_blocks;
            const bool fetch = !last_pass || i + 1 < n_pairs;
            const int64_t next_i = last_pass && fetch ? i + 1 : i, next_b0 = last_pass ? 0 : b0 + n_pass;
            // A pass starts a run, so its scales and quants are one run of lines.
            const size_t next_run = Layout::run_offset(next_b0);
            const char* next[2] = {reinterpret_cast<const char*>(panel_at(next_i, 0).start + next_run),
                                   reinterpret_cast<const char*>(panel_at(next_i, 1).start + next_run)};
            const int64_t next_lines = (pass_blocks(next_b0) * static_cast<int64_t>(Layout::kBlockBytes) + 63) / 64;
            const int64_t lines_per_step = (next_lines + n_steps - 1) / n_steps;
            int64_t step = 0;
            for (int64_t k = 0; k < n_tiles; ++k) {
                for (int64_t half = 0; half < kTokenTile / 4; ++half, ++step) {
                    for (const char* q : next) {
                        if (!fetch) break;
                        const int64_t l1 =
                            (step + 1) * lines_per_step < next_lines ? (step + 1) * lines_per_step : next_lines;
                        for (int64_t l = step * lines_per_step; l < l1; ++l) _mm_prefetch(q + 64 * l, _MM_HINT_T1);
                    }
                    float* yt = y + (k * kTokenTile + 4 * half) * y_stride + 2 * i * kPanelRows;
                    __m512 acc[8];
                    for (int t = 0; t < 4; ++t) {
                        acc[t] = b0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(yt + t * y_stride);
                        acc[4 + t] = b0 == 0 ? _mm512_setzero_ps()
                                             : _mm512_maskz_loadu_ps(valid1, yt + t * y_stride + kPanelRows);
                    }
                    panel_pair_times_4_tokens(p0, p1, b0,
                                              reinterpret_cast<const uint8_t*>(tiles + k * n_blocks + b0) + 16 * half,
                                              n_pass / 2, acc);
                    for (int t = 0; t < 4; ++t) {
                        _mm512_storeu_ps(yt + t * y_stride, acc[t]);
                        _mm512_mask_storeu_ps(yt + t * y_stride + kPanelRows, valid1, acc[4 + t]);
                    }
                }
            }
        }
        // The last tile's other tokens, while the pair's weights are still in cache (prefetch
        // null: they stream ahead as one tile's do, the lines already there).
        for (int k = 0; k < 2 && n_rest > 0; ++k)
            panel_times_tiles(panel_at(i, k), n_blocks, tiles + n_tiles * n_blocks, n_rest, nullptr,
                              y + n_tiles * kTokenTile * y_stride + (2 * i + k) * kPanelRows, y_stride,
                              k == 0 ? static_cast<__mmask16>(0xffff) : valid1);
    }
    const int64_t rows = n_pairs * 2 * kPanelRows;
    return rows < n_rows ? rows : n_rows;
}

// The panel of raw rows from row r0 (of n_rows): pointers to its 16 rows (rows past the end
// repeat the last one), their byte offsets from the first, and a mask of the real ones.
struct PanelRows {
    PanelRows(const uint8_t* w, size_t w_row_bytes, int64_t r0, int64_t n_rows) {
        const int n_valid = static_cast<int>(n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows);
        alignas(64) int32_t o[kPanelRows];
        for (int k = 0; k < kPanelRows; ++k) {
            o[k] = static_cast<int32_t>((k < n_valid ? k : n_valid - 1) * w_row_bytes);
            rows[k] = reinterpret_cast<const BlockQ8_0*>(w + r0 * w_row_bytes + o[k]);
        }
        offsets = _mm512_load_si512(o);
        valid = static_cast<__mmask16>((1u << n_valid) - 1);
    }
    const BlockQ8_0* rows[kPanelRows];
    __m512i offsets;
    __mmask16 valid;
};

}  // namespace

size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols) { return PreparedLayout(n_tokens, n_cols / kQK).bytes; }

void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out) {
    const int64_t n_blocks = n_cols / kQK;
    auto* tiles = static_cast<TileBlock*>(out);
    summarize_tokens(x, x_row_bytes, first, end, n_blocks, tiles);
    if (end == n_tokens) clear_slots_past(n_tokens, n_blocks, tiles);
    if (n_tokens != 1 || first != 0 || end != 1) return;  // one token: its extras, from the call that has it
    const PreparedLayout layout(n_tokens, n_blocks);
    auto* token_blocks = reinterpret_cast<TokenBlock*>(static_cast<uint8_t*>(out) + layout.token_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) token_blocks[b] = {tiles[b].d[0], tiles[b].neg128_sum[0]};
    const auto* xb = static_cast<const BlockQ8_0*>(x);
    for (int64_t b = 0; b < n_blocks; ++b)
        __builtin_memcpy(static_cast<uint8_t*>(out) + layout.row + b * kQK, xb[b].qs, kQK);
}

size_t gemm_q8_0_scratch_bytes(int64_t /*n_tokens*/, int64_t n_cols) {
    return static_cast<size_t>(n_cols / kQK) * (kPanelQBytes + kPanelRows * sizeof(uint16_t));
}

void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    const int64_t n_blocks = n_cols / kQK;
    void* panel = scratch;  // for 9+ tokens: the current panel, packed
    const auto* tiles = static_cast<const TileBlock*>(x);
    const PreparedLayout layout(n_tokens, n_blocks);
    const auto* ws = static_cast<const uint8_t*>(w);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const PanelRows p(ws, w_row_bytes, r0, n_rows);
        const BlockQ8_0* const* rows = p.rows;
        const __m512i row_offsets = p.offsets;
        const __mmask16 valid = p.valid;
        const int64_t n_tiles = n_tokens <= kTokenTile ? 1 : n_tiles_of(n_tokens);
        const NextPanelPrefetch prefetch(rows[0], panel::kRows * w_row_bytes, n_tiles * n_blocks);
        if (n_tokens == 1) {
            // Row offsets in rows_times_token's lane order: 128-bit lanes 1 and 2 swapped.
            const __m512i lane_offsets = _mm512_shuffle_i32x4(row_offsets, row_offsets, _MM_SHUFFLE(3, 1, 2, 0));
            rows_times_token(rows, lane_offsets, n_blocks,
                             reinterpret_cast<const TokenBlock*>(static_cast<const uint8_t*>(x) + layout.token_blocks),
                             reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(x) + layout.row), prefetch,
                             y + r0, valid);
            continue;
        }
        if (n_tokens <= kTokenTile) {
            with_count<kTokenTile>(static_cast<int>(n_tokens), [&](auto T) {
                if constexpr (T > 1)
                    rows_times_tokens<T>(rows, row_offsets, n_blocks, tiles, prefetch, y + r0, y_stride, valid);
            });
            continue;
        }
        pack_panel(rows, row_offsets, n_blocks, panel);
        panel_times_tiles(panel_view(panel, n_blocks), n_blocks, tiles, n_tokens, &prefetch, y + r0, y_stride, valid);
    }
}

void pack_q8_0_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQK;
    const auto* ws = static_cast<const uint8_t*>(w);
    auto* os = static_cast<uint8_t*>(out);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const PanelRows p(ws, w_row_bytes, r0, n_rows);
        pack_panel(p.rows, p.offsets, n_blocks, os + r0 * w_row_bytes);
    }
}

size_t gemm_q8_0_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

namespace {

template <bool kReadAhead>
void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, int64_t n_tokens, int64_t n_cols,
                    float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQK;
    const auto* tiles = static_cast<const TileBlock*>(x);
    const auto* ws = static_cast<const uint8_t*>(w);
    const PreparedLayout layout(n_tokens, n_blocks);
    // Prompts: two panels at a time (n_blocks even: the kernel takes two blocks at once), a last
    // single panel as below.
    const int64_t paired_rows =
        n_tokens > kTokenTile && n_blocks % 2 == 0
            ? panel_pairs_times_tiles(ws, w_row_bytes, n_rows, n_blocks, tiles, n_tokens, y, y_stride)
            : 0;
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const int n_valid = static_cast<int>(n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows);
        const uint8_t* panel = ws + r0 * w_row_bytes;
        if (n_tokens == 1) {
            packed_panel_times_token<kReadAhead>(
                panel_view(panel, n_blocks), n_blocks,
                reinterpret_cast<const TokenBlock*>(static_cast<const uint8_t*>(x) + layout.token_blocks),
                reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(x) + layout.row), y + r0,
                static_cast<__mmask16>((1u << n_valid) - 1));
            continue;
        }
        if (r0 < paired_rows) continue;  // done above
        const auto valid = static_cast<__mmask16>((1u << n_valid) - 1);
        if (n_tokens <= kTokenTile) {  // decoding 2 to 8 sequences: the weights read once, streamed
            panel_times_tiles<kReadAhead>(panel_view(panel, n_blocks), n_blocks, tiles, n_tokens, nullptr, y + r0,
                                          y_stride, valid);
            continue;
        }
        const NextPanelPrefetch prefetch(panel, panel::kRows * w_row_bytes, n_tiles_of(n_tokens) * n_blocks);
        panel_times_tiles(panel_view(panel, n_blocks), n_blocks, tiles, n_tokens, &prefetch, y + r0, y_stride, valid);
    }
}

}  // namespace

void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    packed_product<false>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                 size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                 void* /*scratch*/) {
    packed_product<true>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx512
