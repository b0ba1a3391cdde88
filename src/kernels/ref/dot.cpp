#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

// s = sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// s = sum_i p[i], eight independent accumulators (16-byte loads once the compiler vectorises)
uint64_t sum_words(const uint64_t* p, uint64_t n) {
    uint64_t a[8] = {};
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) a[k] += p[i + k];
    uint64_t s = 0;
    for (; i < n; ++i) s += p[i];
    for (uint64_t v : a) s += v;
    return s;
}

}  // namespace sinan::kernels::ref
