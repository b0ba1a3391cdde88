// Pieces of the float64 reference forward passes (reference_forward_test.cpp for the dense
// architectures, deepseek2_reference_test.cpp): F32 tensors read as doubles, RMSNorm, and the
// relative L2 error the tests bound.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace sinan::model::f64 {

inline std::vector<double> tensor(const gguf::File& f, const std::string& name) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    if (t == nullptr) return {};
    EXPECT_EQ(t->type, gguf::TensorType::F32);
    std::vector<double> out(t->n_elements);
    for (size_t i = 0; i < out.size(); ++i) {
        float v;
        std::memcpy(&v, t->data + 4 * i, 4);
        out[i] = v;
    }
    return out;
}

// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]
inline std::vector<double> rms_norm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
}

// ||ours - ref|| / ||ref|| over ref.size() values.
inline double rel_error(const float* ours, const std::vector<double>& ref) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        diff += (ours[i] - ref[i]) * (ours[i] - ref[i]);
        norm += ref[i] * ref[i];
    }
    return std::sqrt(diff / norm);
}

}  // namespace sinan::model::f64
