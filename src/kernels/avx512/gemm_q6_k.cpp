// AVX-512 VNNI matrix product for Q6_K weights and Q8_K activations (dispatch.h, GemmKernel), each
// result bit-identical to the level's single-row vec_dot_q6_k (and so to the scalar reference).
//
// Rows in place (gemm_q6_k): batches of fewer than kMinGemmTokens tokens go row by row through
// vec_dot_q6_k. Larger ones run
// the panel driver of panel.h: each 256-value block of 16 rows is unpacked once into scratch (the
// six-bit values as unsigned bytes 0..63, transposed so that int32 lane r belongs to row r; the
// int8 group scales spread the same way), then every token meets the panel. Per block and token,
// as the reference computes it:
//   group sum g = sum_j (u[j] - 32) * x[j]       four vpdpbusd per 16-value group, started at
//                                                -32 * bsums[g] (the activations' sum over the group)
//   isum        = sum_g scale[g] * group sum g   (vpmulld, exact)
//   y          += d * x.d * float(isum)          (one lane per row, left to right)
//
// Packed weights (gemm_q6_k_packed): a model repacks its Q6_K matrices once, at load
// (pack_q6_k_panels), into panels of the same size as the rows: per block of 16 rows the low bits,
// the high bits and the group scales, 4 bytes a lane (lane r: row r), 52 vectors in the order the
// kernel reads them (PackedBlock), each block's 16 row scales d before it (panel_runs.h: two
// blocks' d, then the two blocks); rows of more than 2048 values in slices of whole runs, the
// panels in groups of 4 (panel_slices.h). Batches of up to 8 tokens (decoding) meet it 4 tokens a
// pass, each 4-byte word of values unpacked in registers ((low & 0x0f) | the high bits moved to
// 0x30, one vpternlogd after a mask), then the same sums as above;
// larger batches unpack each panel once into the runtime panel's form and run its tiles. Either
// way the tokens' block summaries are made once per product (prepare_q6_k, as GemmKernel::prepare:
// the summaries, then the Q8_K rows, from which the rows-in-place kernel reads too).
// gemm_q6_k_packed_read_ahead is the same product with one token's blocks fetched ahead
// (panel::read_ahead), for the processors that stream faster with it (kernels.h, decode_read_ahead).
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/panel_slices.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

constexpr int64_t kMinGemmTokens = 8;
constexpr int kGroups = kQKK / 16;

// The kernel panel::gemm runs (see panel.h for the parts).
struct Q6K {
    using WBlock = BlockQ6_K;
    using XBlock = BlockQ8_K;
    static constexpr int64_t kBlockValues = kQKK;
    static constexpr int kTile = 4;

    struct Panel {
        __m512i q[kGroups][4];   // q[g][k]: bytes 4k..4k+3 of group g of each row, values 0..63
        __m512i scale[kGroups];  // int32 lane r: row r's scale of group g
        __m512 d;                // float lane r: row r's block scale
    };

    struct TokenBlock {
        float d;
        int32_t neg32_group_sum[kGroups];  // -32 * the sum of the group's 16 values
    };

    static void summarize(const BlockQ8_K& x, TokenBlock* out) {
        out->d = x.d;
        for (int g = 0; g < kGroups; ++g) out->neg32_group_sum[g] = -32 * x.bsums[g];
    }

    // The 256 values of a block as bytes 0..63 (value + 32), in the reference's order.
    static void unpack(const BlockQ6_K& blk, uint8_t* u) {
        const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
        for (int half = 0; half < 2; ++half) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * half));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * half + 32));
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * half));
            auto high = [&](int shift) {
                return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), m3), 4);
            };
            auto* out = reinterpret_cast<__m256i*>(u + 128 * half);
            _mm256_store_si256(out + 0, _mm256_or_si256(_mm256_and_si256(a, m4), high(0)));
            _mm256_store_si256(out + 1, _mm256_or_si256(_mm256_and_si256(b, m4), high(2)));
            _mm256_store_si256(out + 2, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), high(4)));
            _mm256_store_si256(out + 3, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), high(6)));
        }
    }

    static void pack(const BlockQ6_K* const* rows, int64_t b, Panel* out) {
        alignas(64) uint8_t u[panel::kRows][kQKK];
        alignas(64) int32_t scale[kGroups][panel::kRows];
        alignas(64) float d[panel::kRows];
        for (int r = 0; r < panel::kRows; ++r) {
            const BlockQ6_K& blk = rows[r][b];
            unpack(blk, u[r]);
            for (int g = 0; g < kGroups; ++g) scale[g][r] = blk.scales[g];
            d[r] = _cvtsh_ss(blk.d);
        }
        for (int c = 0; c < kQKK / 32; ++c) {  // 32 values: groups 2c and 2c + 1
            __m512i v[8], t[8];
            for (int k = 0; k < 8; ++k)
                v[k] = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(u[k] + 32 * c))),
                    _mm256_load_si256(reinterpret_cast<const __m256i*>(u[k + 8] + 32 * c)), 1);
            panel::transpose_groups(v, t);
            for (int k = 0; k < 4; ++k) {
                out->q[2 * c][k] = t[k];
                out->q[2 * c + 1][k] = t[k + 4];
            }
        }
        for (int g = 0; g < kGroups; ++g) out->scale[g] = _mm512_load_si512(scale[g]);
        out->d = _mm512_load_ps(d);
    }

    template <int T>
    static void accumulate(const Panel& p, const TokenBlock* const* tb, const BlockQ8_K* const* xb, __m512* acc) {
        const int8_t* xq[T];
        for (int t = 0; t < T; ++t) xq[t] = xb[t]->qs;
        __m512i isum[T];
        panel::scaled_group_sums<T, kGroups, 4>(
            p.q, p.scale, xq, [&](int t, int g) { return _mm512_set1_epi32(tb[t]->neg32_group_sum[g]); }, isum);
        for (int t = 0; t < T; ++t)
            acc[t] = _mm512_add_ps(
                acc[t], _mm512_mul_ps(_mm512_mul_ps(p.d, _mm512_set1_ps(tb[t]->d)), _mm512_cvtepi32_ps(isum[t])));
    }
};

// One block of 16 rows of a packed panel, in the order accumulate_packed reads it: step 8h + w
// holds the three words it unpacks together, int32 lane r = 4 of row r's bytes: lo0 = its low bits
// (ql) from byte 64h + 4w, lo1 from byte 64h + 32 + 4w, hi = its high bits (qh) from byte
// 32h + 4w; then scales[i], its group scales 4i..4i+3. Each block's row scales d (binary16, 16
// per block) lie before it, two blocks' at a time (panel_runs.h, Layout): 16 * sizeof(BlockQ6_K)
// bytes a block in all. Read in order, a panel is one stream the hardware prefetcher follows
// without help; with ql and qh in runs of their own (three streams a block) one token needed
// software prefetch, and ran slower, and with all the d after all the blocks (a second stream
// restarting at every panel) one token read ~10% below Q4_K (bench/NOTES.md).
// Unaligned vectors: panels lie where rows do (a multiple of 16 rows' bytes from the matrix start).
struct PackedBlock {
    struct Step {
        __m512i_u lo0, lo1, hi;  // ql[16h + w], ql[16h + 8 + w], qh[8h + w] of step 8h + w
    };
    Step steps[16];
    __m512i_u scales[kGroups / 4];
};
using Layout = panel_runs::Runs<sizeof(PackedBlock)>;
static_assert(Layout::kBlockBytes == panel::kRows * sizeof(BlockQ6_K));

// Block b of a packed panel of n_blocks blocks from `start`, and its 16 row scales.
inline const PackedBlock& packed_block(const uint8_t* start, int64_t n_blocks, int64_t b) {
    return *reinterpret_cast<const PackedBlock*>(start + Layout::q_offset(n_blocks, b));
}
inline const uint16_t* row_scales(const uint8_t* start, int64_t b) {
    return reinterpret_cast<const uint16_t*>(start + Layout::d_offset(b));
}

// Tokens per pass over a packed panel (from memory 8 sequences decoded faster in two passes of 4
// than in one of 8; bench/NOTES.md); batches above kMaxPackedTokens unpack each panel once.
constexpr int kPackedTile = 4;
constexpr int64_t kMaxPackedTokens = 8;

// Values 128h + 32v + 4w .. + 3 of each lane's row as bytes 0..63 (value + 32), from a packed
// block: (low bits & 0x0f) | the high bits moved to 0x30, one vpternlogd after a mask.
// lo: ql[8 (2h + v % 2) + w] (v 0, 2: bytes l; 1, 3: l + 32), hi: qh[8h + w].
inline __m512i unpack_loaded(__m512i lo, __m512i hi, int v) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    const __m512i x = v < 2 ? lo : _mm512_srli_epi32(lo, 4);  // v 2, 3: the upper nibbles
    const __m512i y = v == 0   ? _mm512_slli_epi32(hi, 4)
                      : v == 1 ? _mm512_slli_epi32(hi, 2)
                      : v == 2 ? hi
                               : _mm512_srli_epi32(hi, 2);
    return _mm512_ternarylogic_epi32(x, low4, _mm512_and_si512(y, bits45), 0xEA);  // (x & 0x0f) | y
}

inline __m512i unpack_word(const PackedBlock& p, int h, int v, int w) {
    const PackedBlock::Step& s = p.steps[8 * h + w];
    return unpack_loaded(_mm512_loadu_si512(v % 2 == 0 ? &s.lo0 : &s.lo1), _mm512_loadu_si512(&s.hi), v);
}

// The int8 scale of group g of each lane's row, as an int32.
inline __m512i group_scale(const PackedBlock& p, int g) {
    const __m512i w = _mm512_loadu_si512(&p.scales[g / 4]);
    const int j = g % 4;
    return _mm512_srai_epi32(j == 3 ? w : _mm512_slli_epi32(w, 24 - 8 * j), 24);
}

// A packed block unpacked into the runtime panel's form (Q6K::Panel), for batches that meet it
// with many tiles of tokens; d: the block's 16 row scales.
void unpack_block(const PackedBlock& p, const uint16_t* d, Q6K::Panel* out) {
    for (int h = 0; h < 2; ++h) {
        for (int w = 0; w < 8; ++w)
            for (int v = 0; v < 4; ++v) out->q[8 * h + 2 * v + w / 4][w % 4] = unpack_word(p, h, v, w);
    }
    for (int g = 0; g < kGroups; ++g) out->scale[g] = group_scale(p, g);
    out->d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)));
}

// acc[t] += block `p`'s contribution (row scales d) to token t's rows (tb[t], xb[t]: the token's
// summary and activations of the block), as the reference computes it; kReadAhead: a quarter of
// the block's lines fetched ahead before each quarter of its work (panel::read_ahead_part).
template <int T, bool kReadAhead = false>
inline void accumulate_packed(const PackedBlock& p, __m512 d, const Q6K::TokenBlock* const* tb,
                              const BlockQ8_K* const* xb, __m512* acc) {
    const int8_t* xq[T];
    for (int t = 0; t < T; ++t) xq[t] = xb[t]->qs;
    // Groups g = 8h + 2v + wq (values 128h + 32v + 16wq .. + 15) four at a time, v = 0..3, the
    // words of ql and qh they share loaded once and kept in registers (one group at a time, GCC
    // loaded them again for each group), the tokens' chains interleaved: four registers of sums
    // per token. One token then ran 52 -> 88 GB/s of weights in L2, 4 tokens 28 -> 31
    // (bench/NOTES.md).
    __m512i isum[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
        for (int wq = 0; wq < 2; ++wq) {
            if constexpr (kReadAhead) panel::read_ahead_part<sizeof(PackedBlock) / 64, 4>(&p, 2 * h + wq);
            __m512i c[4][T];
#pragma GCC unroll 4
            for (int v = 0; v < 4; ++v)
#pragma GCC unroll 8
                for (int t = 0; t < T; ++t) c[v][t] = _mm512_set1_epi32(tb[t]->neg32_group_sum[8 * h + 2 * v + wq]);
#pragma GCC unroll 4
            for (int w = 4 * wq; w < 4 * wq + 4; ++w) {
                __m512i lo0 = _mm512_loadu_si512(&p.steps[8 * h + w].lo0);
                __m512i lo1 = _mm512_loadu_si512(&p.steps[8 * h + w].lo1);
                __m512i hi = _mm512_loadu_si512(&p.steps[8 * h + w].hi);
                asm("" : "+v"(lo0), "+v"(lo1), "+v"(hi));  // in registers: one load each
#pragma GCC unroll 4
                for (int v = 0; v < 4; ++v) {
                    const __m512i u = unpack_loaded(v % 2 == 0 ? lo0 : lo1, hi, v);
#pragma GCC unroll 8
                    for (int t = 0; t < T; ++t)
                        c[v][t] = panel::dpbusd_broadcast(c[v][t], u, xq[t] + 128 * h + 32 * v + 4 * w);
                }
            }
#pragma GCC unroll 4
            for (int v = 0; v < 4; ++v) {
                const __m512i sc = group_scale(p, 8 * h + 2 * v + wq);
#pragma GCC unroll 8
                for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(c[v][t], sc));
            }
            panel::settle<T>(isum);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
        acc[t] = _mm512_add_ps(acc[t],
                               _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(tb[t]->d)), _mm512_cvtepi32_ps(isum[t])));
}

// y[t * y_stride + r] for the `valid` rows of a unit of packed blocks (a panel's blocks [b0, b1),
// laid out from `unit` as a panel of b1 - b0 blocks; panel_slices.h) and T tokens, while the next
// unit is fetched (steps first_step + b - b0), or for one token (prefetch null) with the weights
// read in order, with kReadAhead each block's 52 lines fetched ahead, a quarter before each quarter
// of the block (accumulate_packed), else left to the hardware's streams. Before the slices, one
// token against the FFN down matrix's 8,960-value rows (117 KB a panel) found its activations gone
// from L1 at every block, and each block's activation lines were requested together at its start
// (33 -> 48 GB/s in fast memory spells); the slices keep them in L1, and that request then cost
// 2-3% (bench/NOTES.md).
template <int T, bool kReadAhead>
void packed_unit_times_tokens(const uint8_t* unit, int64_t b0, int64_t b1, const Q6K::TokenBlock* const* tb,
                              const BlockQ8_K* const* x, const panel::NextPanelPrefetch* prefetch, int64_t first_step,
                              float* y, int64_t y_stride, __mmask16 valid) {
    panel::tokens_over_blocks<T>(b0, b1, tb, x, y, y_stride, valid, [&](int64_t b, auto tbb, auto xb, __m512* acc) {
        const PackedBlock& block = packed_block(unit, b1 - b0, b - b0);
        if (prefetch != nullptr) prefetch->at_step(first_step + b - b0);
        const __m512 db =
            _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_scales(unit, b - b0))));
        if (prefetch != nullptr)
            accumulate_packed<T>(block, db, tbb, xb, acc);
        else
            accumulate_packed<T, kReadAhead>(block, db, tbb, xb, acc);
    });
}

// The tokens as prepare_q6_k leaves them: their block summaries, then their Q8_K rows.
using Prepared = panel::PreparedTokens<Q6K::TokenBlock>;

}  // namespace

size_t gemm_q6_k_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return n_tokens < kMinGemmTokens ? 0 : panel::scratch_bytes<Q6K>(n_tokens, n_cols);
}

size_t prepared_q6_k_bytes(int64_t n_tokens, int64_t n_cols) { return Prepared(n_tokens, n_cols).bytes; }

void prepare_q6_k(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out) {
    panel::prepare_tokens<Q6K::TokenBlock, Q6K::summarize>(x, x_row_bytes, n_tokens, n_cols, first, end, out);
}

void gemm_q6_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    const Prepared layout(n_tokens, n_cols);
    const uint8_t* xs = static_cast<const uint8_t*>(x) + layout.rows;  // the tokens' Q8_K rows
    if (n_tokens >= kMinGemmTokens)
        return panel::gemm<Q6K>(w, w_row_bytes, n_rows, xs, layout.row_bytes, n_tokens, n_cols, y, y_stride, scratch);
    const auto* ws = static_cast<const uint8_t*>(w);
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t t = 0; t < n_tokens; ++t)
            y[t * y_stride + r] = vec_dot_q6_k(ws + r * w_row_bytes, xs + t * layout.row_bytes, n_cols);
}

void pack_q6_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) {
    const int64_t n_blocks = n_cols / kQKK;
    panel_slices::pack_units<BlockQ6_K>(
        w, w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), Layout::kRunBlocks, out,
        [&](uint8_t* unit, const BlockQ6_K* const* rows, const panel_slices::Unit& u) {
            // The unit laid out as a panel of its blocks. Unaligned vectors: panels lie where rows do.
            for (int64_t b = u.b0; b < u.b1; ++b) {
                auto& block = *reinterpret_cast<PackedBlock*>(unit + Layout::q_offset(u.b1 - u.b0, b - u.b0));
                auto* d = reinterpret_cast<uint16_t*>(unit + Layout::d_offset(b - u.b0));
                // The low and high bits as 4 and 2 chunks of 8 words, in the rows' order, then in the
                // kernel's.
                __m512i_u ql[32], qh[16];
                for (int c = 0; c < 4; ++c)
                    panel::transpose_rows([&](int k) { return rows[k][b].ql + 32 * c; }, &ql[8 * c]);
                for (int c = 0; c < 2; ++c)
                    panel::transpose_rows([&](int k) { return rows[k][b].qh + 32 * c; }, &qh[8 * c]);
                for (int h = 0; h < 2; ++h)
                    for (int w = 0; w < 8; ++w) {
                        PackedBlock::Step& st = block.steps[8 * h + w];
                        _mm512_storeu_si512(&st.lo0, _mm512_loadu_si512(&ql[16 * h + w]));
                        _mm512_storeu_si512(&st.lo1, _mm512_loadu_si512(&ql[16 * h + 8 + w]));
                        _mm512_storeu_si512(&st.hi, _mm512_loadu_si512(&qh[8 * h + w]));
                    }
                alignas(64) uint32_t words[kGroups / 4][panel::kRows];
                for (int k = 0; k < panel::kRows; ++k) {
                    for (int i = 0; i < kGroups / 4; ++i) __builtin_memcpy(&words[i][k], rows[k][b].scales + 4 * i, 4);
                    d[k] = rows[k][b].d;
                }
                for (int i = 0; i < kGroups / 4; ++i)
                    _mm512_storeu_si512(&block.scales[i], _mm512_load_si512(words[i]));
            }
        });
}

// Scratch: for batches above kMaxPackedTokens a panel unpacked (n_blocks Q6K::Panel).
size_t gemm_q6_k_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return n_tokens > kMaxPackedTokens ? static_cast<size_t>(n_cols / kQKK) * sizeof(Q6K::Panel) : 0;
}

namespace {

template <bool kReadAhead>
void packed_product(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, int64_t n_tokens, int64_t n_cols,
                    float* y, int64_t y_stride, void* scratch) {
    const int64_t n_blocks = n_cols / kQKK;
    const Prepared layout(n_tokens, n_cols);
    const auto* summaries = static_cast<const Q6K::TokenBlock*>(x);  // token t's block b: [t * n_blocks + b]
    const auto* xs = static_cast<const uint8_t*>(x) + layout.rows;
    const bool unpack = n_tokens > kMaxPackedTokens;
    auto* unpacked = static_cast<Q6K::Panel*>(scratch);
    static_assert(Q6K::kTile == kPackedTile);
    const int64_t n_tiles = (n_tokens + kPackedTile - 1) / kPackedTile;
    const Q6K::TokenBlock* tb[kPackedTile];
    const BlockQ8_K* xb[kPackedTile];
    panel_slices::for_each_unit(
        w_row_bytes, n_rows, n_blocks, panel_slices::n_slices(n_cols), Layout::kRunBlocks,
        [&](const panel_slices::Unit& u) {
            const uint8_t* unit = static_cast<const uint8_t*>(w) + u.offset;
            const int64_t n = u.b1 - u.b0;  // the unit's blocks
            const auto valid = static_cast<__mmask16>((1u << u.n_valid) - 1);
            const panel::NextPanelPrefetch prefetch(unit, static_cast<size_t>(n) * Layout::kBlockBytes,
                                                    unpack ? n : n_tiles * n);
            for (int64_t b = 0; unpack && b < n; ++b) {
                prefetch.at_step(b);
                unpack_block(packed_block(unit, n, b), row_scales(unit, b), unpacked + b);
            }
            for (int64_t t0 = 0; t0 < n_tokens; t0 += kPackedTile) {
                const int n_t = static_cast<int>(n_tokens - t0 < kPackedTile ? n_tokens - t0 : kPackedTile);
                panel::tile_pointers(t0, n_t, summaries, n_blocks, xs, layout.row_bytes, tb, xb);
                float* yt = y + t0 * y_stride + u.r0;
                with_count<kPackedTile>(n_t, [&](auto T) {
                    if (unpack)
                        panel::run_tokens<Q6K, T>(unpacked, u.b0, u.b1, tb, xb, yt, y_stride, valid);
                    else
                        packed_unit_times_tokens<T, kReadAhead>(unit, u.b0, u.b1, tb, xb,
                                                                n_tokens == 1 ? nullptr : &prefetch,
                                                                (t0 / kPackedTile) * n, yt, y_stride, valid);
                });
            }
        });
}

}  // namespace

void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t /*x_row_bytes*/,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    packed_product<false>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride, scratch);
}

void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                 size_t /*x_row_bytes*/, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                 void* scratch) {
    packed_product<true>(w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride, scratch);
}

}  // namespace sinan::kernels::avx512
