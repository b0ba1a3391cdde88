// fp16 / bf16 conversions against the CPU's own conversion instructions (F16C, AVX512-BF16):
// an implementation no one here wrote. Skipped where the CPU lacks them.
#include "kernels/half.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/cpu.h"

namespace sinan::kernels {
namespace {

__attribute__((target("f16c"))) float hw_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hw_fp32_to_fp16(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("avx512f,avx512bf16,avx512vl"))) uint16_t hw_fp32_to_bf16(float f) {
    const __m128bh v = _mm_cvtneps_pbh(_mm_set1_ps(f));
    uint16_t out[8];
    std::memcpy(out, &v, sizeof(out));
    return out[0];
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof(u));
    return u;
}
float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof(f));
    return f;
}

// Bit patterns worth checking: every 65,537th fp32 (all exponents, signs, NaNs) plus the
// rounding boundaries around each binary16 value (exact halfway points and their neighbours).
std::vector<float> probe_floats() {
    std::vector<float> v;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 65537) v.push_back(from_bits(static_cast<uint32_t>(u)));
    for (uint32_t h = 0; h < 0x7c00; ++h) {
        const float lo = hw_fp16_to_fp32(static_cast<uint16_t>(h));
        const float hi = hw_fp16_to_fp32(static_cast<uint16_t>(h + 1));
        const float mid = (lo + hi) / 2;  // exact: one more bit than binary16 has
        for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), lo}) {
            v.push_back(f);
            v.push_back(-f);
        }
    }
    return v;
}

TEST(Half, Fp16ToFp32MatchesF16cForAll65536Values) {
    if (!cpu::features().f16c) GTEST_SKIP() << "CPU has no F16C to compare with";
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const float ours = fp16_to_fp32(static_cast<uint16_t>(h));
        const float hw = hw_fp16_to_fp32(static_cast<uint16_t>(h));
        ASSERT_EQ(bits(ours), bits(hw)) << "half 0x" << std::hex << h;
    }
}

TEST(Half, Fp32ToFp16RoundsLikeF16c) {
    if (!cpu::features().f16c) GTEST_SKIP() << "CPU has no F16C to compare with";
    for (float f : probe_floats()) ASSERT_EQ(fp32_to_fp16(f), hw_fp32_to_fp16(f)) << "float 0x" << std::hex << bits(f);
}

TEST(Half, Bf16RoundTripIsExactAndRoundsLikeAvx512Bf16) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const float f = bf16_to_fp32(static_cast<uint16_t>(h));
        ASSERT_EQ(bits(f), h << 16);
        if (!std::isnan(f)) {
            ASSERT_EQ(fp32_to_bf16(f), h);
        }
    }
    if (!cpu::features().avx512bf16) GTEST_SKIP() << "CPU has no AVX512-BF16 to compare rounding with";
    for (float f : probe_floats()) {
        // The instruction flushes subnormal inputs to zero; GGML's writer (and ours) does not.
        if (std::fpclassify(f) == FP_SUBNORMAL) continue;
        ASSERT_EQ(fp32_to_bf16(f), hw_fp32_to_bf16(f)) << "float 0x" << std::hex << bits(f);
    }
}

TEST(Half, NanStaysNanAndInfinityOverflows) {
    const float qnan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(qnan))));
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(qnan))));
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(-qnan))));
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // halfway above the largest binary16: ties to even = inf
    EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
    EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
}

}  // namespace
}  // namespace sinan::kernels
