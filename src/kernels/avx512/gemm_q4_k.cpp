// AVX-512 VNNI matrix product for Q4_K weights and Q8_K activations (dispatch.h, GemmKernel), each
// result bit-identical to the level's single-row vec_dot_q4_k (and so to the scalar reference), so
// a token's logits do not depend on what else is in its batch.
//
// Rows in place (gemm_q4_k): batches of fewer than kMinGemmTokens tokens go row by row through
// vec_dot_q4_k_x4 / vec_dot_q4_k. Larger ones take the weights 16 rows at a
// time (a panel): each 256-value block of the 16 rows is unpacked once into scratch, its 4-bit
// quants transposed so that int32 lane r of a vector belongs to row r (8 vectors of 4 bytes per
// 32-value group), its six-bit group scales and mins spread the same way; then every token meets
// the panel. Per block and token, as the reference computes it:
//   group sum g   = sum_j q[j] * x[j]             eight vpdpbusd (quants 0..15, unsigned, times the
//                                                 signed activations: exact int32)
//   isum          = sum_g scale[g] * group sum g  (vpmulld, exact)
//   msum          = sum_g min[g] * (bsums[2g] + bsums[2g+1])   (vpmaddwd on int16 pairs, exact)
//   y            += x.d * d * float(isum) - x.d * dmin * float(msum)   (one lane per row, left to
//                                                                      right, no fused multiply-add)
//
// Packed weights (gemm_q4_k_packed): a model repacks its Q4_K matrices once, at load
// (pack_q4_k_panels), into panels of the same size as the rows, block b of 16 rows in 36 vectors
// (PackedBlock): the quants as they lie in the rows, 4 bytes a lane (lane r: row r), the packed
// six-bit scales and mins likewise, and d and dmin; rows of more than 2048 values in slices, the
// panels in groups of 4 (panel_slices.h: one token's slice of activations stays in L1 while the
// weights stream past). Every call, one token or many, runs them as they are, 4 tokens a pass,
// the tokens prepared once per product (prepare_q4_k, as GemmKernel::prepare: each block's
// TokenMins, then the Q8_K rows; the rows-in-place kernel takes the rows from there); per block
// and token:
//   low nibbles  (groups 2p): q & 0x0f, eight vpdpbusd per group
//   high nibbles (2p + 1):    q & 0xf0 (16 times the value), eight vpdpbusd; the group's scaled
//                             sum shifted right by 4 (exact: a multiple of 16)
//   scales, mins:             unpacked per lane with the masks of the scalar code (4 bytes a lane)
//   msum                      = sum_g m[g] * s_g with s_g = 128 a_g + b_g (b_g in 0..127): four
//                             vpdpbusd of the mins against a_g and b_g as bytes (exact)
//   y += x.d * d * float(isum) - x.d * dmin * float(msum)   (the reference's operations)
// Decoding reads the weights once, and a panel needs about a quarter of the row-wise dot product's
// instructions per weight byte (one core, weights in L2: 26 -> 61 GB/s; bench/NOTES.md).
// gemm_q4_k_packed_read_ahead is the same product with one token's weights fetched ahead as a
// batch's are (the next unit into L2, spread over the current one's blocks: panel::NextPanelPrefetch),
// for the processors that stream faster with it (kernels.h, decode_read_ahead);
// gemm_q4_k_packed_fetch_blocks fetches each block's lines ahead instead, into L1 and into L2
// (Intel's read-ahead form: dispatch.cpp).
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_slices.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int64_t kMinGemmTokens = 8;
constexpr int kGroups = kQKK / 32;

// The 6-bit scales and mins of a Q4_K block: sc[0..7], m[0..7] (the packing of
// docs/formats/quant-types.md undone as ref::get_scale_min_k4 does).
inline void scales_mins(const uint8_t* q, uint8_t* sc, uint8_t* m) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = static_cast<uint8_t>((q[j + 8] & 0x0f) | ((q[j] >> 6) << 4));
        m[j + 4] = static_cast<uint8_t>((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

// The kernel panel::gemm runs (see panel.h for the parts).
struct Q4K {
    using WBlock = BlockQ4_K;
    using XBlock = BlockQ8_K;
    static constexpr int64_t kBlockValues = kQKK;
    static constexpr int kTile = 4;  // 8 was no faster

    // One 256-value block of a panel.
    struct Panel {
        __m512i q[kGroups][8];          // q[g][k]: bytes 4k..4k+3 of group g of each row, values 0..15
        __m512i scale[kGroups];         // int32 lane r: row r's scale of group g
        __m512i min_pair[kGroups / 2];  // int32 lane r: row r's mins of groups 2k (low 16 bits) and 2k+1 (high)
        __m512 d, dmin;                 // float lane r: row r's block scales
    };

    // A token's block: its scale and, for each pair of groups (2k, 2k+1), the sums of their
    // values as int16 (low: group 2k, high: group 2k+1; each at most 32 * 128 in magnitude).
    struct TokenBlock {
        float d;
        int32_t group_sum_pair[kGroups / 2];
    };

    static void summarize(const BlockQ8_K& x, TokenBlock* out) {
        out->d = x.d;
        for (int k = 0; k < kGroups / 2; ++k) {
            const auto lo = static_cast<uint16_t>(x.bsums[4 * k] + x.bsums[4 * k + 1]);
            const auto hi = static_cast<uint16_t>(x.bsums[4 * k + 2] + x.bsums[4 * k + 3]);
            out->group_sum_pair[k] = static_cast<int32_t>(lo | (static_cast<uint32_t>(hi) << 16));
        }
    }

    static void pack(const BlockQ4_K* const* rows, int64_t b, Panel* out) {
        const __m512i low4 = _mm512_set1_epi8(0x0f);
        for (int pair = 0; pair < kGroups / 2; ++pair) {
            __m512i lo[8], hi[8];
            for (int k = 0; k < 8; ++k) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k][b].qs + 32 * pair));
                const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[k + 8][b].qs + 32 * pair));
                const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), c, 1);
                lo[k] = _mm512_and_si512(v, low4);
                hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            }
            panel::transpose_groups(lo, out->q[2 * pair]);
            panel::transpose_groups(hi, out->q[2 * pair + 1]);
        }
        alignas(64) int32_t scale[kGroups][panel::kRows], min_pair[kGroups / 2][panel::kRows];
        alignas(64) float d[panel::kRows], dmin[panel::kRows];
        for (int r = 0; r < panel::kRows; ++r) {
            const BlockQ4_K& blk = rows[r][b];
            uint8_t sc[kGroups], m[kGroups];
            scales_mins(blk.scales, sc, m);
            for (int g = 0; g < kGroups; ++g) scale[g][r] = sc[g];
            for (int k = 0; k < kGroups / 2; ++k) min_pair[k][r] = m[2 * k] | (m[2 * k + 1] << 16);
            d[r] = _cvtsh_ss(blk.d);
            dmin[r] = _cvtsh_ss(blk.dmin);
        }
        for (int g = 0; g < kGroups; ++g) out->scale[g] = _mm512_load_si512(scale[g]);
        for (int k = 0; k < kGroups / 2; ++k) out->min_pair[k] = _mm512_load_si512(min_pair[k]);
        out->d = _mm512_load_ps(d);
        out->dmin = _mm512_load_ps(dmin);
    }

    template <int T>
    static void accumulate(const Panel& p, const TokenBlock* const* tb, const BlockQ8_K* const* xb, __m512* acc) {
        const int8_t* xq[T];
        for (int t = 0; t < T; ++t) xq[t] = xb[t]->qs;
        __m512i isum[T];
        panel::scaled_group_sums<T, kGroups, 8>(
            p.q, p.scale, xq, [](int, int) { return _mm512_setzero_si512(); }, isum);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            const TokenBlock& x = *tb[t];
            __m512i msum = _mm512_madd_epi16(p.min_pair[0], _mm512_set1_epi32(x.group_sum_pair[0]));
            for (int k = 1; k < kGroups / 2; ++k)
                msum = _mm512_add_epi32(msum, _mm512_madd_epi16(p.min_pair[k], _mm512_set1_epi32(x.group_sum_pair[k])));
            const __m512 xd = _mm512_set1_ps(x.d);
            const __m512 a = _mm512_mul_ps(_mm512_mul_ps(xd, p.d), _mm512_cvtepi32_ps(isum[t]));
            const __m512 m = _mm512_mul_ps(_mm512_mul_ps(xd, p.dmin), _mm512_cvtepi32_ps(msum));
            acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(a, m));
        }
    }
};

// One block of 16 rows of a packed panel (16 * sizeof(BlockQ4_K) bytes): q[8p + k], int32 lane r =
// bytes 32p + 4k .. 32p + 4k + 3 of row r's quants (low nibbles: group 2p, high: group 2p + 1);
// scales[i], lane r = bytes 4i .. 4i + 3 of row r's packed scales and mins; d_dmin, lane r = row r's
// d (low 16 bits) and dmin (high).
// Unaligned vectors: panels lie where rows do (a multiple of 16 rows' bytes from the matrix start).
struct PackedBlock {
    __m512i_u q[kGroups / 2 * 8];  // 4 pairs of groups x 8 words
    __m512i_u scales[3];
    __m512i_u d_dmin;
};
static_assert(sizeof(PackedBlock) == panel::kRows * sizeof(BlockQ4_K));

// Tokens per pass over a packed panel. 8 fit the registers and run faster from L2, but from memory
// 8 sequences decoded 12% slower in one pass of 8 than in two of 4 (bench/NOTES.md).
constexpr int kPackedTile = 4;

// What a token's block contributes beside its quants: d, and the activation sums of its eight
// groups split as s_g = 128 a_g + b_g (a_g in -32..32, b_g in 0..127) into signed bytes, as four
// words: a_0..3, a_4..7, b_0..3, b_4..7.
struct TokenMins {
    float d;
    int32_t a[2], b[2];
};

void summarize_token(const BlockQ8_K& x, TokenMins* out) {
    const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums)),
                                        _mm256_set1_epi16(1));  // s_0..7 (|s_g| <= 32 * 128)
    const __m256i b = _mm256_and_si256(s, _mm256_set1_epi32(127));
    const __m256i a = _mm256_srai_epi32(s, 7);
    // Per 128-bit lane: a, b (4 each) to int16, then to bytes: words 0, 1 = a_0..3, b_0..3 (low
    // lane), words 4, 5 = a_4..7, b_4..7 (high lane).
    const __m256i ab16 = _mm256_packs_epi32(a, b);
    alignas(32) int32_t w[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(w), _mm256_packs_epi16(ab16, ab16));
    out->d = x.d;
    out->a[0] = w[0];
    out->a[1] = w[4];
    out->b[0] = w[1];
    out->b[1] = w[5];
}

// The tokens as prepare_q4_k leaves them: their TokenMins, then their Q8_K rows.
using Prepared = panel::PreparedTokens<TokenMins>;

// acc[t] += block `p`'s contribution to token t's rows (tm[t], xb[t]: the token's summary and
// activations of the block), as the reference computes it.
template <int T>
inline void accumulate_packed(const PackedBlock& p, const TokenMins* const* tm, const BlockQ8_K* const* xb,
                              __m512* acc) {
    const int8_t* xq[T];
    for (int t = 0; t < T; ++t) xq[t] = xb[t]->qs;
    // Scales sc[0..7] and mins m[0..7] of each lane's row: as k4_scales_mins (vec_dot.cpp) does
    // with 32-bit words, a lane at a time: sc0 = sc[0..3], sc1 = sc[4..7], m0, m1 likewise.
    const __m512i u0 = _mm512_loadu_si512(&p.scales[0]), u2 = _mm512_loadu_si512(&p.scales[2]);
    const __m512i low6 = _mm512_set1_epi8(0x3f), low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    const __m512i sc0 = _mm512_and_si512(u0, low6);
    // (low4 & x) | y with y = (w >> 2) & 0x30 (bits 6-7 of w's bytes moved to 4-5)
    const __m512i sc1 = _mm512_ternarylogic_epi32(low4, u2, _mm512_and_si512(_mm512_srli_epi32(u0, 2), bits45), 0xEA);
    auto scale = [&](int g) {  // sc[g] as an int32 per lane
        const __m512i w = g < 4 ? sc0 : sc1;
        const int shift = 8 * (g % 4);
        return shift == 24 ? _mm512_srli_epi32(w, 24)
                           : _mm512_and_si512(_mm512_srli_epi32(w, shift), _mm512_set1_epi32(0xff));
    };
    // Group g = 2p + h: the quants' low nibbles (h = 0) or high ones kept in place (h = 1: 16 times
    // the value, the scaled sum shifted back, exactly). The two groups of a pair of nibbles at once,
    // their quants loaded once, the tokens' chains interleaved: two registers of sums per token.
    // One token then ran 60 -> 78 GB/s of weights in L2, 4 tokens 27 -> 32 (bench/NOTES.md).
    __m512i isum[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int pair = 0; pair < kGroups / 2; ++pair) {
        __m512i lo[T], hi[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
            __m512i q = _mm512_loadu_si512(&p.q[8 * pair + k]);
            asm("" : "+v"(q));  // one load for both nibbles: GCC would fold it into each and
            const __m512i v_lo = _mm512_and_si512(q, low4), v_hi = _mm512_andnot_si512(low4, q);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                lo[t] = panel::dpbusd_broadcast(lo[t], v_lo, xq[t] + 64 * pair + 4 * k);
                hi[t] = panel::dpbusd_broadcast(hi[t], v_hi, xq[t] + 64 * pair + 32 + 4 * k);
            }
        }
        const __m512i sc_lo = scale(2 * pair), sc_hi = scale(2 * pair + 1);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(lo[t], sc_lo));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_srai_epi32(_mm512_mullo_epi32(hi[t], sc_hi), 4));
        }
        panel::settle<T>(isum);
    }
    const __m512i u1 = _mm512_loadu_si512(&p.scales[1]);
    const __m512i m0 = _mm512_and_si512(u1, low6);
    const __m512i m1 = _mm512_ternarylogic_epi32(low4, _mm512_srli_epi32(u2, 4),
                                                 _mm512_and_si512(_mm512_srli_epi32(u1, 2), bits45), 0xEA);
    const __m512i dd = _mm512_loadu_si512(&p.d_dmin);
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
    const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
        const TokenMins& x = *tm[t];
        __m512i ma = _mm512_setzero_si512(), mb = _mm512_setzero_si512();
        ma = panel::dpbusd_broadcast(panel::dpbusd_broadcast(ma, m0, &x.a[0]), m1, &x.a[1]);
        mb = panel::dpbusd_broadcast(panel::dpbusd_broadcast(mb, m0, &x.b[0]), m1, &x.b[1]);
        const __m512i msum = _mm512_add_epi32(_mm512_slli_epi32(ma, 7), mb);
        const __m512 xd = _mm512_set1_ps(x.d);
        const __m512 a = _mm512_mul_ps(_mm512_mul_ps(xd, d), _mm512_cvtepi32_ps(isum[t]));
        const __m512 m = _mm512_mul_ps(_mm512_mul_ps(xd, dmin), _mm512_cvtepi32_ps(msum));
        acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(a, m));
    }
}

// How one token's packed blocks are fetched ahead (batches always fetch the next unit into L2).
enum class Fetch {
    kNone,      // read in order, left to the hardware's streams
    kNextUnit,  // the next unit into L2, spread over the current one's blocks
    kBlocks,    // each block's lines kBlockNear bytes ahead into L1 and kBlockFar into L2
};
// On the Intel host (family 6, model 207, 2 threads), generation of the 1.5B Q4_K model: 76-80%
// of the read limit with the next unit, 88.5-90.3% with each block 4 KiB and 16 or 32 KiB ahead
// (bench/NOTES.md, 2026-12-08).
constexpr int64_t kBlockNear = 4096, kBlockFar = 16384;

// y[t * y_stride + r] for the `valid` rows of a unit of packed blocks (a panel's blocks [b0, b1),
// from `blocks`; panel_slices.h) and T tokens (tm[t], x[t]: token t's summaries and blocks), while
// the next unit is fetched into L2 (steps first_step + b - b0), or (prefetch null) each block's
// lines as kFetch says.
template <int T, Fetch kFetch>
void packed_unit_times_tokens(const PackedBlock* blocks, int64_t b0, int64_t b1, const TokenMins* const* tm,
                              const BlockQ8_K* const* x, const panel::NextPanelPrefetch* prefetch, int64_t first_step,
                              float* y, int64_t y_stride, __mmask16 valid) {
    panel::tokens_over_blocks<T>(b0, b1, tm, x, y, y_stride, valid, [&](int64_t b, auto tmb, auto xb, __m512* acc) {
        if (prefetch != nullptr) prefetch->at_step(first_step + b - b0);
        if constexpr (kFetch == Fetch::kBlocks) {
            if (prefetch == nullptr) {
                panel::fetch_ahead<sizeof(PackedBlock) / 64, kBlockNear, _MM_HINT_T0>(&blocks[b - b0]);
                panel::fetch_ahead<sizeof(PackedBlock) / 64, kBlockFar, _MM_HINT_T1>(&blocks[b - b0]);
            }
        }
        accumulate_packed<T>(blocks[b - b0], tmb, xb, acc);
    });
}

}  // namespace

size_t gemm_q4_k_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return n_tokens < kMinGemmTokens ? 0 : panel::scratch_bytes<Q4K>(n_tokens, n_cols);
}

size_t prepared_q4_k_bytes(int64_t n_tokens, int64_t n_cols) { return Prepared(n_tokens, n_cols).bytes; }

void prepare_q4_k(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out) {
    panel::prepare_tokens<TokenMins, summarize_token>(x, x_row_bytes, n_tokens, n_cols, first, end, out);
}

void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    const Prepared layout(n_tokens, n_cols);
    const uint8_t* rows = static_cast<const uint8_t*>(x) + layout.rows;  // the tokens' Q8_K rows
    if (n_tokens < kMinGemmTokens)
        return panel_rows::rows_times_tokens<vec_dot_q4_k_x4, vec_dot_q4_k>(
            w, w_row_bytes, n_rows, rows, layout.row_bytes, n_tokens, n_cols, y, y_stride);
    panel::gemm<Q4K>(w, w_row_bytes, n_rows, rows, layout.row_bytes, n_tokens, n_cols, y, y_stride, scratch);
}

void pack_q4_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQKK;
    panel_slices::pack_units<BlockQ4_K>(
        w, w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), 1, out,
        [&](uint8_t* unit, const BlockQ4_K* const* rows, const panel_slices::Unit& u) {
            auto* blocks = reinterpret_cast<PackedBlock*>(unit);  // unaligned vectors: panels lie where rows do
            for (int64_t b = u.b0; b < u.b1; ++b) {
                PackedBlock& block = blocks[b - u.b0];
                for (int pair = 0; pair < 4; ++pair)
                    panel::transpose_rows([&](int k) { return rows[k][b].qs + 32 * pair; }, &block.q[8 * pair]);
                alignas(64) uint32_t words[4][panel::kRows];  // the three scale words, then d and dmin
                for (int k = 0; k < panel::kRows; ++k) {
                    __builtin_memcpy(&words[0][k], rows[k][b].scales, 4);
                    __builtin_memcpy(&words[1][k], rows[k][b].scales + 4, 4);
                    __builtin_memcpy(&words[2][k], rows[k][b].scales + 8, 4);
                    words[3][k] = rows[k][b].d | static_cast<uint32_t>(rows[k][b].dmin) << 16;
                }
                for (int i = 0; i < 3; ++i) _mm512_storeu_si512(&block.scales[i], _mm512_load_si512(words[i]));
                _mm512_storeu_si512(&block.d_dmin, _mm512_load_si512(words[3]));
            }
        });
}

size_t gemm_q4_k_packed_scratch_bytes(int64_t /*n_tokens*/, int64_t /*n_cols*/) { return 0; }

namespace {

// Batches fetch each unit's successor into L2 while they work on it; one token as kFetch says. On
// the family 26 (Zen 5) host the Q4_K model's one-token steps went from 78-82% of the read limit
// (each block's lines fetched 6 KiB ahead into L1 in quarters) to 92-94% with the next unit in
// slow memory spells, and from 78-83% to 76-79% in fast ones; on the family 25 (Zen 4) host every
// software prefetch tried made them 16-18% slower (bench/NOTES.md, 2026-12-03 and 2026-12-07); on
// Intel, kBlocks (above).
template <Fetch kFetch>
void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, int64_t n_tokens, int64_t n_cols,
                    float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQKK;
    const Prepared layout(n_tokens, n_cols);
    const auto* mins = static_cast<const TokenMins*>(x);  // token t's block b: mins[t * n_blocks + b]
    const auto* xs = static_cast<const uint8_t*>(x) + layout.rows;
    const int64_t n_tiles = (n_tokens + kPackedTile - 1) / kPackedTile;
    const TokenMins* tm[kPackedTile];
    const BlockQ8_K* xb[kPackedTile];
    panel_slices::for_each_unit(
        w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), 1, [&](const panel_slices::Unit& u) {
            const auto* blocks = reinterpret_cast<const PackedBlock*>(static_cast<const uint8_t*>(w) + u.offset);
            const panel::NextPanelPrefetch prefetch(blocks, (u.b1 - u.b0) * sizeof(PackedBlock),
                                                    n_tiles * (u.b1 - u.b0));
            const auto valid = static_cast<__mmask16>((1u << u.n_valid) - 1);
            for (int64_t t0 = 0; t0 < n_tokens; t0 += kPackedTile) {
                const int n_t = static_cast<int>(n_tokens - t0 < kPackedTile ? n_tokens - t0 : kPackedTile);
                panel::tile_pointers(t0, n_t, mins, n_blocks, xs, layout.row_bytes, tm, xb);
                with_count<kPackedTile>(n_t, [&](auto T) {
                    packed_unit_times_tokens<T, kFetch>(
                        blocks, u.b0, u.b1, tm, xb, kFetch == Fetch::kNextUnit || n_tokens > 1 ? &prefetch : nullptr,
                        (t0 / kPackedTile) * (u.b1 - u.b0), y + t0 * y_stride + u.r0, y_stride, valid);
                });
            }
        });
}

}  // namespace

void gemm_q4_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    packed_product<Fetch::kNone>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

void gemm_q4_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                 size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                 void* /*scratch*/) {
    packed_product<Fetch::kNextUnit>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

void gemm_q4_k_packed_fetch_blocks(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                   size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                   void* /*scratch*/) {
    packed_product<Fetch::kBlocks>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx512
