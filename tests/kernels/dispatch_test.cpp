// Every SIMD level against the scalar reference, on random inputs (seed printed on failure):
// dequantizers bit for bit, quantizers byte for byte, dot_f32 within a rounding-error bound; and
// the rule that chooses decoding's read-ahead kernels.
#include "kernels/dispatch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;
using test_util::convertible_types;
using test_util::random_blocks;
using test_util::runnable_levels;

constexpr uint32_t kSeed = 20261129;

// Row lengths to try: single block, a few, many; for 1-value blocks also sizes that leave
// every possible tail after the 8- and 16-wide vectors.
std::vector<int64_t> row_lengths(TensorType type) {
    const int64_t bs = gguf::type_traits(type).block_size;
    if (bs == 1) return {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 1001};
    return {bs, 2 * bs, 3 * bs, 7 * bs, 33 * bs};
}

std::string context(const KernelTable& t, TensorType type, int64_t n) {
    return std::string(t.name) + " " + gguf::type_name(type) + " n=" + std::to_string(n) +
           " seed=" + std::to_string(kSeed);
}

TEST(Dispatch, ConvertibleTypesAreExactlyTheSupportedOnes) {
    for (uint32_t id = 0; id < kNumTypeIds; ++id) {
        const gguf::TypeTraits* t = gguf::find_type_traits(id);
        const bool supported = t != nullptr && t->supported;
        EXPECT_EQ(is_convertible(static_cast<TensorType>(id)), supported) << "type id " << id;
        for (cpu::Level level : {cpu::Level::kScalar, cpu::Level::kAvx2, cpu::Level::kAvxVnni, cpu::Level::kAvx512}) {
            EXPECT_EQ(kernel_table(level).dequantize[id] != nullptr, supported) << "type id " << id;
            EXPECT_EQ(kernel_table(level).quantize[id] != nullptr, supported) << "type id " << id;
        }
    }
}

TEST(Dispatch, ActivePathIsTheBestLevel) {
    EXPECT_STREQ(active_path(), cpu::level_name(cpu::best_level()));
    EXPECT_EQ(&active_table(), &kernel_table(cpu::best_level()));
}

TEST(Dispatch, DecodeReadsAheadOnZen5AndIntelAndWhereToldOnly) {
    const cpu::Identity zen5{"AMD EPYC", 26, 2}, zen4{"AMD EPYC", 25, 17}, intel{"Intel Xeon", 6, 207};
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K}) {
        EXPECT_TRUE(read_ahead_for(zen5, nullptr, type));
        EXPECT_TRUE(read_ahead_for(intel, nullptr, type));
        EXPECT_FALSE(read_ahead_for(zen4, nullptr, type));
    }
    // F16 where it was measured faster: Intel.
    EXPECT_TRUE(read_ahead_for(intel, nullptr, TensorType::F16));
    EXPECT_FALSE(read_ahead_for(zen5, nullptr, TensorType::F16));
    EXPECT_FALSE(read_ahead_for(zen4, nullptr, TensorType::F16));
    // The setting, for every type.
    EXPECT_FALSE(read_ahead_for(zen5, "off", TensorType::Q8_0));
    EXPECT_FALSE(read_ahead_for(intel, "off", TensorType::F16));
    EXPECT_TRUE(read_ahead_for(zen4, "on", TensorType::Q4_K));
    EXPECT_TRUE(read_ahead_for(zen5, "on", TensorType::F16));
    EXPECT_TRUE(read_ahead_for(zen5, "yes", TensorType::Q8_0));  // not a setting: the processor's rule
    EXPECT_FALSE(read_ahead_for(zen4, "", TensorType::Q8_0));
    for (TensorType type : {TensorType::Q8_0, TensorType::F16})
        EXPECT_EQ(decode_read_ahead(type), read_ahead_for(cpu::identity(), std::getenv("SINAN_READ_AHEAD"), type));
}

TEST(Dispatch, DequantizeEqualsReferenceBitForBit) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        for (TensorType type : convertible_types()) {
            for (int64_t n : row_lengths(type)) {
                std::mt19937 rng(kSeed + static_cast<uint32_t>(n));
                const std::vector<uint8_t> src = random_blocks(type, n, rng);
                // Guard values after the row catch writes past n.
                std::vector<float> want(n + 16, -7.0f), got(n + 16, -7.0f);
                ref.dequantize[static_cast<int>(type)](src.data(), want.data(), n);
                t.dequantize[static_cast<int>(type)](src.data(), got.data(), n);
                ASSERT_EQ(std::memcmp(want.data(), got.data(), got.size() * sizeof(float)), 0)
                    << context(t, type, n);
            }
        }
    }
}

TEST(Dispatch, QuantizeEqualsReferenceByteForByte) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        for (TensorType type : convertible_types()) {
            for (int64_t n : row_lengths(type)) {
                std::mt19937 rng(kSeed + static_cast<uint32_t>(n));
                const std::vector<float> src = test_util::gaussian(rng, n);
                std::vector<uint8_t> want(gguf::row_bytes(type, n) + 8, 0xa5), got(want.size(), 0xa5);
                ref.quantize[static_cast<int>(type)](src.data(), want.data(), n);
                t.quantize[static_cast<int>(type)](src.data(), got.data(), n);
                ASSERT_EQ(want, got) << context(t, type, n);
            }
        }
    }
}

TEST(Dispatch, DotF32WithinRoundingBound) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        for (int64_t n : {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 1000, 4097}) {
            std::mt19937 rng(kSeed + static_cast<uint32_t>(n));
            const std::vector<float> a = test_util::gaussian(rng, n), b = test_util::gaussian(rng, n);
            double exact = 0, magnitude = 0;
            for (int64_t i = 0; i < n; ++i) {
                exact += static_cast<double>(a[i]) * b[i];
                magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
            }
            // Any summation order of n float products: |error| <= n * eps * sum |a_i b_i| (first order).
            const double bound = (n + 1) * std::ldexp(1.0, -24) * magnitude;
            const float got = t.dot_f32(a.data(), b.data(), n);
            EXPECT_NEAR(got, exact, bound) << t.name << " n=" << n << " seed=" << kSeed;
        }
    }
}

TEST(Dispatch, SumWordsIsTheExactSumOnEveryLevel) {
    std::mt19937_64 rng(7);
    for (uint64_t n : {0ull, 1ull, 7ull, 31ull, 32ull, 33ull, 1000ull, 4099ull}) {
        std::vector<uint64_t> words(n);
        uint64_t expected = 0;  // wraps modulo 2^64, as the kernel's sums do
        for (uint64_t& w : words) expected += (w = rng());
        for (cpu::Level level : runnable_levels())
            EXPECT_EQ(kernel_table(level).sum_words(words.data(), n), expected) << cpu::level_name(level) << " n=" << n;
    }
}

TEST(Dispatch, PublicFunctionsUseTheActiveTable) {
    std::mt19937 rng(kSeed);
    const std::vector<float> x = test_util::gaussian(rng, 256);
    std::vector<uint8_t> q(gguf::row_bytes(TensorType::Q4_K, 256));
    quantize_row(TensorType::Q4_K, x.data(), q.data(), 256);
    std::vector<float> want(256), got(256);
    active_table().dequantize[static_cast<int>(TensorType::Q4_K)](q.data(), want.data(), 256);
    dequantize_row(TensorType::Q4_K, q.data(), got.data(), 256);
    EXPECT_EQ(want, got);
    EXPECT_EQ(dot_f32(x.data(), x.data(), 256), active_table().dot_f32(x.data(), x.data(), 256));
}

TEST(DispatchDeathTest, RejectsUnsupportedTypeAndPartialBlock) {
    std::vector<float> x(256);
    std::vector<uint8_t> q(1024);
    EXPECT_DEATH(quantize_row(TensorType::IQ2_XS, x.data(), q.data(), 256), "IQ2_XS is not supported");
    EXPECT_DEATH(dequantize_row(TensorType::Q4_K, q.data(), x.data(), 100), "not a multiple");
}

}  // namespace
}  // namespace sinan::kernels
