// The kernel tables behind kernels.h: one table of function pointers per SIMD level, the active
// one chosen once from cpu::best_level(). Private to src/kernels/, and to tests and benchmarks
// that compare levels (bench/, and the bandwidth and arithmetic probes of `sinan bench` in
// src/engine/bench.cpp):
// they may call any table the CPU supports (cpu::features()) directly.
//
// Entries take the arguments checked by kernels.h (supported type, n a multiple of the block
// size); a level without its own version of a kernel holds the next lower level's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/cpu.h"
#include "gguf/tensor_type.h"
#include "kernels/ops.h"

namespace sinan::kernels {

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
// sum of p[0..n) with many independent accumulators: the read-bandwidth probe (the limit that
// decoding is measured against), one loop per level so its load width follows the level.
using SumWordsFn = uint64_t (*)(const uint64_t* p, uint64_t n);
// Dot product of one weight row (n values of the weight type) with one activation row in
// vec_dot_type(weight type); n a multiple of both block sizes.
using VecDotFn = float (*)(const void* w, const void* x, int64_t n);
// The same for four activation rows x, x + x_stride, ... (bytes) at once, s[k] for row k, each
// bit-identical to VecDotFn's: one decoding of the weights serves four tokens (prefill).
using VecDotX4Fn = void (*)(const void* w, const void* x, size_t x_stride, int64_t n, float* s);
// y[t * y_stride + r] = row r of w . row t of x, for n_rows weight rows (w_row_bytes apart) and
// n_tokens activation rows in vec_dot_type (x_row_bytes apart): a matrix product that reads each
// weight once for all the tokens. Every result equals VecDotFn's for that row and token bit for
// bit, whatever n_tokens (so a token's result does not depend on its batch). scratch:
// scratch_bytes(n_tokens, n_cols) bytes, 64-byte aligned, owned by the call.
//
// Optionally (null where the level reads the type only in place) the same product over weights
// packed once by `pack` into the kernel's own layout (ops.h, pack_matrix): `pack` writes the rows
// [0, n_rows) as panels of 16 rows, 16 * w_row_bytes bytes a panel (the last one padded), so panel
// p lies where row 16p lies in the rows (a group of panels, where packed_group_rows says so);
// run_packed takes w there, with the arguments of run.
struct GemmKernel {
    void (*run)(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch);
    size_t (*scratch_bytes)(int64_t n_tokens, int64_t n_cols);
    void (*pack)(const void* w, size_t w_row_bytes, int64_t n_rows, int64_t n_cols, void* out) = nullptr;
    void (*run_packed)(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                       int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* scratch) = nullptr;
    size_t (*packed_scratch_bytes)(int64_t n_tokens, int64_t n_cols) = nullptr;
    // Optionally (null: run and run_packed read x as vec_dot_type rows) the kernel's own form of
    // the tokens, built once per product: prepare(x rows, x_row_bytes, n_tokens, n_cols, first, end,
    // out) writes tokens [first, end) of the n_tokens into out, prepared_bytes(n_tokens, n_cols)
    // bytes (64-byte aligned); calls for ranges that cover [0, n_tokens) may run on different
    // threads at once. run and run_packed then take out as x (x_row_bytes unused). However many
    // calls the rows are split into, over however many threads, the tokens are summarised once.
    void (*prepare)(const void* x, size_t x_row_bytes, int64_t n_tokens, int64_t n_cols, int64_t first, int64_t end,
                    void* out) = nullptr;
    size_t (*prepared_bytes)(int64_t n_tokens, int64_t n_cols) = nullptr;
    // Optionally (null: none) run_packed with decoding's weights fetched ahead in software (one
    // token; AVX-512 Q8_0 also 2 to 8), for the processors whose hardware prefetcher leaves
    // those kernels waiting on memory; the same results. matmul runs it in run_packed's place where
    // kernels.h's decode_read_ahead(type) holds.
    void (*run_packed_read_ahead)(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                  int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride,
                                  void* scratch) = nullptr;
    // Optionally (null: 16, every panel) the rows of a group of the packed layout of rows of n_cols
    // values, where the layout cuts long rows into slices (panel_slices.h): pack and run_packed then
    // take rows from a multiple of it, to a multiple of it or the matrix's last row.
    int64_t (*packed_group_rows)(int64_t n_cols) = nullptr;
};
// An arithmetic probe: n_rounds rounds of independent multiply-adds at the width the matrix
// kernels use, returning how many multiply-adds that was (the prompt-processing limit of
// `sinan bench` times it on every thread).
using PeakFn = uint64_t (*)(uint64_t n_rounds);
using RmsNormFn = void (*)(const float* x, const float* weight, float* y, int64_t n, float eps);
using SoftmaxFn = void (*)(float* x, int64_t n);
// y[i] = exp(x[i]): libm's expf on the scalar level; on the SIMD levels evaluated in double and
// rounded once (equal to libm's almost always, as their softmax and silu are).
using ExpFn = void (*)(const float* x, float* y, int64_t n);
using SiluMulFn = void (*)(const float* gate, const float* up, float* y, int64_t n);
using GeluFn = void (*)(const float* x, float* y, int64_t n);
using AddInplaceFn = void (*)(float* y, const float* x, int64_t n);
using FmaF16RowsFn = void (*)(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride,
                              const uint16_t* const* v, int64_t n_v, int64_t n);
using FmaF16RoundedFn = void (*)(float* y, const uint16_t* v, float s, int64_t n);
using AddScaledRowsFn = void (*)(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride,
                                 const float* v, int64_t v_stride, int64_t n_v, int64_t n);
using DotF16ChainsFn = void (*)(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                                int64_t n_keys, int64_t d, float* scores);
// ops.h's attend_f16_rounded in one kernel; scratch: 4 * (dk + 2 * n) floats (room for the queries a
// kernel takes together).
using AttendF16RoundedFn = void (*)(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                                    const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale,
                                    float* out, int64_t out_stride, float* scratch);

// ops.h's attend_q8_0 in one kernel; scratch as AttendF16RoundedFn's.
using AttendQ8_0Fn = void (*)(const float* q, int64_t q_stride, int64_t n_q, const void* const* keys,
                              const void* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                              int64_t out_stride, float* scratch);
// One past the largest GGML type id (gguf::TensorType) the tables index.
inline constexpr int kNumTypeIds = 40;

struct KernelTable {
    const char* name;                       // "scalar", "avx2", "avx512"
    DequantizeFn dequantize[kNumTypeIds];   // null where the type is not supported
    QuantizeFn quantize[kNumTypeIds];
    DotF32Fn dot_f32;
    SumWordsFn sum_words;
    // Activation quantizers, indexed by a dot format (F32, F16, BF16, Q8_0, Q8_K; null elsewhere).
    QuantizeFn quantize_activations[kNumTypeIds];
    VecDotFn vec_dot[kNumTypeIds];  // by weight type; null where the type is not supported
    VecDotX4Fn vec_dot_x4[kNumTypeIds];  // by weight type; null where there is none (use vec_dot)
    GemmKernel gemm[kNumTypeIds];        // by weight type; run is null where there is none
    PeakFn peak_int8_macs;               // null where the level has no integer matrix kernel
    PeakFn peak_f32_macs;                // null on the scalar level
    RmsNormFn rmsnorm;
    SoftmaxFn softmax;
    ExpFn exp;
    SiluMulFn silu_mul;
    GeluFn gelu;
    AddInplaceFn add_inplace;
    FmaF16RowsFn fma_f16_rows;
    FmaF16RoundedFn fma_f16_rounded;
    AddScaledRowsFn add_scaled_rows;
    DotF16ChainsFn dot_f16_chains;
    AttendF16RoundedFn attend_f16_rounded;  // null: attend_f16_rounded_composite on this table
    AttendQ8_0Fn attend_q8_0;               // null: attend_q8_0_composite on this table
};

// The format activations take to meet weights of `weight` in a dot product, as in GGML: F32, F16
// and BF16 meet their own type, the 32-value block types Q8_0, the K types Q8_K (256-value blocks
// with a float scale and 16-value sums, blocks.h). `weight` must be convertible (kernels.h).
gguf::TensorType vec_dot_type(gguf::TensorType weight);

// decode_read_ahead's rule (kernels.h) for weights of type `weight`: on for Intel (family 6),
// and for AMD family 26 (Zen 5) except F16; off for every other processor; `setting`
// (SINAN_READ_AHEAD's value, or null) "on" or "off" overrides it, any other value is ignored.
bool read_ahead_for(const cpu::Identity& processor, const char* setting, gguf::TensorType weight);
// The table of one level (built on first use; the level need not be supported by this CPU, but
// its functions may only be called when it is).
const KernelTable& kernel_table(cpu::Level level);

// The table kernels.h uses: kernel_table(cpu::best_level()).
const KernelTable& active_table();

// ops.h's matmul on the kernels of `table` (matmul itself uses active_table()): lets benchmarks
// and tests run every level the CPU supports in one process.
void matmul(const KernelTable& table, const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// ops.h's attend_f16_rounded from the table's own kernels, one call per step and cell (dot_f32,
// the binary16 conversions, exp, fma_f16_rounded): what a level without an
// attend_f16_rounded kernel runs, and what such a kernel must equal bit for bit.
void attend_f16_rounded_composite(const KernelTable& table, const float* q, int64_t q_stride, int64_t n_q,
                                  const uint16_t* const* keys, const uint16_t* const* values, int64_t n, int64_t dk,
                                  int64_t dv, float scale, float* out, int64_t out_stride);
// ops.h's attend_q8_0 likewise (the table's Q8_0 activation quantizer, vec_dot, exp and
// dequantize, one call per step and cell).
void attend_q8_0_composite(const KernelTable& table, const float* q, int64_t q_stride, int64_t n_q,
                           const void* const* keys, const void* const* values, int64_t n, int64_t dk, int64_t dv,
                           float scale, float* out, int64_t out_stride);

}  // namespace sinan::kernels
