#include "kernels/read_loop.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

// s = sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// s = sum_i p[i], eight independent accumulators (16-byte loads once the compiler vectorises)
uint64_t sum_words(const uint64_t* p, uint64_t n) { return sum_words_with<8>(p, n); }

}  // namespace sinan::kernels::ref
