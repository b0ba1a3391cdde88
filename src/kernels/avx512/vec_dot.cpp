// AVX-512 dot products of a weight row with activations in its dot format (ref/vec_dot.cpp has
// the definitions). The integer kernels use VNNI: vpdpbusd (unsigned x signed bytes, four
// products summed into int32) and vpdpwssd (int16 pairs times the group scale into int32); BF16
// uses AVX512-BF16's vdpbf16ps. dispatch.cpp installs them only on CPUs with those extensions.
// Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt; includes no header with inline
// functions (see half.h).
#include <immintrin.h>

#include "kernels/avx2/row_parts.h"
#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {

namespace row_parts = avx2::row_parts;  // the row kernels' pieces both levels use

using row_parts::hsum;
using row_parts::k4_min_sum;
using row_parts::k4_scales_mins;
using row_parts::prefetch_weights;

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// int32 sums of four products a[j] * b[j] of signed bytes (b not -128): |a| times b with a's sign.
inline __m256i dot_i8(__m256i a, __m256i b) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(a), _mm256_sign_epi8(b, a));
}

// vec_dot_q4_k's tables. The scales and mins of a pair of blocks are unpacked into one vector of
// int16, [sc0..7 m0..7] of the first block then of the second (k4_scales_mins_pair).
struct K4Tables {
    alignas(64) int16_t scale_idx[2][4][32];  // [block of the pair][chunk p]: lane l -> scale 2p + l / 16
    alignas(64) int16_t min_idx[32];          // m[g] in lanes 2g and 2g+1 of each block's half
    // Unpacking the 12 packed bytes b0..b11 (docs/formats/quant-types.md), per output lane t of a
    // block: sc0..3 = b0..3 & 63, sc4..7 = (b8..11 & 15) | (b0..3 >> 6) << 4, m0..3 = b4..7 & 63,
    // m4..7 = (b8..11 >> 4) | (b4..7 >> 6) << 4. The first source byte of each lane, its shift and
    // mask; the second source byte (its top two bits go to bits 4..5).
    alignas(64) int16_t src1[32], shift1[32], mask1[32], src2[32], mask2[32];
    alignas(64) int16_t nibble_shift[32];  // 0 in the lower half, 4 in the upper half
    constexpr K4Tables()
        : scale_idx(), min_idx(), src1(), shift1(), mask1(), src2(), mask2(), nibble_shift() {
        for (int h = 0; h < 2; ++h)
            for (int p = 0; p < 4; ++p)
                for (int l = 0; l < 32; ++l) scale_idx[h][p][l] = static_cast<int16_t>(16 * h + 2 * p + l / 16);
        for (int l = 0; l < 32; ++l) {
            const int t = l % 16, j = t % 4, base = 16 * (l / 16) + 4;  // the scales follow d and dmin
            min_idx[l] = static_cast<int16_t>(16 * (l / 16) + 8 + t / 2);
            src1[l] = static_cast<int16_t>(base + (t < 4 ? j : t < 8 ? 8 + j : t < 12 ? 4 + j : 8 + j));
            shift1[l] = t >= 12 ? 4 : 0;
            mask1[l] = (t / 4) % 2 == 0 ? 63 : 15;
            src2[l] = static_cast<int16_t>(base + (t < 8 ? j : 4 + j));
            mask2[l] = (t / 4) % 2 == 0 ? 0 : 0x30;
            nibble_shift[l] = l < 16 ? 0 : 4;
        }
    }
};
constexpr K4Tables kK4;

// [sc0..7 m0..7] of blocks a0 and a1 as int16 (a0 in lanes 0..15): the 16 bytes at each block's
// start (d, dmin, the 12 packed bytes) widened, then the unpacking of K4Tables.
inline __m512i k4_scales_mins_pair(const BlockQ4_K* a0, const BlockQ4_K* a1) {
    const __m512i z = _mm512_cvtepu8_epi16(
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a0))),
                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(a1)), 1));
    const __m512i lo =
        _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(_mm512_load_si512(kK4.src1), z),
                                           _mm512_load_si512(kK4.shift1)),
                         _mm512_load_si512(kK4.mask1));
    const __m512i hi = _mm512_srli_epi16(_mm512_permutexvar_epi16(_mm512_load_si512(kK4.src2), z), 2);
    return _mm512_ternarylogic_epi32(lo, hi, _mm512_load_si512(kK4.mask2), 0xF8);  // lo | (hi & mask2)
}

// The 16 int32 partial sums of sum_g sc[g] sum_j q[j] x[j] of one block; h: the block's half of sm.
inline __m512i k4_block_isum(const BlockQ4_K& a, const BlockQ8_K& b, __m512i sm, int h) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i shift = _mm512_load_si512(kK4.nibble_shift);
    __m512i isum = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
        const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 32 * p)));
        const __m512i p16 = _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srlv_epi16(q, shift), low4),
                                                 _mm512_loadu_si512(b.qs + 64 * p));
        isum = _mm512_dpwssd_epi32(isum, p16, _mm512_permutexvar_epi16(_mm512_load_si512(kK4.scale_idx[h][p]), sm));
    }
    return isum;
}

// The lane (of 8) where vec_dot_q4_k's reduction tree leaves block k of eight.
constexpr int k4_lane(int k) { return (k % 2) * 4 + k / 2; }

// The Q4_0 weights of a block as bytes 0..15 (values 0..31), unsigned.
inline __m256i q4_0_nibbles(const uint8_t* qs) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
}

// Lane l of a 32-lane int16 vector belongs to the 32-value group l / 16 of a 64-value run.
alignas(64) constexpr int16_t kHalfOfLane[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

// Lane l of a 32-lane int16 vector belongs to 16-value group l / 8 of a 64-value run.
alignas(64) constexpr int16_t kGroupOfLane[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                  2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};

}  // namespace

float vec_dot_f16(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const uint16_t*>(w);
    const auto* b = static_cast<const uint16_t*>(x);
    auto load = [](const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    };
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        prefetch_weights(a + i, 128);
        acc0 = _mm512_fmadd_ps(load(a + i), load(b + i), acc0);
        acc1 = _mm512_fmadd_ps(load(a + i + 16), load(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(load(a + i + 32), load(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(load(a + i + 48), load(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load(a + i), load(b + i), acc0);
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i)),
                               _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, b + i)), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

float vec_dot_bf16(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const uint16_t*>(w);
    const auto* b = static_cast<const uint16_t*>(x);
    auto load = [](const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); };
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        prefetch_weights(a + i, 128);
        acc0 = _mm512_dpbf16_ps(acc0, load(a + i), load(b + i));
        acc1 = _mm512_dpbf16_ps(acc1, load(a + i + 32), load(b + i + 32));
    }
    for (; i + 32 <= n; i += 32) acc0 = _mm512_dpbf16_ps(acc0, load(a + i), load(b + i));
    if (i < n) {
        const __mmask32 m = static_cast<__mmask32>((1ull << (n - i)) - 1);
        acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_maskz_loadu_epi16(m, a + i),
                                (__m512bh)_mm512_maskz_loadu_epi16(m, b + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// sum (q - 8) x = sum q x - sum 8 x, both by vpdpbusd with the nibbles as unsigned operand. One
// 256-bit accumulator, block after block, as GGML's AVX2 kernel: same int32 lanes and float
// operations, so results are bit-identical to the reference engine's.
float vec_dot_q4_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    const __m256i eight = _mm256_set1_epi8(8), zero = _mm256_setzero_si256();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
        const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(zero, q4_0_nibbles(a[i].qs), qb),
                                           _mm256_dpbusd_epi32(zero, eight, qb));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16(a[i].d) * fp16(b[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum(acc);
}

// The reference's operations: each block's integer sum exactly (vpdpbusd), then
// sum += float(isum) * (d_w * d_x) in block order, so the result equals the scalar path and
// gemm_q8_0 (gemm.cpp) bit for bit.
float vec_dot_q8_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ8_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m256i p = dot_i8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs)));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
        sum += static_cast<float>(_mm_cvtsi128_si32(s)) * (fp16(a[i].d) * fp16(b[i].d));
    }
    return sum;
}

// A row's blocks go eight at a time. Per block, chunk p of 32 weight bytes is broadcast to both
// halves of a vector, the upper half shifted by 4: low nibbles (group 2p) meet the activations'
// first 32 bytes, high nibbles (group 2p+1) the next 32; vpmaddubsw, then vpdpwssd with the group
// scales. The eight blocks' int32 lanes (and their min sums, vpmaddwd of the activation group sums
// with the mins) are reduced together by a tree of shuffles into one vector, exactly: lane by lane
// the reference's float operations follow (b.d * d * isum - b.d * dmin * msum), and the block
// values are added to the sum in block order, so the result is bit-identical to the scalar path.
// Against one exact reduction per block (vpermw, extracts, shuffles) this cuts the shuffle-port
// work per block, which bounds decode: from L2, one core, 11 -> 18 GB/s.
float vec_dot_q4_k(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_K*>(w);
    const auto* b = static_cast<const BlockQ8_K*>(x);
    const int64_t n_blocks = n / kQKK;
    float sum = 0;
    for (int64_t i0 = 0; i0 < n_blocks; i0 += 8) {
        const int c = n_blocks - i0 < 8 ? static_cast<int>(n_blocks - i0) : 8;
        // The per-block float factors, in the lanes the tree leaves block k's sums in (k4_lane).
        alignas(32) uint16_t dh[16];  // d at the isum lane, dmin at the msum lane
        alignas(32) float bd[8];
        if (c < 8) {  // plain loops: std::fill would leave a weak AVX-512 copy in a debug build
            for (uint16_t& v : dh) v = 0;
            for (float& v : bd) v = 0.0f;
        }
        for (int k = 0; k < c; ++k) {
            dh[k4_lane(k)] = a[i0 + k].d;
            dh[8 + k4_lane(k)] = a[i0 + k].dmin;
            bd[k4_lane(k)] = b[i0 + k].d;
        }
        __m512i g[4];  // pair j: [isum 2j (4 lanes) | isum 2j+1 (4) | msum 2j (4) | msum 2j+1 (4)]
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            if (2 * j >= c) {
                g[j] = _mm512_setzero_si512();
                continue;
            }
            const int64_t k0 = i0 + 2 * j, k1 = 2 * j + 1 < c ? k0 + 1 : k0;  // a lone last block twice
            prefetch_weights(a + k0, 2 * static_cast<int>(sizeof(BlockQ4_K)));
            const __m512i sm = k4_scales_mins_pair(a + k0, a + k1);
            const __m512i i0 = k4_block_isum(a[k0], b[k0], sm, 0);
            const __m512i i1 = k4_block_isum(a[k1], b[k1], sm, 1);
            const __m512i ip = _mm512_add_epi32(_mm512_shuffle_i64x2(i0, i1, 0x44), _mm512_shuffle_i64x2(i0, i1, 0xEE));
            const __m512i bsums = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k0].bsums))),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k1].bsums)), 1);
            const __m512i mp = _mm512_madd_epi16(_mm512_permutexvar_epi16(_mm512_load_si512(kK4.min_idx), sm), bsums);
            g[j] = _mm512_add_epi32(_mm512_shuffle_i64x2(ip, mp, 0x88), _mm512_shuffle_i64x2(ip, mp, 0xDD));
        }
        const __m512i h01 = _mm512_add_epi32(_mm512_unpacklo_epi64(g[0], g[1]), _mm512_unpackhi_epi64(g[0], g[1]));
        const __m512i h23 = _mm512_add_epi32(_mm512_unpacklo_epi64(g[2], g[3]), _mm512_unpackhi_epi64(g[2], g[3]));
        const __m512 h01f = _mm512_castsi512_ps(h01), h23f = _mm512_castsi512_ps(h23);
        // [isum 0 2 4 6, isum 1 3 5 7, msum 0 2 4 6, msum 1 3 5 7]
        const __m512i f = _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(h01f, h23f, 0x88)),
                                           _mm512_castps_si512(_mm512_shuffle_ps(h01f, h23f, 0xDD)));
        const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh)));
        const __m512 q = _mm512_mul_ps(_mm512_mul_ps(_mm512_broadcast_f32x8(_mm256_load_ps(bd)), d), _mm512_cvtepi32_ps(f));
        alignas(32) float v[8];
        _mm256_store_ps(v, _mm256_sub_ps(_mm512_castps512_ps256(q), _mm512_extractf32x8_ps(q, 1)));
        for (int k = 0; k < c; ++k) sum += v[k4_lane(k)];
    }
    return sum;
}

// Four activation rows against one weight row: nibbles, scales and mins are unpacked once; per
// row the same operations as vec_dot_q4_k, so each result is bit-identical to it.
void vec_dot_q4_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s) {
    const auto* a = static_cast<const BlockQ4_K*>(w);
    const BlockQ8_K* b[4];
    for (int k = 0; k < 4; ++k)
        b[k] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + k * x_stride);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m512i pair = _mm512_load_si512(kHalfOfLane);
    float sum[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n / kQKK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m128i sm = k4_scales_mins(a[i].scales);
        const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
        __m512i q2[4], scale[4];
        for (int p = 0; p < 4; ++p) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * p));
            q2[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, low4)),
                                       _mm256_and_si256(_mm256_srli_epi16(q, 4), low4), 1);
            scale[p] =
                _mm512_permutexvar_epi16(_mm512_add_epi16(pair, _mm512_set1_epi16(static_cast<int16_t>(2 * p))), sc);
        }
        const float d = fp16(a[i].d), dmin = fp16(a[i].dmin);
        for (int k = 0; k < 4; ++k) {
            const BlockQ8_K& bk = b[k][i];
            __m512i isum = _mm512_setzero_si512();
            for (int p = 0; p < 4; ++p)
                isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q2[p], _mm512_loadu_si512(bk.qs + 64 * p)),
                                           scale[p]);
            const int msum = k4_min_sum(sm, bk.bsums);
            sum[k] +=
                bk.d * d * static_cast<float>(_mm512_reduce_add_epi32(isum)) - bk.d * dmin * static_cast<float>(msum);
        }
    }
    for (int k = 0; k < 4; ++k) s[k] = sum[k];
}

// Per half block: 64 bytes of ql and 32 of qh give values 0..63 (low nibbles) and 64..127 (high
// nibbles), unsigned 0..63; 32 * x is subtracted per byte pair before the group scale. As for
// Q4_K, bit-identical to the scalar path.
float vec_dot_q6_k(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ6_K*>(w);
    const auto* b = static_cast<const BlockQ8_K*>(x);
    const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(3), m32 = _mm512_set1_epi8(32);
    const __m512i group = _mm512_load_si512(kGroupOfLane);
    float sum = 0;
    for (int64_t i = 0; i < n / kQKK; ++i) {
        prefetch_weights(a + i, static_cast<int>(sizeof(*a)));
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        __m512i isum = _mm512_setzero_si512();
        for (int half = 0; half < 2; ++half) {
            const __m512i l = _mm512_loadu_si512(a[i].ql + 64 * half);
            const __m256i h256 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * half));
            const __m512i h = _mm512_inserti64x4(_mm512_castsi256_si512(h256), _mm256_srli_epi16(h256, 2), 1);
            const __m512i q0 =
                _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_slli_epi16(_mm512_and_si512(h, low2), 4));
            const __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                               _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 4), low2), 4));
            const __m512i x0 = _mm512_loadu_si512(b[i].qs + 128 * half);
            const __m512i x1 = _mm512_loadu_si512(b[i].qs + 128 * half + 64);
            const __m512i p0 = _mm512_sub_epi16(_mm512_maddubs_epi16(q0, x0), _mm512_maddubs_epi16(m32, x0));
            const __m512i p1 = _mm512_sub_epi16(_mm512_maddubs_epi16(q1, x1), _mm512_maddubs_epi16(m32, x1));
            const __m512i s0 = _mm512_permutexvar_epi16(_mm512_add_epi16(group, _mm512_set1_epi16(8 * half)), sc);
            const __m512i s1 = _mm512_permutexvar_epi16(_mm512_add_epi16(group, _mm512_set1_epi16(8 * half + 4)), sc);
            isum = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(isum, p0, s0), p1, s1);
        }
        sum += fp16(a[i].d) * b[i].d * static_cast<float>(_mm512_reduce_add_epi32(isum));
    }
    return sum;
}

}  // namespace sinan::kernels::avx512
