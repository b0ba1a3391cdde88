// Quantize -> dequantize round trips: each type's error stays within what its bit budget allows,
// and degenerate rows (zeros, constants) come back exactly. Types that ../shared has no
// llama.cpp file for (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K) are checked only here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;

constexpr uint32_t kSeed = 7;

// Relative RMSE budget on N(0, 1) data. The uniform-quantizer error of a b-bit grid over a
// group's range R is R / (2^b - 1) / sqrt(12); with R ~ 5 sigma for 32 gaussian values this gives
// ~0.10 at 4 bits, ~0.047 at 5, ~0.006 at 8; the budgets allow ~30% over that, 2^-11 and 2^-8
// are the F16 / BF16 unit roundoffs.
struct Budget {
    TensorType type;
    double max_relative_rmse;
};
constexpr Budget kBudgets[] = {
    {TensorType::F32, 0.0},      {TensorType::F16, 4.9e-4},   {TensorType::BF16, 3.9e-3},
    {TensorType::Q8_0, 0.008},   {TensorType::Q4_0, 0.13},    {TensorType::Q4_1, 0.12},
    {TensorType::Q5_0, 0.065},   {TensorType::Q5_1, 0.06},    {TensorType::Q2_K, 0.45},
    {TensorType::Q3_K, 0.25},    {TensorType::Q4_K, 0.12},    {TensorType::Q5_K, 0.06},
    {TensorType::Q6_K, 0.03},
};

TEST(Quantize, RoundTripErrorWithinTypeBudget) {
    std::mt19937 rng(kSeed);
    const int64_t n = 256 * 64;
    const std::vector<float> x = test_util::gaussian(rng, n);
    for (const Budget& b : kBudgets) {
        std::vector<uint8_t> q(gguf::row_bytes(b.type, n));
        std::vector<float> y(n);
        quantize_row(b.type, x.data(), q.data(), n);
        dequantize_row(b.type, q.data(), y.data(), n);
        const double err = test_util::relative_rmse(y.data(), x.data(), n);
        EXPECT_LE(err, b.max_relative_rmse) << gguf::type_name(b.type) << " seed=" << kSeed;
        // A budget far above the error would not catch a half-broken layout: keep them honest.
        if (b.max_relative_rmse > 0) {
            EXPECT_GE(err, b.max_relative_rmse / 4) << gguf::type_name(b.type);
        }
    }
}

TEST(Quantize, ZerosAndConstantRowsComeBackExactly) {
    const int64_t n = 512;
    for (TensorType type : test_util::convertible_types()) {
        for (float c : {0.0f, 1.0f, -2.5f}) {
            const std::vector<float> x(n, c);
            std::vector<uint8_t> q(gguf::row_bytes(type, n));
            std::vector<float> y(n, 123.0f);
            quantize_row(type, x.data(), q.data(), n);
            dequantize_row(type, q.data(), y.data(), n);
            // A constant is a group's max: every type with a symmetric or min/max grid represents
            // it exactly except through its binary16 scale; allow that rounding.
            for (int64_t i = 0; i < n; ++i)
                ASSERT_NEAR(y[i], c, std::fabs(c) * 2e-3) << gguf::type_name(type) << " c=" << c << " i=" << i;
        }
    }
}

TEST(Quantize, ScaleOfRowDoesNotChangeRelativeError) {
    // Scales live in binary16: rows of tiny or large magnitude must still quantize (no overflow
    // to inf, no flush to zero) within the type's budget.
    std::mt19937 rng(kSeed + 1);
    const int64_t n = 256 * 8;
    for (float sigma : {1e-3f, 30.0f}) {
        const std::vector<float> x = test_util::gaussian(rng, n, sigma);
        for (const Budget& b : kBudgets) {
            std::vector<uint8_t> q(gguf::row_bytes(b.type, n));
            std::vector<float> y(n);
            quantize_row(b.type, x.data(), q.data(), n);
            dequantize_row(b.type, q.data(), y.data(), n);
            EXPECT_LE(test_util::relative_rmse(y.data(), x.data(), n), b.max_relative_rmse * 1.2)
                << gguf::type_name(b.type) << " sigma=" << sigma << " seed=" << kSeed + 1;
        }
    }
}

// Every level writes the scalar quantizers' bytes: gaussian rows of odd lengths with zeros,
// infinities, NaN, values past the F16 range and subnormals mixed in.
TEST(Quantize, EveryLevelWritesTheReferenceBytes) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : test_util::runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (TensorType type : test_util::convertible_types()) {
            const int64_t block = gguf::type_traits(type).block_size;
            for (int64_t n_blocks : {1, 7, 33}) {
                const int64_t n = block * n_blocks;
                std::vector<float> x = test_util::gaussian(rng, n);
                if (block == 1) {
                    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 70000.0f, -65520.0f, 1e-6f, -3e-8f};
                    for (int64_t i = 0; i < n; i += 3) x[i] = specials[(i / 3) % 9];
                }
                std::vector<uint8_t> want(gguf::row_bytes(type, n)), got(want.size());
                ref.quantize[static_cast<int>(type)](x.data(), want.data(), n);
                t.quantize[static_cast<int>(type)](x.data(), got.data(), n);
                EXPECT_EQ(got, want) << t.name << " " << gguf::type_name(type) << " n=" << n;
            }
        }
    }
}

}  // namespace
}  // namespace sinan::kernels
