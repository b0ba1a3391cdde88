// AVX2 activation quantizers: the float operations of ref/quantize.cpp and ref/quantize_k.cpp lane
// by lane, as avx512/quantize.cpp does them at 16 lanes, so the bytes written equal the scalar
// path's. The scalar loops call nearbyintf a value: with these, the AVX2 level's Q8_0 products of
// 1 to 8 tokens in cache, quantizing included, ran 1.35-1.45x as fast (bench/NOTES.md). Compiled
// with -mavx2 -mfma -mf16c; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include "kernels/blocks.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx2 {

namespace {

inline float max_lane(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// 32 int32 (four registers, in order) as 32 bytes in order; each within [-128, 127].
inline __m256i pack_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
    // vpackssdw and vpacksswb work within 128-bit halves: bytes end up in dword order 0 4 1 5 2 6 3 7.
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

// d = amax / 127 (to binary16, nearest even), q = x * (127 / amax) rounded to nearest even
// (vcvtps2dq in the MXCSR default). Finite inputs: the maximum does not depend on the order it is
// taken in.
void quantize_q8_0_activations(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        __m256 x[4];
        for (int v = 0; v < 4; ++v) x[v] = _mm256_loadu_ps(src + 8 * v);
        const float amax = max_lane(
            _mm256_max_ps(_mm256_max_ps(abs_ps(x[0]), abs_ps(x[1])), _mm256_max_ps(abs_ps(x[2]), abs_ps(x[3]))));
        b[i].d = static_cast<uint16_t>(_cvtss_sh(amax / 127.f, _MM_FROUND_TO_NEAREST_INT));
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        __m256i q[4];
        for (int v = 0; v < 4; ++v) q[v] = _mm256_cvtps_epi32(_mm256_mul_ps(x[v], id));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs), pack_bytes(q[0], q[1], q[2], q[3]));
    }
}

// Q8_K (ref::quantize_q8_k): per 256 values, max = the first value of largest magnitude (its
// sign kept), iscale = -127 / max, q = min(127, nearest even of iscale * x), bsums of 16 quants,
// d = 1 / iscale. Finite inputs: the same bytes as the scalar path.
void quantize_q8_k_activations(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_K*>(dst);
    constexpr int kVectors = kQKK / 8;
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        __m256 m = _mm256_setzero_ps();
        for (int v = 0; v < kVectors; ++v) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(src + 8 * v)));
        const float amax = max_lane(m);
        if (amax == 0.0f) {
            __builtin_memset(&b[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        float max = 0.0f;
        for (int v = 0; v < kVectors; ++v) {
            const int hit = _mm256_movemask_ps(
                _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(src + 8 * v)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit != 0) {
                max = src[8 * v + __builtin_ctz(static_cast<unsigned>(hit))];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 s = _mm256_set1_ps(iscale);
        const __m256i limit = _mm256_set1_epi32(127);
        for (int g = 0; g < kQKK / 32; ++g) {
            __m256i q[4];
            for (int v = 0; v < 4; ++v)
                q[v] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(s, _mm256_loadu_ps(src + 32 * g + 8 * v))),
                                        limit);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + 32 * g), pack_bytes(q[0], q[1], q[2], q[3]));
            // bsums of the 16 quants in q[0], q[1] and in q[2], q[3].
            for (int k = 0; k < 2; ++k) {
                const __m256i s16 = _mm256_add_epi32(q[2 * k], q[2 * k + 1]);
                __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
                b[i].bsums[2 * g + k] = static_cast<int16_t>(_mm_cvtsi128_si32(h));
            }
        }
        b[i].d = 1 / iscale;
    }
}

}  // namespace sinan::kernels::avx2
