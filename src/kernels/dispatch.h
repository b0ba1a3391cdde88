// The kernel tables behind kernels.h: one table of function pointers per SIMD level, the active
// one chosen once from cpu::best_level(). Private to src/kernels/, and to tests and benchmarks
// that compare levels: they may call any table the CPU supports (cpu::features()) directly.
//
// Entries take the arguments checked by kernels.h (supported type, n a multiple of the block
// size); a level without its own version of a kernel holds the next lower level's.
#pragma once

#include <cstdint>

#include "base/cpu.h"
#include "gguf/tensor_type.h"

namespace sinan::kernels {

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);

// One past the largest GGML type id (gguf::TensorType) the tables index.
inline constexpr int kNumTypeIds = 40;

struct KernelTable {
    const char* name;                       // "scalar", "avx2", "avx512"
    DequantizeFn dequantize[kNumTypeIds];   // null where the type is not supported
    QuantizeFn quantize[kNumTypeIds];
    DotF32Fn dot_f32;
};

// The table of one level (built on first use; the level need not be supported by this CPU, but
// its functions may only be called when it is).
const KernelTable& kernel_table(cpu::Level level);

// The table kernels.h uses: kernel_table(cpu::best_level()).
const KernelTable& active_table();

}  // namespace sinan::kernels
