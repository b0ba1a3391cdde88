// AVX-512 dot product. Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>

#include "kernels/avx512/dot_f32.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

// s = sum_i a[i] * b[i] (dot_f32.h: four independent FMA chains, the tail through a masked load).
float dot_f32(const float* a, const float* b, int64_t n) {
    return dot_f32_in_order(
        a, [b](int64_t i, __mmask16 m) { return _mm512_maskz_loadu_ps(m, b + i); }, n);
}

// s = sum_i p[i], 32 independent accumulators: 64-byte loads keep more of the stream in flight
uint64_t sum_words(const uint64_t* p, uint64_t n) {
    uint64_t a[32] = {};
    uint64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 32; ++k) a[k] += p[i + k];
    uint64_t s = 0;
    for (; i < n; ++i) s += p[i];
    for (uint64_t v : a) s += v;
    return s;
}

}  // namespace sinan::kernels::avx512
