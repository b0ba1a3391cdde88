// sinan's numeric kernels, public entry points: converting rows between GGML tensor types and
// float, and the first compute kernel (dot_f32). Each call runs the fastest implementation this
// CPU allows (AMX, AVX-512, AVX-VNNI, AVX2 or the scalar reference), chosen once at start-up from
// cpu::best_level(), so SINAN_CPU=scalar|avx2|avx-vnni|avx512|amx selects it for a whole process.
//
// Buffers: a row of `n` values of type T takes gguf::row_bytes(T, n) bytes; `n` must be a
// multiple of the type's block size (32 for Q4_0..Q8_0, 256 for the K types, 1 for F32/F16/
// BF16). Quantized and 16-bit buffers must be 2-byte aligned (block fields are uint16_t).
// Source and destination must not overlap. Block layouts: docs/formats/quant-types.md.
//
// Results do not depend on the path for conversions: every SIMD dequantizer computes the same
// float operations as the scalar reference, so outputs are bit-identical; quantizers write the
// bytes GGML's reference quantizers write (deterministic round-to-nearest, no importance matrix),
// the scalar reference on every path except F16 on AVX-512 (vcvtps2ph, the same bits). dot_f32 sums in a path-dependent
// order, so results differ in the last bits between paths.
//
// Thread-safety: all functions are pure over their arguments; call them from any thread.
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/half.h"

namespace sinan::kernels {

// True for the types dequantize_row and quantize_row accept: exactly those TypeTraits marks
// supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
bool is_convertible(gguf::TensorType type);

// dst[i] = value i of the row. src: row_bytes(type, n) bytes; dst: n floats.
// CHECKs that the type is convertible and n a multiple of its block size.
void dequantize_row(gguf::TensorType type, const void* src, float* dst, int64_t n);

// The reverse: dst = src in `type` (rounded to nearest as GGML's reference quantizers do).
// src: n floats; dst: row_bytes(type, n) bytes. CHECKs as dequantize_row does: every supported
// type can be a target; the unsupported ones (IQ*, TQ*, Q8_1, Q8_K, MXFP4, integer types) CHECK.
void quantize_row(gguf::TensorType type, const float* src, void* dst, int64_t n);

// sum_i a[i] * b[i], summed in float. a, b: n floats each; n >= 0, any value.
float dot_f32(const float* a, const float* b, int64_t n);

// Which implementation runs: "amx", "avx512", "avx2" or "scalar".
const char* active_path();

// Which kernels a matrix product with weights of `weight` runs on: "amx-int8" (Q8_0 products of 16
// or more tokens on the tile unit, fewer on VNNI), "avx512-vnni" (integer dot products on VNNI),
// "avx512-bf16", or active_path() where nothing more specific applies.
const char* matmul_path(gguf::TensorType weight);

// Whether decoding's products over packed weights of type `weight` (Q8_0, Q4_K, Q6_K: one token,
// and Q8_0's 2 to 8 too; F16 on AVX-512: one token) fetch their weights ahead in software: on
// where it was measured faster, off elsewhere. The quantized types: AMD family 26 (Zen 5:
// generation 7-24% faster; 8 sequences of the 1.5B Q8_0 model ~13%, Q8_0's 2 to 8 tokens then
// fetching into L1 instead of streaming into L2) and Intel (family 6; on model 207, generation of
// the 1.5B Q4_K_M from 62-73% of the read limit to 87-91%, Q4_K 74-82% -> 90-96%, Q8_0 87-91% ->
// 95%), not AMD family 25 (Zen 4: these kernels 5-18% slower with it, every form tried again on
// 2026-12-08). F16: Intel only (62-68% -> 95-101%; an earlier F16 read-ahead ran ~9% slower on
// Zen 5). bench/NOTES.md has the figures. SINAN_READ_AHEAD=on|off overrides it for a process,
// every type. The results are the same bits either way.
bool decode_read_ahead(gguf::TensorType weight);

}  // namespace sinan::kernels
