// The SIMD kernels of each level, declared for dispatch.cpp. Defined in src/kernels/avx2/,
// src/kernels/avx_vnni/ and src/kernels/avx512/ (and amx/), each folder compiled with its own
// instruction-set flags; call them only when cpu::features() says the CPU has that level.
// Arguments as in ref/ref.h. Private to src/kernels/ and its tests. The AVX-512 integer dot
// products use VNNI (vpdpbusd/vpdpwssd) and vec_dot_bf16 uses AVX512-BF16 (vdpbf16ps): dispatch.cpp
// installs them only where the CPU has those.
#pragma once

#include <cstddef>
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
uint64_t sum_words(const uint64_t* p, uint64_t n);
// Activation quantizers writing the scalar path's bytes (avx2/quantize.cpp).
void quantize_q8_0_activations(const float* src, void* dst, int64_t n);
void quantize_q8_k_activations(const float* src, void* dst, int64_t n);
float vec_dot_f16(const void* w, const void* x, int64_t n);
float vec_dot_bf16(const void* w, const void* x, int64_t n);
float vec_dot_q4_0(const void* w, const void* x, int64_t n);
float vec_dot_q8_0(const void* w, const void* x, int64_t n);
float vec_dot_q4_k(const void* w, const void* x, int64_t n);
float vec_dot_q6_k(const void* w, const void* x, int64_t n);
// Four activation rows (x_stride bytes apart) against one weight row, s[k] for row k, each
// bit-identical to the single-row dot product above (dispatch.h, VecDotX4Fn).
void vec_dot_f16_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
void vec_dot_q8_0_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
void vec_dot_q4_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
void vec_dot_q6_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
// Q8_0 matrix products (dispatch.h, GemmKernel): rows in place, and packed into the AVX-512
// kernel's panels (avx2/gemm_q8_0.cpp).
void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q8_0_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
// The same for Q4_K (avx2/gemm_q4_k.cpp).
void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q4_k_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q4_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q4_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q4_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q4_k_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
// The same for Q6_K (avx2/gemm_q6_k.cpp).
void gemm_q6_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q6_k_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q6_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q6_k_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);
void softmax(float* x, int64_t n);
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
}  // namespace sinan::kernels::avx2

// The avx-vnni level (avx_vnni/): the AVX2 level's Q8_0 products with 256-bit vpdpbusd
// (AVX-VNNI, Intel's client cores without AVX-512), on tokens prepared once per product
// (GemmKernel::prepare); the panels are the AVX2 level's (avx2::pack_q8_0_panels).
namespace sinan::kernels::avx_vnni {
void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out);
size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols);
void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
// Q4_K's over the AVX2 level's panels (avx_vnni/gemm_q4_k.cpp; packed by avx2::pack_q4_k_panels).
void gemm_q4_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q4_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
// Q6_K's likewise (avx_vnni/gemm_q6_k.cpp; packed by avx2::pack_q6_k_panels).
void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
// The arithmetic probe (dispatch.h, PeakFn): vpdpbusd on 256-bit vectors (avx_vnni/peak.cpp).
uint64_t peak_int8_macs(uint64_t n_rounds);
}  // namespace sinan::kernels::avx_vnni

namespace sinan::kernels::avx512 {
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
uint64_t sum_words(const uint64_t* p, uint64_t n);
float vec_dot_f16(const void* w, const void* x, int64_t n);
float vec_dot_bf16(const void* w, const void* x, int64_t n);
float vec_dot_q4_0(const void* w, const void* x, int64_t n);
float vec_dot_q8_0(const void* w, const void* x, int64_t n);
float vec_dot_q4_k(const void* w, const void* x, int64_t n);
float vec_dot_q6_k(const void* w, const void* x, int64_t n);
void vec_dot_q4_k_x4(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out);
size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q8_0_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void gemm_f16(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
              int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void prepare_f16(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                 void* out);
size_t prepared_f16_bytes(int64_t n_tokens, int64_t n_cols);
void pack_f16(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_f16_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                     int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_f16_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_f32(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
              int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_float_scratch_bytes(int64_t n_tokens, int64_t n_cols);  // gemm_f16's (packed too), gemm_f32's: none
void gemm_q4_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q4_k_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q4_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q4_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q4_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q4_k_packed_fetch_blocks(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                   int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q4_k_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void prepare_q4_k(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out);
size_t prepared_q4_k_bytes(int64_t n_tokens, int64_t n_cols);
void gemm_q6_k(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q6_k_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void pack_q6_k_panels(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out);
void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q6_k_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void prepare_q6_k(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out);
size_t prepared_q6_k_bytes(int64_t n_tokens, int64_t n_cols);
void quantize_q8_0_activations(const float* src, void* dst, int64_t n);
void quantize_q8_k_activations(const float* src, void* dst, int64_t n);
uint64_t peak_int8_macs(uint64_t n_rounds);
uint64_t peak_f32_macs(uint64_t n_rounds);
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
void quantize_f16(const float* src, void* dst, int64_t n);
void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride, float* scratch);
void attend_q8_0(const float* q, int64_t q_stride, int64_t n_q, const void* const* keys, const void* const* values,
                 int64_t n, int64_t dk, int64_t dv, float scale, float* out, int64_t out_stride, float* scratch);
}  // namespace sinan::kernels::avx512

// The amx level (amx/gemm_q8_0.cpp): Q8_0 products of 16 or more tokens on the tile unit (AMX-INT8),
// fewer on the AVX-512 kernels above; call only where cpu::request_amx() granted the tile state.
namespace sinan::kernels::amx {
void gemm_q8_0(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, int64_t n_tokens,
               int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_scratch_bytes(int64_t n_tokens, int64_t n_cols);
void prepare_q8_0(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                  void* out);
size_t prepared_q8_0_bytes(int64_t n_tokens, int64_t n_cols);
void gemm_q8_0_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
void gemm_q8_0_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
size_t gemm_q8_0_packed_scratch_bytes(int64_t n_tokens, int64_t n_cols);
// TDPBSUD on full tiles (the amx level's arithmetic probe, dispatch.h PeakFn).
uint64_t peak_int8_macs(uint64_t n_rounds);
// gemm_q8_0_packed with the tile instructions emulated (any CPU with AVX-512 VNNI): x prepared by
// prepare_q8_0; returns null, or what would have made the hardware fault. For tests.
const char* gemm_q8_0_packed_emulated(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                                      size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride);
}  // namespace sinan::kernels::amx
