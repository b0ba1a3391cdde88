// AVX-512 dot product. Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>

#include "kernels/avx512/dot_f32.h"
#include "kernels/read_loop.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

// s = sum_i a[i] * b[i] (dot_f32.h: four independent FMA chains, the tail through a masked load).
float dot_f32(const float* a, const float* b, int64_t n) {
    return dot_f32_in_order(
        a, [b](int64_t i, __mmask16 m) { return _mm512_maskz_loadu_ps(m, b + i); }, n);
}

// s = sum_i p[i], 32 independent accumulators: 64-byte loads keep more of the stream in flight
uint64_t sum_words(const uint64_t* p, uint64_t n) { return sum_words_with<32>(p, n); }

}  // namespace sinan::kernels::avx512
