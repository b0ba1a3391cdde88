// vec_dot: the scalar reference against its independent definition (weights and activations
// dequantized, dot product in double), and every SIMD level against the reference, on random
// blocks with an odd number of blocks (seed printed on failure). Also the activation quantizers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;
using test_util::convertible_types;
using test_util::runnable_levels;

constexpr uint32_t kSeed = 20261130;

// Q8_K is no file type, so dequantize_row does not take it: decoded here from the layout in
// docs/formats/quant-types.md.
std::vector<float> decode_q8_k(const std::vector<uint8_t>& bytes, int64_t n) {
    std::vector<float> y(n);
    for (int64_t b = 0; b < n / kQKK; ++b) {
        BlockQ8_K blk;
        std::memcpy(&blk, bytes.data() + b * sizeof(BlockQ8_K), sizeof(blk));
        for (int j = 0; j < kQKK; ++j) y[b * kQKK + j] = blk.d * static_cast<float>(blk.qs[j]);
    }
    return y;
}

struct Row {
    std::vector<uint8_t> bytes;
    std::vector<float> values;  // the bytes decoded
};

// Gaussian activations quantized into `dot_type` by the scalar table (the quantizers are the
// same on every level).
Row activations(TensorType dot_type, int64_t n, std::mt19937& rng) {
    const std::vector<float> x = test_util::gaussian(rng, n);
    Row r;
    r.bytes.resize(gguf::row_bytes(dot_type, n));
    kernel_table(cpu::Level::kScalar).quantize_activations[static_cast<int>(dot_type)](x.data(), r.bytes.data(), n);
    if (dot_type == TensorType::Q8_K) {
        r.values = decode_q8_k(r.bytes, n);
    } else {
        r.values.resize(n);
        dequantize_row(dot_type, r.bytes.data(), r.values.data(), n);
    }
    return r;
}

// Random blocks for quantized types (every quant pattern); gaussian values for the float types
// (random bits would include NaN and infinity).
Row weights(TensorType type, int64_t n, std::mt19937& rng) {
    Row r;
    if (gguf::type_traits(type).block_size == 1) {
        const std::vector<float> x = test_util::gaussian(rng, n);
        r.bytes.resize(gguf::row_bytes(type, n));
        quantize_row(type, x.data(), r.bytes.data(), n);
    } else {
        r.bytes = test_util::random_blocks(type, n, rng);
    }
    r.values.resize(n);
    dequantize_row(type, r.bytes.data(), r.values.data(), n);
    return r;
}

std::vector<int64_t> row_lengths(TensorType type) {
    const TensorType dot = vec_dot_type(type);
    const int64_t bs = std::max(gguf::type_traits(type).block_size, gguf::type_traits(dot).block_size);
    if (bs == 1) return {1, 3, 7, 9, 17, 33, 65, 1001, 4097};
    return {bs, 3 * bs, 7 * bs, 33 * bs};
}

struct Expected {
    double dot = 0;  // in double from the decoded values
    double abs = 0;  // sum |w x|: the scale of rounding errors
};

Expected expected_dot(const Row& w, const Row& x) {
    Expected e;
    for (size_t i = 0; i < w.values.size(); ++i) {
        e.dot += static_cast<double>(w.values[i]) * x.values[i];
        e.abs += std::fabs(static_cast<double>(w.values[i]) * x.values[i]);
    }
    return e;
}

std::string context(const char* level, TensorType type, int64_t n) {
    return std::string(level) + " " + gguf::type_name(type) + " n=" + std::to_string(n) +
           " seed=" + std::to_string(kSeed);
}

TEST(VecDot, EveryConvertibleTypeHasAKernelOnEveryLevel) {
    for (TensorType type : convertible_types()) {
        for (cpu::Level level : {cpu::Level::kScalar, cpu::Level::kAvx2, cpu::Level::kAvxVnni, cpu::Level::kAvx512}) {
            EXPECT_NE(kernel_table(level).vec_dot[static_cast<int>(type)], nullptr) << gguf::type_name(type);
            EXPECT_NE(kernel_table(level).quantize_activations[static_cast<int>(vec_dot_type(type))], nullptr);
        }
    }
}

TEST(VecDot, DotTypesAreGgmls) {
    EXPECT_EQ(vec_dot_type(TensorType::F32), TensorType::F32);
    EXPECT_EQ(vec_dot_type(TensorType::F16), TensorType::F16);
    EXPECT_EQ(vec_dot_type(TensorType::BF16), TensorType::BF16);
    for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0})
        EXPECT_EQ(vec_dot_type(t), TensorType::Q8_0) << gguf::type_name(t);
    for (TensorType t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K})
        EXPECT_EQ(vec_dot_type(t), TensorType::Q8_K) << gguf::type_name(t);
}

// The integer kernels sum exactly within a block; what is left is float rounding of the block
// results, well inside 1e-5 of sum |w x| for these lengths.
TEST(VecDot, ReferenceEqualsDequantizedDoubleDot) {
    std::mt19937 rng(kSeed);
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (TensorType type : convertible_types()) {
        for (int64_t n : row_lengths(type)) {
            const Row w = weights(type, n, rng);
            const Row x = activations(vec_dot_type(type), n, rng);
            const Expected e = expected_dot(w, x);
            const float got = ref.vec_dot[static_cast<int>(type)](w.bytes.data(), x.bytes.data(), n);
            EXPECT_NEAR(got, e.dot, 1e-5 * e.abs + 1e-30) << context("scalar", type, n);
        }
    }
}

// Float types sum in another order on SIMD paths (and vdpbf16ps rounds its own way); the integer
// types must agree within the same bound, and the K types bit for bit (their SIMD kernels reduce
// each block exactly and repeat the reference's float operations).
TEST(VecDot, EveryLevelAgreesWithTheReference) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        if (level == cpu::Level::kScalar) continue;
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (TensorType type : convertible_types()) {
            for (int64_t n : row_lengths(type)) {
                const Row w = weights(type, n, rng);
                const Row x = activations(vec_dot_type(type), n, rng);
                const Expected e = expected_dot(w, x);
                const float want = ref.vec_dot[static_cast<int>(type)](w.bytes.data(), x.bytes.data(), n);
                const float got = t.vec_dot[static_cast<int>(type)](w.bytes.data(), x.bytes.data(), n);
                if (vec_dot_type(type) == TensorType::Q8_K) {
                    EXPECT_EQ(got, want) << context(t.name, type, n);
                } else {
                    EXPECT_NEAR(got, want, 1e-5 * e.abs + 1e-30) << context(t.name, type, n);
                }
            }
        }
    }
}

// The AVX-512 Q4_K kernel reduces a row's blocks eight at a time (a lone last block paired with
// itself): every tail length past whole groups of eight, and the FFN down row of the 1.5B shape
// (35 blocks), equal the reference bit for bit.
TEST(VecDot, Q4KEveryBlockCountEqualsTheReference) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    const int q4_k = static_cast<int>(TensorType::Q4_K);
    for (cpu::Level level : runnable_levels()) {
        if (level == cpu::Level::kScalar) continue;
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n_blocks : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 35}) {
            const int64_t n = n_blocks * kQKK;
            const Row w = weights(TensorType::Q4_K, n, rng);
            const Row x = activations(TensorType::Q8_K, n, rng);
            EXPECT_EQ(t.vec_dot[q4_k](w.bytes.data(), x.bytes.data(), n), ref.vec_dot[q4_k](w.bytes.data(), x.bytes.data(), n))
                << context(t.name, TensorType::Q4_K, n);
        }
    }
}

// The four-row kernels feed prefill: each of their results must be vec_dot's for that row, bit
// for bit, so a token's logits do not depend on how many tokens share its batch.
TEST(VecDot, FourRowKernelsEqualVecDotBitForBit) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (TensorType type : convertible_types()) {
            const VecDotX4Fn x4 = t.vec_dot_x4[static_cast<int>(type)];
            if (x4 == nullptr) continue;
            const TensorType dot_type = vec_dot_type(type);
            for (int64_t n : row_lengths(type)) {
                const Row w = weights(type, n, rng);
                const size_t stride = gguf::row_bytes(dot_type, n);
                std::vector<uint8_t> x(4 * stride);
                for (int k = 0; k < 4; ++k) {
                    const Row xk = activations(dot_type, n, rng);
                    std::memcpy(x.data() + k * stride, xk.bytes.data(), stride);
                }
                float s[4];
                x4(w.bytes.data(), x.data(), stride, n, s);
                for (int k = 0; k < 4; ++k)
                    EXPECT_EQ(s[k], t.vec_dot[static_cast<int>(type)](w.bytes.data(), x.data() + k * stride, n))
                        << context(t.name, type, n) << " row " << k;
            }
        }
    }
}

// Every level's activation quantizers write the scalar path's bytes: gaussian rows of odd block
// counts, with an all-zero block and values scaled over a wide range.
TEST(ActivationQuantizers, EveryLevelWritesTheReferenceBytes) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (TensorType dot_type : {TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q8_K}) {
            const int64_t block = gguf::type_traits(dot_type == TensorType::Q8_K ? TensorType::Q4_K : dot_type).block_size;
            for (int64_t n_blocks : {1, 3, 17}) {
                const int64_t n = std::max<int64_t>(block, kQK) * n_blocks;
                std::vector<float> x = test_util::gaussian(rng, n);
                std::uniform_real_distribution<float> log_scale(-20.0f, 20.0f);
                for (int64_t j = 0; j < n; j += kQK) {
                    const float s = std::exp2(log_scale(rng));
                    for (int64_t k = j; k < j + kQK; ++k) x[k] *= s;
                }
                std::fill(x.begin(), x.begin() + kQK, 0.0f);
                std::vector<uint8_t> want(gguf::row_bytes(dot_type, n)), got(want.size());
                ref.quantize_activations[static_cast<int>(dot_type)](x.data(), want.data(), n);
                t.quantize_activations[static_cast<int>(dot_type)](x.data(), got.data(), n);
                EXPECT_EQ(got, want) << context(t.name, dot_type, n);
            }
        }
    }
}

// Q8_K: d = -max / 127 (max: the value of largest magnitude, signed), so max itself becomes -127;
// every value within half a step; bsums the sums of 16 consecutive quants.
TEST(ActivationQuantizers, Q8KScaleRoundingAndGroupSums) {
    std::mt19937 rng(kSeed);
    const int64_t n = 3 * kQKK;
    std::vector<float> x = test_util::gaussian(rng, n);
    x[5] = 9.0f;                                     // block 0: positive max
    x[kQKK + 7] = -9.0f;                             // block 1: negative max
    std::fill(x.begin() + 2 * kQKK, x.end(), 0.0f);  // block 2: all zero
    std::vector<BlockQ8_K> b(3);
    kernel_table(cpu::Level::kScalar).quantize_activations[static_cast<int>(TensorType::Q8_K)](x.data(), b.data(), n);
    EXPECT_EQ(b[0].qs[5], -127);
    EXPECT_FLOAT_EQ(b[0].d, -9.0f / 127);
    EXPECT_EQ(b[1].qs[7], -127);
    EXPECT_FLOAT_EQ(b[1].d, 9.0f / 127);
    EXPECT_EQ(b[2].d, 0.0f);
    for (int blk = 0; blk < 3; ++blk) {
        for (int j = 0; j < kQKK; ++j) {
            const float v = x[blk * kQKK + j];
            EXPECT_LE(std::fabs(v - b[blk].d * b[blk].qs[j]), std::fabs(b[blk].d) * 0.5f + 1e-6f) << blk << " " << j;
        }
        for (int g = 0; g < kQKK / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += b[blk].qs[16 * g + j];
            EXPECT_EQ(b[blk].bsums[g], sum);
        }
    }
}

// The activation Q8_0 rounds halves to even (GGML's SIMD quantizer, which its matmul uses);
// the file quantizer rounds them away from zero (GGML's reference quantizer).
TEST(ActivationQuantizers, Q8_0RoundsHalvesToEvenUnlikeTheFileQuantizer) {
    std::vector<float> x(kQK, 0.0f);
    x[0] = 127.0f;  // d = 1
    x[1] = 2.5f;
    x[2] = -3.5f;
    BlockQ8_0 act, file;
    kernel_table(cpu::Level::kScalar).quantize_activations[static_cast<int>(TensorType::Q8_0)](x.data(), &act, kQK);
    quantize_row(TensorType::Q8_0, x.data(), &file, kQK);
    EXPECT_EQ(act.qs[1], 2);
    EXPECT_EQ(act.qs[2], -4);
    EXPECT_EQ(file.qs[1], 3);
    EXPECT_EQ(file.qs[2], -4);
    EXPECT_EQ(act.d, file.d);
}

}  // namespace
}  // namespace sinan::kernels
