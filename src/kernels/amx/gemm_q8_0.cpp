// AMX matrix product for Q8_0 weights and Q8_0 activations (dispatch.h, GemmKernel; the amx
// level's table), each result bit-identical to the single-row vec_dot_q8_0, as the AVX-512 kernels
// are, so a token's logits do not depend on its batch or on the level.
//
// The tile unit multiplies a tile A of 16 rows of signed bytes by a tile B of unsigned bytes laid
// out 4 bytes of a column together (TDPBSUD: C[m][n] += sum_k sum_i A[m][4k + i] * B[k][4n + i],
// exact int32). A packed Q8_0 panel (panel_runs.h) already has B's layout:
// block b's 512 quant bytes are 8 rows of 64 bytes, row g holding bytes 4g..4g+3 of each of the 16
// weight rows, plus 128. So per 32-value block, 16 tokens (A: their quants, one token a row) meet
// the panel in one TDPBSUD, and row t of C holds token t's sums over the 16 weight rows: lane r,
// row r, the AVX-512 kernels' accumulator layout. Then the reference's float operations, as
// there:
//   isum = C[t] - 128 * sum(x)                 (the +128 of the weights taken back, exact)
//   y   += float(isum) * (d_w * d_x)           (multiply, then add; no fused multiply-add)
// Two blocks are in flight at once on their own tiles (A, B, C for even blocks, three others for
// odd ones), so the tile unit can work on one while the vector unit scales the other's sums.
//
// Batches of fewer than kMinTokens tokens (decoding: bound by reading the weights) run the AVX-512
// kernels, prepared their way; from kMinTokens on, the tokens are prepared once per product into
// tiles of 16 (prepare_q8_0): per block, the 16 tokens' quants one after another (A), their d_x
// and -128 * sum(x). The last tile's slots past the last token hold whatever the buffer held: the
// tile unit computes their rows of C, which are never read.
//
// Tile state: the process asks the kernel for it once (cpu::request_amx); every call loads its
// tile configuration with ldtilecfg from a 64-byte struct the compiler sees read in full (GCC 12's
// _tile_loadconfig treats the operand as 8 bytes, drops the stores of the sizes and the program
// dies with SIGILL), and releases the tiles when done.
//
// The kernel is a template over the tile unit: the hardware, or EmulatedTiles, the instructions
// written out from Intel's description (and their configuration checked as the hardware checks
// it), which lets tests on a CPU without AMX run this file's layout and loops
// (gemm_q8_0_packed_emulated). Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt (the
// tile instructions are asm statements: no AMX flag is needed); includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/blocks.h"
#include "kernels/panel_runs.h"
#include "kernels/simd.h"

namespace sinan::kernels::amx {

namespace {

using layout = panel_runs::Q8_0;
constexpr int kPanelRows = layout::kRows;  // a packed panel's rows: C's 16 int32 columns
constexpr int kTileTokens = 16;            // tokens a tile: A's and C's rows
constexpr int64_t kMinTokens = 16;         // fewer: the AVX-512 kernels
static_assert(layout::kQBytes == 512, "a packed block's quants: B, 8 rows of 64 bytes");

// Block b of a tile of 16 tokens, as prepare_q8_0 writes it.
struct TileBlock {
    int8_t q[kTileTokens][kQK];  // A: token t's quants in row t
    float d[kTileTokens];
    int32_t neg128_sum[kTileTokens];
};
static_assert(sizeof(TileBlock) == 640, "TileBlock: 64-byte multiple");

// The tile configuration (palette 1): bytes 16-47 the bytes per row of tiles 0-15, 48-63 their
// rows.
struct alignas(64) TileConfig {
    uint8_t palette = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// Tiles of the product: A, B, C of even blocks, then of odd ones.
constexpr int kA0 = 0, kB0 = 1, kC0 = 2, kA1 = 3, kB1 = 4, kC1 = 5;

TileConfig product_config() {
    TileConfig c;
    const int a[2] = {kA0, kA1}, b[2] = {kB0, kB1}, cc[2] = {kC0, kC1};
    for (int i = 0; i < 2; ++i) {
        c.rows[a[i]] = kTileTokens;  // one block of each token
        c.colsb[a[i]] = kQK;
        c.rows[b[i]] = kQK / 4;  // the panel's block
        c.colsb[b[i]] = 64;
        c.rows[cc[i]] = kTileTokens;  // 16 int32 a token: one per weight row
        c.colsb[cc[i]] = 64;
    }
    return c;
}

// The tile unit itself, one volatile asm statement an instruction (they keep their order); those
// that touch memory also clobber it: GCC's tile intrinsics declare no memory operand, so a store
// through them could be read before it happened.
struct HardwareTiles {
    void configure(const TileConfig& config) { asm volatile("ldtilecfg %0" : : "m"(config) : "memory"); }
    void release() { asm volatile("tilerelease" : : : "memory"); }
    // c[0..15][0..15] = A (16 rows of 32 bytes at a, `a_stride` apart) times B (8 rows of 64 bytes
    // at b), on tiles TA, TB, TC.
    template <int TA, int TB, int TC>
    void product(const void* a, int64_t a_stride, const void* b, int32_t* c) {
        asm volatile("tileloadd (%0,%1,1), %%tmm%c2" : : "r"(a), "r"(a_stride), "i"(TA) : "memory");
        asm volatile("tileloadd (%0,%1,1), %%tmm%c2" : : "r"(b), "r"(int64_t{64}), "i"(TB) : "memory");
        asm volatile("tilezero %%tmm%c0" : : "i"(TC));
        asm volatile("tdpbsud %%tmm%c0, %%tmm%c1, %%tmm%c2" : : "i"(TB), "i"(TA), "i"(TC));
        asm volatile("tilestored %%tmm%c0, (%1,%2,1)" : : "i"(TC), "r"(c), "r"(int64_t{64}) : "memory");
    }
};

// The same instructions computed as Intel's Software Developer's Manual describes them, on tiles
// in memory, with the checks that make the hardware fault (an unconfigured tile, sizes that do
// not fit): `fault` says which, for tests.
struct EmulatedTiles {
    TileConfig config{};
    bool configured = false;
    uint8_t tile[8][16][64] = {};
    const char* fault = nullptr;

    void configure(const TileConfig& c) {
        config = c;
        configured = c.palette == 1;
        if (!configured) fault = "ldtilecfg: palette other than 1";
        for (int i = 0; i < 8 && configured; ++i)
            if (c.rows[i] > 16 || c.colsb[i] > 64) fault = "ldtilecfg: a tile larger than 16 rows of 64 bytes";
    }
    void release() { configured = false; }
    bool usable(int t) {
        if (!configured || config.rows[t] == 0 || config.colsb[t] == 0) fault = "a tile used unconfigured";
        return fault == nullptr;
    }
    void load(int t, const void* p, int64_t stride) {
        if (!usable(t)) return;
        for (int r = 0; r < 16; ++r)
            for (int j = 0; j < 64; ++j)
                tile[t][r][j] =
                    r < config.rows[t] && j < config.colsb[t] ? static_cast<const uint8_t*>(p)[r * stride + j] : 0;
    }
    void zero(int t) {
        if (!usable(t)) return;
        for (auto& row : tile[t])
            for (uint8_t& byte : row) byte = 0;
    }
    void dpbsud(int c, int a, int b) {
        if (!usable(c) || !usable(a) || !usable(b)) return;
        if (config.colsb[c] != config.colsb[b] || config.colsb[a] != 4 * config.rows[b] ||
            config.rows[a] != config.rows[c] || config.colsb[c] % 4 != 0 || config.colsb[a] % 4 != 0) {
            fault = "tdpbsud: tile sizes that do not fit";
            return;
        }
        for (int m = 0; m < config.rows[c]; ++m) {
            for (int n = 0; n < config.colsb[c] / 4; ++n) {
                int32_t sum;
                __builtin_memcpy(&sum, &tile[c][m][4 * n], 4);
                for (int k = 0; k < config.colsb[a] / 4; ++k)
                    for (int i = 0; i < 4; ++i)
                        sum += static_cast<int8_t>(tile[a][m][4 * k + i]) * static_cast<int32_t>(tile[b][k][4 * n + i]);
                __builtin_memcpy(&tile[c][m][4 * n], &sum, 4);
            }
        }
    }
    void store(int t, void* p, int64_t stride) {
        if (!usable(t)) return;
        for (int r = 0; r < config.rows[t]; ++r)
            __builtin_memcpy(static_cast<uint8_t*>(p) + r * stride, tile[t][r], config.colsb[t]);
    }
    template <int TA, int TB, int TC>
    void product(const void* a, int64_t a_stride, const void* b, int32_t* c) {
        load(TA, a, a_stride);
        load(TB, b, 64);
        zero(TC);
        dpbsud(TC, TA, TB);
        store(TC, c, 64);
    }
};

// acc[t] += block b's contribution for the first n_t tokens of a tile (c: their int32 sums from
// the tile unit, row t for token t; dw: the panel's 16 row scales of the block).
inline void scale_block(const int32_t* c, const TileBlock& x, __m512 dw, int n_t, __m512* acc) {
#pragma GCC unroll 16
    for (int t = 0; t < kTileTokens; ++t) {
        if (t >= n_t) break;
        const __m512i isum =
            _mm512_add_epi32(_mm512_load_si512(c + kPanelRows * t), _mm512_set1_epi32(x.neg128_sum[t]));
        const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(x.d[t]));
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), scale));
    }
}

inline __m512 row_scales(const uint16_t* d) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)));
}

// One packed panel (from `panel`: block b's quants at panel_runs.h's q_offset, its 16 binary16
// scales at d_offset) against every tile of tokens: y[t * y_stride + r] for the `valid` rows.
template <typename Tiles>
void panel_times_tiles(Tiles& tiles, const uint8_t* panel, int64_t n_blocks, const TileBlock* x, int64_t n_tokens,
                       float* y, int64_t y_stride, __mmask16 valid) {
    auto q = [&](int64_t b) { return panel + layout::q_offset(n_blocks, b); };
    auto d = [&](int64_t b) { return reinterpret_cast<const uint16_t*>(panel + layout::d_offset(b)); };
    alignas(64) int32_t c[2][kTileTokens * kPanelRows];
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTileTokens) {
        const int n_t = static_cast<int>(n_tokens - t0 < kTileTokens ? n_tokens - t0 : kTileTokens);
        const TileBlock* xt = x + (t0 / kTileTokens) * n_blocks;
        __m512 acc[kTileTokens];
        for (__m512& a : acc) a = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= n_blocks; b += 2) {
            tiles.template product<kA0, kB0, kC0>(xt[b].q, kQK, q(b), c[0]);
            tiles.template product<kA1, kB1, kC1>(xt[b + 1].q, kQK, q(b + 1), c[1]);
            scale_block(c[0], xt[b], row_scales(d(b)), n_t, acc);
            scale_block(c[1], xt[b + 1], row_scales(d(b + 1)), n_t, acc);
        }
        if (b < n_blocks) {
            tiles.template product<kA0, kB0, kC0>(xt[b].q, kQK, q(b), c[0]);
            scale_block(c[0], xt[b], row_scales(d(b)), n_t, acc);
        }
        for (int t = 0; t < n_t; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, valid, acc[t]);
    }
}

// gemm_q8_0_packed's product for kMinTokens or more tokens, on the unit `tiles`.
template <typename Tiles>
void packed_product(Tiles& tiles, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, int64_t n_tokens,
                    int64_t n_cols, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / kQK;
    const auto* ws = static_cast<const uint8_t*>(w);
    tiles.configure(product_config());
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const int n_valid = static_cast<int>(n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows);
        const uint8_t* panel = ws + r0 * static_cast<int64_t>(w_row_bytes);
        panel_times_tiles(tiles, panel, n_blocks, static_cast<const TileBlock*>(x), n_tokens, y + r0, y_stride,
                          static_cast<__mmask16>((1u << n_valid) - 1));
    }
    tiles.release();
}

int64_t n_tiles_of(int64_t n_tokens) { return (n_tokens + kTileTokens - 1) / kTileTokens; }

}  // namespace

size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols) {
    if (n_tokens < kMinTokens) return avx512::prepared_q8_0_bytes(n_tokens, n_cols);
    return static_cast<size_t>(n_tiles_of(n_tokens) * (n_cols / kQK)) * sizeof(TileBlock);
}

void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out) {
    if (n_tokens < kMinTokens) return avx512::prepare_q8_0(x, x_row_bytes, n_tokens, n_cols, first, end, out);
    const int64_t n_blocks = n_cols / kQK;
    auto* tiles = static_cast<TileBlock*>(out);
    const auto* xs = static_cast<const uint8_t*>(x);
    for (int64_t t = first; t < end; ++t) {
        TileBlock* tile = tiles + (t / kTileTokens) * n_blocks;
        const int slot = static_cast<int>(t % kTileTokens);
        const auto* xb = reinterpret_cast<const BlockQ8_0*>(xs + t * x_row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            __builtin_memcpy(tile[b].q[slot], xb[b].qs, kQK);
            tile[b].d[slot] = _cvtsh_ss(xb[b].d);
            tile[b].neg128_sum[slot] = -128 * avx512::panel::block_quant_sum(xb[b].qs);
        }
    }
}

size_t gemm_q8_0_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return avx512::gemm_q8_0_packed_scratch_bytes(n_tokens, n_cols);
}

void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    if (n_tokens < kMinTokens)
        return avx512::gemm_q8_0_packed(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride, scratch);
    HardwareTiles tiles;
    packed_product(tiles, w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
}

// Rows in place: each panel packed into scratch first (as avx512's gemm_q8_0 does for prompts).
size_t gemm_q8_0_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    if (n_tokens < kMinTokens) return avx512::gemm_q8_0_scratch_bytes(n_tokens, n_cols);
    return static_cast<size_t>(kPanelRows) * static_cast<size_t>(n_cols / kQK) * sizeof(BlockQ8_0);
}

void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    if (n_tokens < kMinTokens)
        return avx512::gemm_q8_0(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride, scratch);
    const size_t packed_row_bytes = static_cast<size_t>(n_cols / kQK) * sizeof(BlockQ8_0);
    const auto* ws = static_cast<const uint8_t*>(w);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const int64_t rows = n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows;
        avx512::pack_q8_0_panels(ws + r0 * static_cast<int64_t>(w_row_bytes), w_row_bytes, rows, n_cols, scratch);
        gemm_q8_0_packed(scratch, packed_row_bytes, rows, x, x_row_bytes, n_tokens, n_cols, y + r0, y_stride, nullptr);
    }
}

const char* gemm_q8_0_packed_emulated(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                      size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, float* y,
                                      int64_t y_stride) {
    if (n_tokens < kMinTokens) {
        avx512::gemm_q8_0_packed(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride, nullptr);
        return nullptr;
    }
    EmulatedTiles tiles;
    packed_product(tiles, w, w_row_bytes, n_rows, x, n_tokens, n_cols, y, y_stride);
    return tiles.fault;
}

// Full tiles (16 rows of 64 bytes) on four accumulators, A and B on the other tiles: 16 x 16 x 64
// multiply-adds a TDPBSUD.
uint64_t peak_int8_macs(uint64_t n_rounds) {
    TileConfig config;
    for (int t = 0; t < 6; ++t) {
        config.rows[t] = 16;
        config.colsb[t] = 64;
    }
    alignas(64) static const uint8_t ones[16 * 64] = {1};
    HardwareTiles tiles;
    tiles.configure(config);
    asm volatile("tileloadd (%0,%1,1), %%tmm4" : : "r"(ones), "r"(int64_t{64}) : "memory");
    asm volatile("tileloadd (%0,%1,1), %%tmm5" : : "r"(ones), "r"(int64_t{64}) : "memory");
    asm volatile("tilezero %tmm0\n\ttilezero %tmm1\n\ttilezero %tmm2\n\ttilezero %tmm3");
    for (uint64_t i = 0; i < n_rounds; ++i)
        asm volatile(
            "tdpbsud %tmm5, %tmm4, %tmm0\n\ttdpbsud %tmm5, %tmm4, %tmm1\n\t"
            "tdpbsud %tmm5, %tmm4, %tmm2\n\ttdpbsud %tmm5, %tmm4, %tmm3");
    tiles.release();
    return n_rounds * 4 * 16 * 16 * 64;
}

}  // namespace sinan::kernels::amx
