// The SIMD kernels of each level, declared for dispatch.cpp. Defined in src/kernels/avx2/ and
// src/kernels/avx512/, each folder compiled with its own instruction-set flags; call them only
// when cpu::features() says the CPU has that level. Arguments as in ref/ref.h. Private to
// src/kernels/.
#pragma once

#include <cstdint>

namespace sinan::kernels::avx2 {
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
}  // namespace sinan::kernels::avx2

namespace sinan::kernels::avx512 {
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
}  // namespace sinan::kernels::avx512
