#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "kernels/kernels.h"

namespace sinan::kernels {

namespace {

// Q8_K (GGML's activation format for the K-quant dot products): per 256 values,
// d = -max / 127 with max the value of largest magnitude (signed), q = min(127, round(x / d)).
void round_through_q8_k(const float* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n; b += 256) {
        float amax = 0.0f, max = 0.0f;
        for (int64_t j = b; j < b + 256; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            std::fill(y + b, y + b + 256, 0.0f);
            continue;
        }
        const float iscale = -127.0f / max;
        const float d = 1.0f / iscale;
        for (int64_t j = b; j < b + 256; ++j)
            y[j] = d * std::min(127.0f, std::nearbyint(iscale * x[j]));  // nearbyint: ties to even
    }
}

}  // namespace

void round_activations(gguf::TensorType weight_type, const float* x, float* y, int64_t n) {
    using gguf::TensorType;
    thread_local std::vector<uint8_t> tmp;
    auto via = [&](TensorType t) {
        tmp.resize(gguf::row_bytes(t, static_cast<uint64_t>(n)));
        quantize_row(t, x, tmp.data(), n);
        dequantize_row(t, tmp.data(), y, n);
    };
    switch (weight_type) {
        case TensorType::F16: via(TensorType::F16); break;
        case TensorType::BF16: via(TensorType::BF16); break;
        case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
        case TensorType::Q8_0:
            via(TensorType::Q8_0);
            break;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K:
            round_through_q8_k(x, y, n);
            break;
        default: std::copy_n(x, n, y); break;
    }
}

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    const uint64_t row_bytes = gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
    const auto* base = static_cast<const uint8_t*>(w.data);
    thread_local std::vector<float> xr;
    const float* xs = x;
    if (w.type != gguf::TensorType::F32) {
        xr.resize(static_cast<size_t>(n_tokens * w.n_cols));
        for (int64_t t = 0; t < n_tokens; ++t) round_activations(w.type, x + t * w.n_cols, xr.data() + t * w.n_cols, w.n_cols);
        xs = xr.data();
    }
    pool.parallel_for(w.n_rows, [&](int64_t r0, int64_t r1, int) {
        thread_local std::vector<float> row;
        if (static_cast<int64_t>(row.size()) < w.n_cols) row.resize(static_cast<size_t>(w.n_cols));
        for (int64_t r = r0; r < r1; ++r) {
            const float* wr = reinterpret_cast<const float*>(base + static_cast<uint64_t>(r) * row_bytes);
            if (w.type != gguf::TensorType::F32) {
                dequantize_row(w.type, base + static_cast<uint64_t>(r) * row_bytes, row.data(), w.n_cols);
                wr = row.data();
            }
            for (int64_t t = 0; t < n_tokens; ++t) y[t * w.n_rows + r] = dot_f32(wr, xs + t * w.n_cols, w.n_cols);
        }
    });
}

void get_row(const Matrix& w, int64_t row, float* y) {
    SINAN_CHECK(row >= 0 && row < w.n_rows, "get_row: row out of range");
    const uint64_t row_bytes = gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(row) * row_bytes, y, w.n_cols);
}

void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base, float freq_scale,
          const float* factors, RopeLayout layout) {
    // Angles advance by a constant ratio per pair, multiplied in float as the reference does.
    const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
    thread_local std::vector<float> cos_sin;
    cos_sin.resize(static_cast<size_t>(n_rot));
    float theta = static_cast<float>(pos);
    for (int64_t i = 0; i < n_rot / 2; ++i) {
        const float t = freq_scale * (factors != nullptr ? theta / factors[i] : theta);
        cos_sin[2 * i] = std::cos(t);
        cos_sin[2 * i + 1] = std::sin(t);
        theta *= theta_scale;
    }
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < n_rot / 2; ++i) {
            const int64_t a = layout == RopeLayout::kNormal ? 2 * i : i;
            const int64_t b = layout == RopeLayout::kNormal ? 2 * i + 1 : i + n_rot / 2;
            const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

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

void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_inplace(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace sinan::kernels
