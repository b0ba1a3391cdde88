// Scalar elementwise operations of the forward pass (ops.h has their contracts); the SIMD
// versions are tested against these.
#include <algorithm>
#include <cmath>

#include "kernels/half.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

// y[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], squares in float summed in double
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

// x[i] = exp(x[i] - max) / sum, sum in double
void softmax(float* x, int64_t n) {
    float max = x[0];
    for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// y[i] = expf(x[i]) (libm's)
void exp_f32(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

// y[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu(const float* x, float* y, int64_t n) {
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    constexpr float kCoef = 0.044715f;
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + kCoef * v * v)));
    }
}

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

// scores[g * n_keys + j] = (((q_g[0] k_j[0] + 0) + q_g[1] k_j[1]) + ...), one fused multiply-add
// per term, q_g = q + g * q_stride
void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores) {
    for (int64_t g = 0; g < n_q; ++g) {
        for (int64_t j = 0; j < n_keys; ++j) {
            float s = 0.0f;
            for (int64_t i = 0; i < d; ++i) s = std::fma(q[g * q_stride + i], fp16_to_fp32(keys[j][i]), s);
            scores[g * n_keys + j] = s;
        }
    }
}

// y[i] = fma(v[i], s, y[i]) rounded to binary16 and back, v binary16
void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(fp32_to_fp16(std::fma(fp16_to_fp32(v[i]), s, y[i])));
}

// y_g[i] = fma(v_j[i], s[g * s_stride + j], y_g[i]) for each value row j in order, then each g;
// y_g = y + g * y_stride, v_j binary16
void add_scaled_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const float* v,
                     int64_t v_stride, int64_t n_v, int64_t n) {
    for (int64_t j = 0; j < n_v; ++j)
        for (int64_t g = 0; g < n_y; ++g) {
            const float sg = s[g * s_stride + j];
            for (int64_t i = 0; i < n; ++i) {
                const float product = sg * v[j * v_stride + i];  // rounded: this level has no fused multiply-add
                y[g * y_stride + i] += product;
            }
        }
}

void fma_f16_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const uint16_t* const* v,
                  int64_t n_v, int64_t n) {
    for (int64_t j = 0; j < n_v; ++j)
        for (int64_t g = 0; g < n_y; ++g)
            for (int64_t i = 0; i < n; ++i)
                y[g * y_stride + i] = std::fma(fp16_to_fp32(v[j][i]), s[g * s_stride + j], y[g * y_stride + i]);
}

}  // namespace sinan::kernels::ref
