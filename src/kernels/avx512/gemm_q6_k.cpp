// AVX-512 VNNI matrix product for Q6_K weights and Q8_K activations (dispatch.h, GemmKernel), each
// result bit-identical to the level's single-row vec_dot_q6_k (and so to the scalar reference).
//
// Batches of fewer than kMinGemmTokens tokens go row by row through vec_dot_q6_k. Larger ones run
// the panel driver of panel.h: each 256-value block of 16 rows is unpacked once into scratch (the
// six-bit values as unsigned bytes 0..63, transposed so that int32 lane r belongs to row r; the
// int8 group scales spread the same way), then every token meets the panel. Per block and token,
// as the reference computes it:
//   group sum g = sum_j (u[j] - 32) * x[j]       four vpdpbusd per 16-value group, started at
//                                                -32 * bsums[g] (the activations' sum over the group)
//   isum        = sum_g scale[g] * group sum g   (vpmulld, exact)
//   y          += d * x.d * float(isum)          (one lane per row, left to right)
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/panel.h"
#include "kernels/blocks.h"
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

}  // namespace

size_t gemm_q6_k_scratch_bytes(int64_t n_tokens, int64_t n_cols) {
    return n_tokens < kMinGemmTokens ? 0 : panel::scratch_bytes<Q6K>(n_tokens, n_cols);
}

void gemm_q6_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch) {
    if (n_tokens >= kMinGemmTokens)
        return panel::gemm<Q6K>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride, scratch);
    const auto* ws = static_cast<const uint8_t*>(w);
    const auto* xs = static_cast<const uint8_t*>(x);
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t t = 0; t < n_tokens; ++t)
            y[t * y_stride + r] = vec_dot_q6_k(ws + r * w_row_bytes, xs + t * x_row_bytes, n_cols);
}

}  // namespace sinan::kernels::avx512
