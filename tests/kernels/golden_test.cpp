// Golden checks against llama.cpp: ../shared/models holds the same small models as F32 and
// as each type, quantized by llama.cpp's reference quantizers (`llama-quantize --pure`, no
// importance matrix). (a) Quantizing the F32 tensors here must give the very bytes llama.cpp
// wrote. (b) Dequantizing llama.cpp's tensors must land within the type's error budget of F32.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;

struct Case {
    const char* suffix;  // file name part: qwen2-small-<suffix>.gguf
    TensorType type;
    // (b): relative RMSE budget of dequantized tensors against F32 (see quantize_test.cpp for
    // how budgets follow from bits), and a per-value bound as a fraction of the block's max |x|
    // where the format allows one (0: none).
    double max_relative_rmse;
    double max_error_of_block_absmax;
};

// Per-value bounds: Q8_0 rounds to d/2 = absmax/254, plus 127 * (binary16 error of d) <=
// absmax * 2^-11; Q4_0's grid step is absmax/8 and its clamp at q = 15 costs up to one step.
constexpr Case kCases[] = {
    {"f16", TensorType::F16, 4.9e-4, 0},
    {"bf16", TensorType::BF16, 3.9e-3, 0},
    {"q8_0", TensorType::Q8_0, 0.008, 1.0 / 254 + 1.0 / 2048 + 1e-6},
    {"q4_0", TensorType::Q4_0, 0.13, 1.0 / 8 * (1 + 1.0 / 256)},
    {"q4_k", TensorType::Q4_K, 0.12, 0},
    {"q6_k", TensorType::Q6_K, 0.03, 0},
};

constexpr const char* kModels[] = {"qwen2-small", "llama-small"};

std::string model_path(const std::string& model, const std::string& suffix) {
    return std::string(SINAN_SHARED_DIR) + "/models/" + model + "-" + suffix + ".gguf";
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, QuantizeIsByteIdenticalToLlamaCpp) {
    const Case& c = GetParam();
    for (const std::string model : kModels) {
        const std::string f32_path = model_path(model, "f32"), typed_path = model_path(model, c.suffix);
        if (!std::filesystem::exists(f32_path) || !std::filesystem::exists(typed_path))
            GTEST_SKIP() << "golden models absent: " << typed_path;
        auto f32 = gguf::File::open(f32_path);
        auto typed = gguf::File::open(typed_path);
        ASSERT_TRUE(f32.ok()) << f32.message();
        ASSERT_TRUE(typed.ok()) << typed.message();
        int n_checked = 0;
        for (const gguf::TensorInfo& t : typed.value().tensors()) {
            if (t.type != c.type) continue;  // norms and biases stay F32 in every file
            const gguf::TensorInfo* src = f32.value().find_tensor(t.name);
            ASSERT_NE(src, nullptr) << t.name;
            ASSERT_EQ(src->type, TensorType::F32);
            ASSERT_EQ(src->n_elements, t.n_elements);
            std::vector<uint8_t> ours(t.n_bytes);
            const int64_t row = static_cast<int64_t>(t.shape[0]);
            const uint64_t row_bytes = gguf::row_bytes(c.type, row);
            for (uint64_t r = 0; r < t.n_rows(); ++r)
                quantize_row(c.type, reinterpret_cast<const float*>(src->data) + r * row, ours.data() + r * row_bytes,
                             row);
            // Name the first differing block, to make a mismatch debuggable.
            const uint32_t block_bytes = gguf::type_traits(c.type).type_size;
            for (uint64_t off = 0; off < t.n_bytes; off += block_bytes) {
                ASSERT_EQ(std::memcmp(ours.data() + off, t.data + off, block_bytes), 0)
                    << model << " " << t.name << ": block " << off / block_bytes << " differs";
            }
            ++n_checked;
        }
        EXPECT_GT(n_checked, 0) << typed_path << " has no " << gguf::type_name(c.type) << " tensor";
    }
}

TEST_P(Golden, DequantizedLlamaCppTensorsWithinBudget) {
    const Case& c = GetParam();
    for (const std::string model : kModels) {
        const std::string f32_path = model_path(model, "f32"), typed_path = model_path(model, c.suffix);
        if (!std::filesystem::exists(f32_path) || !std::filesystem::exists(typed_path))
            GTEST_SKIP() << "golden models absent: " << typed_path;
        auto f32 = gguf::File::open(f32_path);
        auto typed = gguf::File::open(typed_path);
        ASSERT_TRUE(f32.ok() && typed.ok());
        int n_checked = 0;
        for (const gguf::TensorInfo& t : typed.value().tensors()) {
            if (t.type != c.type) continue;
            const gguf::TensorInfo* src = f32.value().find_tensor(t.name);
            ASSERT_NE(src, nullptr) << t.name;
            const auto* x = reinterpret_cast<const float*>(src->data);
            const int64_t n = static_cast<int64_t>(t.n_elements);
            std::vector<float> y(n);
            dequantize_row(c.type, t.data, y.data(), n);
            const double err = test_util::relative_rmse(y.data(), x, n);
            EXPECT_LE(err, c.max_relative_rmse) << model << " " << t.name;
            EXPECT_GT(err, 0.0) << model << " " << t.name << ": a lossy type decoded to exactly F32?";
            if (c.max_error_of_block_absmax > 0) {
                for (int64_t b = 0; b < n; b += 32) {
                    float amax = 0;
                    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
                    for (int j = 0; j < 32; ++j)
                        ASSERT_LE(std::fabs(y[b + j] - x[b + j]), amax * c.max_error_of_block_absmax)
                            << model << " " << t.name << " value " << b + j;
                }
            }
            ++n_checked;
        }
        EXPECT_GT(n_checked, 0);
    }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, Golden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.suffix); });

}  // namespace
}  // namespace sinan::kernels
