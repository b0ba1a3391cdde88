// What the AVX-512 panel matrix kernels share: a panel is 16 weight rows whose quants are
// transposed so that int32 lane r of a vector belongs to row r (the transpose: gemm.cpp's Q8_0,
// gemm_q4_k.cpp, gemm_q6_k.cpp), a driver that packs each panel once and runs it against tiles of
// tokens (Q4_K, Q6_K), the K-quant kernels' tokens prepared once per product (PreparedTokens), the
// prefetch of the next panel for kernels that read a matrix once, and settle, the point where a
// tile's sums exist (keeps GCC from spilling the chains behind them).
// Included only by sources compiled with the AVX-512 flags (src/kernels/CMakeLists.txt): every
// function here is static, so no copy of it leaves its translation unit (see half.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/unrolled.h"
#include "kernels/blocks.h"
#include "kernels/panel_rows.h"

namespace sinan::kernels::avx512::panel {

using panel_rows::kRows;  // one int32 lane per row

// An 8x8 transpose of 4-byte groups in each 256-bit half: r[k] holds eight groups of row k in
// its low half and of row k + 8 in its high half; out[j] gets group j of the 16 rows (lane r:
// row r).
static inline void transpose_groups(const __m512i* r, __m512i* out) {
    const __m512i idx_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i idx_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    __m512i t[8], u[8];
    for (int k = 0; k < 4; ++k) {
        t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {
        u[4 * k + 0] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
        u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
    }
    // u[j] (j < 4) holds groups j and j + 4 of rows 0-3 (128-bit lanes 0, 1) and 8-11 (lanes 2, 3);
    // u[j + 4] the same for rows 4-7 and 12-15.
    for (int j = 0; j < 4; ++j) {
        out[j] = _mm512_permutex2var_epi64(u[j], idx_lo, u[j + 4]);
        out[j + 4] = _mm512_permutex2var_epi64(u[j], idx_hi, u[j + 4]);
    }
}

// 32 bytes of each of 16 rows (bytes_of(k): row k's) transposed in 4-byte words: out[j], lane r =
// word j of row r. out: 8 vectors, of any alignment.
template <typename BytesOf>
static void transpose_rows(BytesOf bytes_of, __m512i_u* out) {
    __m512i r[8], t[8];  // r[k]: row k in the low half, row k + 8 in the high
    for (int k = 0; k < 8; ++k)
        r[k] = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes_of(k)))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes_of(k + 8))), 1);
    transpose_groups(r, t);
    for (int j = 0; j < 8; ++j) _mm512_storeu_si512(&out[j], t[j]);
}

namespace {  // a class, not a function: the unnamed namespace keeps it in its translation unit

// The next panel of a matrix, for two tokens or more (one token, and Q8_0's batches of up to 8:
// stream_ahead below), fetched into L2 as one sequential run spread over the steps of the work on
// the current one (its blocks, times its token tiles where it is packed): at step s, its lines
// [s * lines, (s + 1) * lines). The 16 rows after the current panel, also past the caller's last
// row: a prefetch never faults, and the rows after a call's are usually its thread's next chunk
// (ThreadPool::parallel_chunks). Stopped at the call's last row, the first panel of every chunk was
// read without it, and with 8 chunks a thread 8 Q4_K_M sequences decoded ~6% slower
// (bench/NOTES.md). One run is what the hardware streams best; 16 row streams each prefetched
// ahead into L1 keep too few lines in flight.
class NextPanelPrefetch {
  public:
    // The `bytes` after the `bytes` from `current` (a panel: 16 rows' bytes; a unit of a sliced
    // layout, panel_slices.h: its blocks' bytes, the next unit's being as many or nearly).
    NextPanelPrefetch(const void* current, size_t bytes, int64_t n_steps)
        : next_(static_cast<const char*>(current) + bytes),
          end_(next_ + static_cast<int64_t>(bytes)),
          step_bytes_((static_cast<int64_t>(bytes) / 64 + n_steps - 1) / n_steps * 64) {}

    void at_step(int64_t s) const {
        // Locals: GCC reloads members after every prefetch (it counts one as a memory access); with
        // those loads and two bounds a line took ~9 instructions and the one-token kernel read 58
        // GB/s from cache instead of 72 (bench_kernels' in_cache/decode, bench/NOTES.md).
        const char* p = next_ + s * step_bytes_;
        const char* const end = p + step_bytes_ < end_ ? p + step_bytes_ : end_;
        for (; p < end; p += 64) _mm_prefetch(p, _MM_HINT_T1);
    }

  private:
    const char* next_;    // the next panel
    const char* end_;     // its end
    int64_t step_bytes_;  // bytes per step, whole lines
};

}  // namespace

// Lines consecutive cache lines from Ahead bytes past p on, fetched with the prefetch hint Hint.
template <int Lines, int64_t Ahead, int Hint>
static inline void fetch_ahead(const void* p) {
    const char* ahead = static_cast<const char*>(p) + Ahead;
#pragma GCC unroll 64
    for (int k = 0; k < Lines; ++k) _mm_prefetch(ahead + 64 * k, static_cast<_mm_hint>(Hint));
}

// Decoding reads each weight once, in order: Q8_0's kernel for 2 to 8 tokens fetches the lines
// kStreamAhead bytes ahead of its reading position into L2, past the panel and the caller's rows
// (a prefetch never faults, and the rows after a chunk are usually the thread's next chunk).
// Decode steps of 2, 4 and 8 Q8_0 sequences, alternated in one process on the family 25 host:
// 28-40% less time than with 8 KiB ahead into L1 (which had been 15-32% faster than the next panel
// into L2 on another host); 16 KiB ahead nearly as fast, 64 and 128 KiB the same (bench/NOTES.md,
// 2026-12-03). On the family 26 host its read-ahead form fetches 8 KiB ahead into L1 instead
// (read_ahead below; gemm.cpp has the figures). The one-token kernels read their blocks in order,
// left to the hardware's streams or with read_ahead below.
constexpr int64_t kStreamAhead = 32768;
template <int Lines>
static inline void stream_ahead(const void* p) {
    fetch_ahead<Lines, kStreamAhead, _MM_HINT_T1>(p);
}

// The decoding packed kernels' read-ahead (GemmKernel::run_packed_read_ahead, on where kernels.h's
// decode_read_ahead says; one token): every line of the block at p fetched kReadAhead bytes ahead
// into L1. Q8_0's 2 to 8 tokens fetch as far ahead inside their asm (gemm.cpp, pairs_times_two_blocks).
// On the AMD family 26 (Zen 5) host, from memory on 2 threads, Q4_K 40 -> 60-67 and Q6_K 29-38 ->
// 48-60 GB/s (4 KiB ahead about the same, 16 KiB and into L2 a little less; Q8_0's 1536 x 8960
// product the same either way, its model 7-13% faster); on the family 25 (Zen 4) host the same
// kernels ran 5-18% slower with such prefetches, which take load slots they are bound by there
// (bench/NOTES.md, 2026-12-03 and 2026-12-04).
constexpr int64_t kReadAhead = panel_rows::kReadAheadBytes;
template <int Lines>
static inline void read_ahead(const void* p) {
    fetch_ahead<Lines, kReadAhead, _MM_HINT_T0>(p);
}
// read_ahead of a block of Lines lines in Parts parts, part `part` (lines part * Lines / Parts on),
// kReadAhead bytes ahead: for a kernel that meets a large block in Parts steps, a part at each. The Q6_K
// block (52 lines) fetched whole at each block's start kept the Q4_K_M model's one-token steps at
// ~83% of the read limit on the family 26 host; in four parts, one before each quarter of the
// block's work, 87-88% (bench/NOTES.md, 2026-12-07; Q4_K's 36 lines went 73-80% -> 84% so, and
// Q4_K now fetches its next unit into L2 instead: gemm_q4_k.cpp).
template <int Lines, int Parts>
static inline void read_ahead_part(const void* block, int part) {
    static_assert(Lines % Parts == 0, "whole lines per part");
    constexpr int kPart = Lines / Parts;
    fetch_ahead<kPart, kReadAhead, _MM_HINT_T0>(static_cast<const char*>(block) + 64 * kPart * part);
}

// The sum of a Q8_0 block's 32 signed quants, exact: the Q8_0 kernels multiply w + 128 and take
// back 128 times it.
static inline int32_t block_quant_sum(const int8_t* q) {
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1),
                                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    const __m128i s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, _MM_SHUFFLE(2, 3, 0, 1))));
}

// acc + vpdpbusd(q, the 4 bytes at x broadcast to every lane), the broadcast inside the instruction
// (a {1to16} memory operand). From _mm512_set1_epi32 GCC 12 emits a vpbroadcastd before each
// vpdpbusd, which beside the block steps' float operations slows them: with the broadcast inside,
// 128-token products of Q8_0 and Q4_K took 4-17% less time (bench/NOTES.md, 2026-11-30 16:10 UTC).
static inline __m512i dpbusd_broadcast(__m512i acc, __m512i q, const void* x) {
    using Word = int32_t __attribute__((may_alias));  // x may point into bytes of any type
    asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(q), "m"(*static_cast<const Word*>(x)));
    return acc;
}

// Makes the T sums in isum exist here, in registers: a point GCC cannot move their arithmetic
// past. Called after each group (or set of groups) of a block is scaled into the sums: left to
// itself, GCC postponed the groups' vpmulld to the end of the block and kept every group's vpdpbusd
// chain alive until then (gemm_q6_k_packed 551 stack accesses, 323 with it), and the core, which
// loads about two vectors a cycle (one per vpdpbusd with a broadcast operand; bench_kernels'
// VnniLoop), waited on the spills: Q6_K's 8 tokens 1.2x faster from memory with it, Q4_K_M's 8
// sequences 1.1x (bench/NOTES.md, 2026-12-02).
template <int T>
static inline void settle(__m512i* isum) {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) asm volatile("" : "+v"(isum[t]));
}

// For T tokens at once, the int32 sums over G groups of 4 * N values of a block:
//   isum[t] = sum_g scale[g] * (start(t, g) + sum_j q_g[j] * x_t[4 * N * g + j])
// q[g][k] holds bytes 4k..4k+3 of group g of each row (unsigned; lane r: row r), xq[t] token t's
// signed values, scale[g] the rows' int32 group scales. vpdpbusd and vpmulld: exact int32.
template <int T, int G, int N, typename Start>
static inline void scaled_group_sums(const __m512i (*q)[N], const __m512i* scale, const int8_t* const* xq, Start start,
                                     __m512i* isum) {
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int g = 0; g < G; ++g) {
        // The tokens' chains interleaved: T independent vpdpbusd chains, not one after another.
        __m512i gsum[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) gsum[t] = start(t, g);
#pragma GCC unroll 8
        for (int k = 0; k < N; ++k) {
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                gsum[t] = dpbusd_broadcast(gsum[t], q[g][k], xq[t] + 4 * (N * g + k));
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(gsum[t], scale[g]));
    }
}

// The tokens of a packed K-quant product (Q4_K, Q6_K) as the kernel's GemmKernel::prepare lays
// them out, once per product: each token's block summaries (Summary: what the kernel needs of an
// activation block besides its quants; n_blocks a token), then each token's Q8_K row as it was.
// Each call a product is split into (for one token, one panel a call in the smaller matrices) then
// reads them, where it had summarised every block of its tokens again: against the FFN down
// matrix's 8,960-value rows (35 blocks a panel) one token's Q4_K product read 44 GB/s in a fast
// memory spell with that, 47-50 without (the 1536-value rows 55-59; `bench_row_lengths`,
// bench/NOTES.md).
template <typename Summary>
struct PreparedTokens {
    PreparedTokens(int64_t n_tokens, int64_t n_cols)
        : n_blocks(n_cols / kQKK),
          row_bytes(static_cast<size_t>(n_blocks) * sizeof(BlockQ8_K)),
          rows((static_cast<size_t>(n_tokens * n_blocks) * sizeof(Summary) + 63) / 64 * 64),
          bytes(rows + static_cast<size_t>(n_tokens) * row_bytes) {}
    int64_t n_blocks;
    size_t row_bytes;  // a token's Q8_K row
    size_t rows;       // offset of the rows, after the summaries (token t's block b: [t * n_blocks + b])
    size_t bytes;      // in all
};

// Tokens [first, end) of x (Q8_K rows, x_row_bytes apart) into out, as PreparedTokens<Summary>
// lays them out for n_tokens tokens of n_cols values; kSummarize summarises a block.
template <typename Summary, void (*kSummarize)(const BlockQ8_K&, Summary*)>
static void prepare_tokens(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first,
                           int64_t end, void* out) {
    const PreparedTokens<Summary> layout(n_tokens, n_cols);
    auto* summaries = static_cast<Summary*>(out);
    auto* rows = static_cast<uint8_t*>(out) + layout.rows;
    for (int64_t t = first; t < end; ++t) {
        const auto* xb = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + t * x_row_bytes);
        for (int64_t b = 0; b < layout.n_blocks; ++b) kSummarize(xb[b], &summaries[t * layout.n_blocks + b]);
        __builtin_memcpy(rows + t * layout.row_bytes, xb, layout.row_bytes);
    }
}

// The matrix product of a kernel K over any number of tokens, for batches of at least K::kTile
// tokens. K provides:
//   Panel, TokenBlock                    one block of a packed panel; one token's block summary
//   kBlockValues, kTile                  values per block; tokens per pass over a panel
//   pack(rows, b, Panel*)                block b of 16 rows (row pointers; the last repeated)
//   summarize(x_block, TokenBlock*)      what the token needs of its activation block
//   accumulate<T>(panel_block, tb, xb, acc)  acc[t] += block's contribution to token t's lanes
//                                        (tb[t], xb[t]: token t's summary and activations of the block)
// scratch: scratch_bytes(n_tokens, n_cols) bytes, 64-byte aligned.
template <typename K>
static size_t scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    const auto n_blocks = static_cast<size_t>(n_cols / K::kBlockValues);
    return n_blocks * sizeof(typename K::Panel) +
           static_cast<size_t>(n_tokens) * n_blocks * sizeof(typename K::TokenBlock);
}

// y[t * y_stride + r] for the `valid` rows of a panel and T tokens (tb[t], xb[t]: token t's block
// summaries and activation blocks) over blocks [b0, b1): add_block(b, tbb, xbb, acc) adds block b's
// contribution, given the tokens' summaries and activations of that block, to acc[t], block after
// block, from 0, or from the sums in y where b0 > 0 (the panel's earlier slices left them there:
// panel_slices.h).
template <int T, typename Summary, typename XBlock, typename AddBlock>
static void tokens_over_blocks(int64_t b0, int64_t b1, const Summary* const* tb, const XBlock* const* xb, float* y,
                               int64_t y_stride, __mmask16 valid, AddBlock add_block) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = b0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(valid, y + t * y_stride);
    const Summary* tbb[T];
    const XBlock* xbb[T];
    for (int64_t b = b0; b < b1; ++b) {
        for (int t = 0; t < T; ++t) {
            tbb[t] = tb[t] + b;
            xbb[t] = xb[t] + b;
        }
        add_block(b, tbb, xbb, acc);
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, valid, acc[t]);
}

// The same for blocks [b0, b1) of a panel packed by K::pack (into scratch, per call; block b at
// panel[b - b0]).
template <typename K, int T>
static void run_tokens(const typename K::Panel* panel, int64_t b0, int64_t b1, const typename K::TokenBlock* const* tb,
                       const typename K::XBlock* const* xb, float* y, int64_t y_stride, __mmask16 valid) {
    tokens_over_blocks<T>(b0, b1, tb, xb, y, y_stride, valid, [&](int64_t b, auto tbb, auto xbb, __m512* acc) {
        K::template accumulate<T>(panel[b - b0], tbb, xbb, acc);
    });
}

// Tokens t0 .. t0 + n_t - 1 of a product as a tile: their block summaries (summaries: n_blocks per
// token) and activation rows (x_row_bytes apart from xs).
template <typename Summary, typename XBlock>
static void tile_pointers(int64_t t0, int n_t, const Summary* summaries, int64_t n_blocks, const uint8_t* xs,
                          size_t x_row_bytes, const Summary** tb, const XBlock** xb) {
    for (int k = 0; k < n_t; ++k) {
        tb[k] = summaries + (t0 + k) * n_blocks;
        xb[k] = reinterpret_cast<const XBlock*>(xs + (t0 + k) * x_row_bytes);
    }
}

template <typename K>
static void gemm(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
                 int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    using Panel = typename K::Panel;
    using TokenBlock = typename K::TokenBlock;
    using XBlock = typename K::XBlock;
    using WBlock = typename K::WBlock;
    const int64_t n_blocks = n_cols / K::kBlockValues;
    auto* packed = static_cast<Panel*>(scratch);
    auto* token_blocks = reinterpret_cast<TokenBlock*>(packed + n_blocks);
    const auto* xs = static_cast<const uint8_t*>(x);
    const auto* ws = static_cast<const uint8_t*>(w);
    // Each token's block summaries, once per call (a thread's share of the rows).
    for (int64_t t = 0; t < n_tokens; ++t) {
        const auto* xb = reinterpret_cast<const XBlock*>(xs + t * x_row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) K::summarize(xb[b], &token_blocks[t * n_blocks + b]);
    }
    const TokenBlock* tb[K::kTile];
    const XBlock* xb[K::kTile];
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
        const WBlock* rows[kRows];
        const int n_valid = panel_rows::rows_of(ws, w_row_bytes, r0, n_rows, rows);
        for (int64_t b = 0; b < n_blocks; ++b) K::pack(rows, b, packed + b);
        const auto valid = static_cast<__mmask16>((1u << n_valid) - 1);
        for (int64_t t0 = 0; t0 < n_tokens; t0 += K::kTile) {
            const int n_t = static_cast<int>(n_tokens - t0 < K::kTile ? n_tokens - t0 : K::kTile);
            tile_pointers(t0, n_t, token_blocks, n_blocks, xs, x_row_bytes, tb, xb);
            avx512::with_count<K::kTile>(n_t, [&](auto T) {
                run_tokens<K, T>(packed, 0, n_blocks, tb, xb, y + t0 * y_stride + r0, y_stride, valid);
            });
        }
    }
}

}  // namespace sinan::kernels::avx512::panel
