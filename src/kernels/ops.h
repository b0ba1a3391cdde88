// The operations of a transformer forward pass, on float activations: matrix products with
// weights of any supported type (used in place from the model file), RMSNorm, rotary position
// embedding, softmax, SwiGLU, LayerNorm and GELU. Row conversion and dot products underneath go through the
// dispatched kernels (kernels.h), so these run the CPU's best SIMD path.
//
// Buffer shapes are given as [rows, cols], row-major, floats unless said otherwise.
// The SIMD versions of the elementwise operations compute exp in double and round once, so they
// equal the scalar reference (libm expf) almost always; sums the reference takes in double stay in
// double, in another order. Thread-safety: pure functions; matmul splits its rows over the given pool.
#pragma once

#include <cstdint>
#include <span>

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
    // The same rows packed for this CPU's matrix kernel (pack_matrix), or null. matmul reads
    // these where set; everything else (embedding rows, dot_row) reads `data`.
    const void* panels = nullptr;
};

// y[t, r] = sum_c W[r, c] * x'[t, c], x' = round_activations(W.type, x)
// x: [n_tokens, w.n_cols]; y: [n_tokens, w.n_rows]. Each activation row is quantized once into the
// weight type's dot format, then integer dot products (block sums scaled in float, as GGML's)
// run over the weight rows, which are split over `pool`. Where the level has a GEMM kernel for
// the type (dispatch.h), rows go in panels of 16 that meet all the tokens while in cache, and
// every result is still the single-row dot product's, bit for bit: a token's output does not
// depend on the batch it is in. Scratch is thread_local and only grows: no allocation per call
// once the largest batch has been seen. n_tokens 0 computes nothing.
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Packing. Where this CPU's matrix kernel for w's type has a layout of its own (Q8_0 on AVX-512
// VNNI: 16 rows' quants transposed so that a vector lane is a row, each two blocks' scales
// before them, panel_runs.h; Q4_K's and Q6_K's long rows in slices, panel_slices.h),
// packed_bytes(w) > 0 and pack_matrix writes w's rows in it, split over `pool`; a Matrix whose
// .panels points there gives matmul the same results bit for bit without transposing the weights
// on every call (a batch of a few tokens then costs about what one token does: reading the
// weights). The layout belongs to the active kernel table; matmul with another table ignores
// .panels. packed_bytes is 0 where there is no such layout (use the rows in place).
uint64_t packed_bytes(const Matrix& w);
// out: packed_bytes(w) bytes, 64-byte aligned.
void pack_matrix(const Matrix& w, void* out, ThreadPool& pool);

// y[i] = matmul(*w[i], x, n_tokens) for matrices that share their input (q, k and v; gate and up),
// bit for bit, in one parallel loop over all their rows with x quantized once per dot format: a
// decoded token hands work to the pool once instead of once per matrix. Every w[i] has x's width;
// y[i]: [n_tokens, w[i]->n_rows]. Falls back to one matmul per matrix where a type has no GEMM
// kernel on this level.
void matmul_shared_input(std::span<const Matrix* const> w, const float* x, int64_t n_tokens, std::span<float* const> y,
                         ThreadPool& pool);

// y = x rounded the way a dot product with weights of `weight_type` consumes it: F16 and BF16
// weights meet activations in their own format, the 32-value block types meet Q8_0 (halves
// rounded to even, as GGML's SIMD quantizer does), the K types meet Q8_K (256-value blocks, float
// scale). This is what the integer dot products of matmul compute on, and what the reference
// engine does, so results agree with it. F32: y = x. x, y: [n].
void round_activations(gguf::TensorType weight_type, const float* x, float* y, int64_t n);

// Dot products of one float vector with many rows of a stored type (attention over a quantized
// KV cache): x is quantized once into the format matmul gives activations for weights of
// row_type (round_activations), dot_operand_bytes(row_type, n) bytes at x_dot; then each
// dot_row(row_type, row, x_dot, n) is matmul's dot product of one weight row with that x.
// n: a multiple of the block sizes of row_type and of its dot format; x_dot 2-byte aligned.
uint64_t dot_operand_bytes(gguf::TensorType row_type, int64_t n);
void quantize_dot_operand(gguf::TensorType row_type, const float* x, void* x_dot, int64_t n);
float dot_row(gguf::TensorType row_type, const void* row, const void* x_dot, int64_t n);
// y[t * y_stride + r] = dot_row(row_type, row r, operand t, n) for n_rows rows row_stride bytes
// apart from `rows` and n_x operands side by side at x_dot (dot_operand_bytes each), bit for bit,
// on the calling thread: through the type's matrix kernel where it has one.
void dot_rows(gguf::TensorType row_type, const void* rows, uint64_t row_stride, int64_t n_rows, const void* x_dot,
              int64_t n_x, int64_t n, float* y, int64_t y_stride);

// y = W[row, :] as floats (an embedding lookup). y: [w.n_cols].
void get_row(const Matrix& w, int64_t row, float* y);

// y[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (sum of squares in double, as the reference)
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);

// y[i] = (x[i] - mean(x)) / sqrt(var(x) + eps) * weight[i] + bias[i]   (BERT's LayerNorm; mean and
// variance summed in double, as GGML's norm; bias may be null)
void layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps);

enum class RopeLayout {
    kNormal,  // rotates pairs (x[2i], x[2i+1])          — llama, deepseek2
    kNeox,    // rotates pairs (x[i], x[i + n_rot/2])    — qwen2
};

// How rotary embedding turns a head (GGML's rope_ext parameters).
// Pair i has the base angle pos * freq_base^(-2i/n_rot) / factors[i] (factors: a per-pair divisor
// such as Llama 3's rope_freqs, or null for 1). Without YaRN (ext_factor 0) it turns by
// freq_scale times that (linear scaling); cos and sin are multiplied by attn_factor.
// YaRN (ext_factor 1) blends the scaled and the original angle per pair:
//   ramp = 1 - clamp((i - corr_low) / max(0.001, corr_high - corr_low), 0, 1)
//   angle = scaled * (1 - ramp) + original * ramp        (high frequencies keep their angle)
// and multiplies cos and sin by attn_factor * (1 + 0.1 ln(1 / freq_scale)).
struct RopeParams {
    int64_t n_rot = 0;  // rotary dimensions per head (even, <= head size)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;  // 1 / scaling factor
    const float* factors = nullptr;
    RopeLayout layout = RopeLayout::kNormal;
    float ext_factor = 0.0f;  // 1: YaRN, 0: plain
    float attn_factor = 1.0f;
    float corr_low = 0.0f, corr_high = 0.0f;  // yarn_corr_dims
};

// YaRN's correction range in pair indices: the pairs that turn beta_fast times (low end, floor)
// and beta_slow times (high end, ceil) within the original context, clamped to [0, n_rot - 1].
void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                    float* corr_low, float* corr_high);

// Rotary embedding of one token's heads, in place. x: n_heads heads of head_stride floats each;
// the first p.n_rot values of each head rotate (pass x + offset to rotate a later part).
void rope(float* x, int64_t n_heads, int64_t head_stride, int32_t pos, const RopeParams& p);

// x = exp(x - max) / sum, in place. n >= 1.
void softmax(float* x, int64_t n);

// y[i] = exp(x[i])   (y may be x)
void exp_f32(const float* x, float* y, int64_t n);

// y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g))   (y may be gate or up)
void silu_mul(const float* gate, const float* up, float* y, int64_t n);
// The same split over the pool in runs of 64 values from 4,096 values on (a value's result does
// not depend on the split). Between a gate/up product and the down product even one token's
// values: done by the caller alone, 8,960 of them took long enough for the pool's worker to fall
// asleep (ThreadPool::kSpin), and the down product then waited for it to wake (bench/NOTES.md).
void silu_mul(const float* gate, const float* up, float* y, int64_t n, ThreadPool& pool);

// y[i] = 0.5 x[i] (1 + tanh(sqrt(2/pi) (x[i] + 0.044715 x[i]^3)))   (GGML's GELU; y may be x)
void gelu(const float* x, float* y, int64_t n);

// GELU as GGML's CPU backend computes it (what llama.cpp's encoders use): y[i] = 0 for x[i] <= -10,
// x[i] for x[i] >= 10, else gelu(x[i] rounded to F16) rounded to F16 — a lookup in a table of the
// 65,536 F16 values, built once from the formula above (libm tanh). y may be x.
void gelu_f16(const float* x, float* y, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// For each value row j < n_v in order, and in it each accumulator g < n_y:
//   y[g * y_stride + i] = fma(v[j][i], s[g * s_stride + j], y[g * y_stride + i]),  i < n
// one rounding per element (v[j]: n binary16 values): attention's weighted sums of cached values,
// for the n_y query heads that share them (grouped-query attention) at once. Accumulator g gets
// exactly the operations it would get alone (n_y = 1), row after row; each value is converted once.
void fma_f16_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const uint16_t* const* v,
                  int64_t n_v, int64_t n);

// For each value row j < n_v in order, and in it each accumulator g < n_y:
//   y[g * y_stride + i] = y[g * y_stride + i] + s[g * s_stride + j] * v[j * v_stride + i],  i < n
// the product rounded, then the sum (no fused multiply-add): the tiled attention's weighted sums
// over a quantized cache, its value rows dequantized to float. Accumulator g gets exactly the
// operations it would get alone (n_y = 1), row after row.
void add_scaled_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const float* v,
                     int64_t v_stride, int64_t n_v, int64_t n);

// y[i] = fma(v[i], s, y[i]) rounded to binary16 (nearest even) and back to float: one step of the
// reference's small-batch attention, whose running weighted sum of values is kept in binary16;
// the same as fma_f16_rows for one row followed by quantize_row and dequantize_row (F16), in one
// pass.
void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n);

// The reference's small-batch attention (model/attention.h, kSmallBatch) over binary16 keys and
// values, for n_q queries that share them: query g (dk floats at q + g * q_stride) is rounded to
// binary16, then over the n cells in order (keys[c]: dk values, values[c]: dv values)
//   s = dot_f32(q_g, key) * scale; online softmax: where s is a new maximum the running sum of
//   values is multiplied by exp(max - s) and rounded to binary16, else the value's weight is
//   exp(s - max); the sum = fma_f16_rounded(sum, value, weight)
// (exp: libm's expf in the scalar reference, as the reference engine; evaluated in double and
// rounded once on the SIMD levels, so they agree almost always, as softmax and silu do)
// and out_g (dv floats at out + g * out_stride) = sum / the weights' sum (0 if that is 0). The
// same bits as those steps taken one kernel call at a time (dispatch.h,
// attend_f16_rounded_composite), whatever n_q.
void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride);

// The small-batch attention over a Q8_0 cache (model/attention.h: no reference numerics to follow)
// for n_q queries that share its keys and values: query g (dk floats) is quantized once as
// matmul's activations (quantize_dot_operand), then over the n cells in order (keys[c], values[c]:
// rows of dk and dv values in Q8_0 blocks; dk, dv multiples of 32)
//   s = dot_row(Q8_0, key, q_g) * scale; online softmax: where s is a new maximum the running sum
//   (dv floats) is multiplied by exp(max - s), else the value's weight is exp(s - max); the sum +=
//   weight * the dequantized value (a multiply, then an add)
// (exp as attend_f16_rounded's) and out_g = sum / the weights' sum (0 if that is 0). The same bits
// as those steps taken one kernel call at a time (dispatch.h, attend_q8_0_composite), whatever
// n_q.
void attend_q8_0(const float* q, int64_t q_stride, int64_t n_q, const void* const* keys, const void* const* values,
                 int64_t n, int64_t dk, int64_t dv, float scale, float* out, int64_t out_stride);

// scores[g * n_keys + j] = q_g . k_j summed in index order with one fused multiply-add per term
// (s = fma(q_g[i], k_j[i], s) from s = 0), q_g = q + g * q_stride: the dot products of n_q queries
// (the query heads that share a KV head) with n_keys binary16 keys (keys[j]: d values each), as
// the reference engine's tiled attention computes them for each query. Each query's scores are
// the same whatever n_q; the keys are converted and transposed once for all of them.
void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores);

}  // namespace sinan::kernels
