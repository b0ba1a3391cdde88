#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

// s = sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

}  // namespace sinan::kernels::ref
