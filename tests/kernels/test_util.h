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
    const cpu::Features& f = cpu::features();
    std::vector<cpu::Level> v = {cpu::Level::kScalar};
    if (f.avx2 && f.fma && f.f16c) v.push_back(cpu::Level::kAvx2);
    if (f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)
        v.push_back(cpu::Level::kAvx512);
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
