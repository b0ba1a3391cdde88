// Scalar reference kernels: the readable definition of every kernel, with its math in one line,
// and the fallback on CPUs without AVX2. SIMD versions must equal these (see kernels.h).
// Arguments as in kernels.h; n is a multiple of the type's block size. Private to src/kernels/.
#pragma once

#include <cstdint>

namespace sinan::kernels::ref {

void dequantize_f32(const void* src, float* dst, int64_t n);
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);

void quantize_f32(const float* src, void* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q2_k(const float* src, void* dst, int64_t n);
void quantize_q3_k(const float* src, void* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n);
void quantize_q5_k(const float* src, void* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void quantize_q8_0_activations(const float* src, void* dst, int64_t n);

float dot_f32(const float* a, const float* b, int64_t n);
uint64_t sum_words(const uint64_t* p, uint64_t n);

// Dot products of a weight row (w) with an activation row in its dot format (dispatch.h).
float vec_dot_f16(const void* w, const void* x, int64_t n);
float vec_dot_bf16(const void* w, const void* x, int64_t n);
float vec_dot_q4_0(const void* w, const void* x, int64_t n);
float vec_dot_q4_1(const void* w, const void* x, int64_t n);
float vec_dot_q5_0(const void* w, const void* x, int64_t n);
float vec_dot_q5_1(const void* w, const void* x, int64_t n);
float vec_dot_q8_0(const void* w, const void* x, int64_t n);
float vec_dot_q2_k(const void* w, const void* x, int64_t n);
float vec_dot_q3_k(const void* w, const void* x, int64_t n);
float vec_dot_q4_k(const void* w, const void* x, int64_t n);
float vec_dot_q5_k(const void* w, const void* x, int64_t n);
float vec_dot_q6_k(const void* w, const void* x, int64_t n);

// Elementwise operations, contracts as in ops.h.
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);
void softmax(float* x, int64_t n);
void exp_f32(const float* x, float* y, int64_t n);
void silu_mul(const float* gate, const float* up, float* y, int64_t n);
void gelu(const float* x, float* y, int64_t n);
void add_inplace(float* y, const float* x, int64_t n);
void fma_f16_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const uint16_t* const* v,
                  int64_t n_v, int64_t n);
void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n);
void add_scaled_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const float* v,
                     int64_t v_stride, int64_t n_v, int64_t n);
void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores);

}  // namespace sinan::kernels::ref
