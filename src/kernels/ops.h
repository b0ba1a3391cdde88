// The operations of a transformer forward pass, on float activations: matrix products with
// weights of any supported type (used in place from the model file), RMSNorm, rotary position
// embedding, softmax, SwiGLU. Row conversion and dot products underneath go through the
// dispatched kernels (kernels.h), so these run the CPU's best SIMD path.
//
// Buffer shapes are given as [rows, cols], row-major, floats unless said otherwise.
// The SIMD versions of the elementwise operations compute exp in double and round once, so they
// equal the scalar reference (libm expf) almost always; sums the reference takes in double stay in
// double, in another order. Thread-safety: pure functions; matmul splits its rows over the given pool.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"

namespace sinan::kernels {

// A weight matrix as GGUF stores it: n_rows rows of n_cols values of `type`, each row
// gguf::row_bytes(type, n_cols) bytes, rows contiguous. (GGUF shape [n_cols, n_rows].)
struct Matrix {
    gguf::TensorType type = gguf::TensorType::F32;
    const void* data = nullptr;
    int64_t n_cols = 0;
    int64_t n_rows = 0;
};

// y[t, r] = sum_c W[r, c] * x'[t, c], x' = round_activations(W.type, x)
// x: [n_tokens, w.n_cols]; y: [n_tokens, w.n_rows]. Each activation row is quantized once into the
// weight type's dot format, then integer dot products (block sums scaled in float, as GGML's)
// run over the weight rows, which are split over `pool`. Scratch is thread_local and only grows:
// no allocation per call once the largest batch has been seen.
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// y = x rounded the way a dot product with weights of `weight_type` consumes it: F16 and BF16
// weights meet activations in their own format, the 32-value block types meet Q8_0 (halves
// rounded to even, as GGML's SIMD quantizer does), the K types meet Q8_K (256-value blocks, float
// scale). This is what the integer dot products of matmul compute on, and what the reference
// engine does, so results agree with it. F32: y = x. x, y: [n].
void round_activations(gguf::TensorType weight_type, const float* x, float* y, int64_t n);

// y = W[row, :] as floats (an embedding lookup). y: [w.n_cols].
void get_row(const Matrix& w, int64_t row, float* y);

// y[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (sum of squares in double, as the reference)
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);

enum class RopeLayout {
    kNormal,  // rotates pairs (x[2i], x[2i+1])          — llama
    kNeox,    // rotates pairs (x[i], x[i + n_rot/2])    — qwen2, deepseek2
};

// Rotary embedding of one token's heads, in place. x: [n_heads, head_dim]; the first n_rot
// values of each head rotate. Pair i turns by pos * freq_scale * freq_base^(-2i/n_rot) / factor[i]
// (factor: per-pair divisor such as Llama 3's rope_freqs, or null for 1).
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos, float freq_base, float freq_scale,
          const float* factors, RopeLayout layout);

// x = exp(x - max) / sum, in place. n >= 1.
void softmax(float* x, int64_t n);

// y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g))   (y may be gate or up)
void silu_mul(const float* gate, const float* up, float* y, int64_t n);

// y[i] = 0.5 x[i] (1 + tanh(sqrt(2/pi) (x[i] + 0.044715 x[i]^3)))   (GGML's GELU; y may be x)
void gelu(const float* x, float* y, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace sinan::kernels
