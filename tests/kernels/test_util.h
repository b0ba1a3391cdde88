// Helpers shared by the kernels tests: the levels this CPU can run, random rows of each type.
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/cpu.h"
#include "gguf/tensor_type.h"
#include "kernels/kernels.h"

namespace sinan::kernels::test_util {

// Every level this CPU can execute, scalar first (ignores SINAN_CPU: tests compare them all).
inline std::vector<cpu::Level> runnable_levels() {
    std::vector<cpu::Level> v;
    for (cpu::Level level :
         {cpu::Level::kScalar, cpu::Level::kAvx2, cpu::Level::kAvxVnni, cpu::Level::kAvx512, cpu::Level::kAmx})
        if (cpu::runnable(level)) v.push_back(level);
    return v;
}

// The types kernels.h converts.
inline std::vector<gguf::TensorType> convertible_types() {
    std::vector<gguf::TensorType> v;
    for (uint32_t id = 0; id < 64; ++id) {
        const gguf::TypeTraits* t = gguf::find_type_traits(id);
        if (t != nullptr && t->supported) v.push_back(static_cast<gguf::TensorType>(id));
    }
    return v;
}

inline std::vector<float> gaussian(std::mt19937& rng, int64_t n, float sigma = 1.0f) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Random bytes for `n_blocks` blocks of `type`, with every binary16 scale field set to a random
// finite value (random bits elsewhere exercise every quant and packed-scale pattern). Plain 16-bit
// types stay fully random: NaN, infinity and subnormal bit patterns included.
inline std::vector<uint8_t> random_blocks(gguf::TensorType type, int64_t n_values, std::mt19937& rng) {
    std::vector<uint8_t> bytes(gguf::row_bytes(type, n_values));
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    const gguf::TypeTraits& tr = gguf::type_traits(type);
    // Byte offsets of the binary16 scale fields within a block (docs/formats/quant-types.md).
    std::vector<int> halves;
    switch (type) {
        case gguf::TensorType::Q4_0: case gguf::TensorType::Q5_0: case gguf::TensorType::Q8_0: halves = {0}; break;
        case gguf::TensorType::Q4_1: case gguf::TensorType::Q5_1: case gguf::TensorType::Q4_K: case gguf::TensorType::Q5_K:
            halves = {0, 2}; break;
        case gguf::TensorType::Q2_K: halves = {80, 82}; break;
        case gguf::TensorType::Q3_K: halves = {108}; break;
        case gguf::TensorType::Q6_K: halves = {208}; break;
        default: break;
    }
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (size_t blk = 0; blk < bytes.size() / tr.type_size; ++blk) {
        for (int off : halves) {
            const uint16_t h = fp32_to_fp16(scale(rng));
            std::memcpy(&bytes[blk * tr.type_size + off], &h, sizeof(h));
        }
    }
    return bytes;
}

// sqrt(mean((a - b)^2)) / sqrt(mean(b^2)), in double.
inline double relative_rmse(const float* a, const float* b, int64_t n) {
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
        err += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
        ref += static_cast<double>(b[i]) * b[i];
    }
    return ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
}

}  // namespace sinan::kernels::test_util
