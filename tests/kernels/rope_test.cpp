// Rotary embedding against the formulas written out in double: plain, linear scaling, Llama 3
// factors, both layouts, and YaRN (Peng et al. 2023, as DeepSeek and Qwen configure it).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

// The angle of pair i and the cos/sin magnitude, from the definitions (not the kernel's
// incremental float products).
struct Expected {
    double angle, magnitude;
};

Expected expected_angle(const RopeParams& p, int64_t i, int32_t pos) {
    const double base_angle = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * static_cast<double>(i) / static_cast<double>(p.n_rot)) /
                              (p.factors ? p.factors[i] : 1.0);
    const double scaled = base_angle * p.freq_scale;
    if (p.ext_factor == 0.0f) return {scaled, p.attn_factor};
    // YaRN: pairs below the correction range extrapolate (keep their angle), pairs above it
    // interpolate (scaled), a linear ramp between.
    const double t = (static_cast<double>(i) - p.corr_low) / std::max(0.001, static_cast<double>(p.corr_high - p.corr_low));
    const double keep = 1.0 - std::clamp(t, 0.0, 1.0);
    return {scaled * (1 - keep) + base_angle * keep, p.attn_factor * (1.0 + 0.1 * std::log(1.0 / p.freq_scale))};
}

void check_against_formula(const RopeParams& p, int64_t n_heads, int64_t head_stride, int32_t pos) {
    std::mt19937 rng(7);
    const std::vector<float> x = test_util::gaussian(rng, n_heads * head_stride);
    std::vector<float> y = x;
    rope(y.data(), n_heads, head_stride, pos, p);
    for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t i = 0; i < p.n_rot / 2; ++i) {
            const int64_t a = p.layout == RopeLayout::kNormal ? 2 * i : i;
            const int64_t b = p.layout == RopeLayout::kNormal ? 2 * i + 1 : i + p.n_rot / 2;
            const Expected e = expected_angle(p, i, pos);
            const double c = std::cos(e.angle) * e.magnitude, s = std::sin(e.angle) * e.magnitude;
            const double x0 = x[h * head_stride + a], x1 = x[h * head_stride + b];
            // Float angles at large positions carry ~pos * 6e-8 radians of error.
            const double tol = 1e-5 * (1 + std::abs(x0) + std::abs(x1)) * (1 + pos * 1e-2);
            EXPECT_NEAR(y[h * head_stride + a], x0 * c - x1 * s, tol) << "head " << h << " pair " << i << " pos " << pos;
            EXPECT_NEAR(y[h * head_stride + b], x0 * s + x1 * c, tol) << "head " << h << " pair " << i << " pos " << pos;
        }
        for (int64_t j = p.n_rot; j < head_stride; ++j)
            EXPECT_EQ(y[h * head_stride + j], x[h * head_stride + j]) << "values past n_rot stay";
    }
}

TEST(Rope, PlainLinearAndFactorsMatchTheFormula) {
    const std::vector<float> factors = {1, 1, 2, 4, 8, 8, 8, 8};
    for (RopeLayout layout : {RopeLayout::kNormal, RopeLayout::kNeox}) {
        RopeParams p;
        p.n_rot = 16;
        p.layout = layout;
        for (int32_t pos : {0, 1, 7, 300}) check_against_formula(p, 3, 24, pos);
        p.freq_scale = 0.25f;  // linear scaling by 4
        check_against_formula(p, 3, 24, 123);
        p.factors = factors.data();
        check_against_formula(p, 2, 16, 77);
    }
}

TEST(Rope, YarnCorrectionRangeOfDeepSeekV3) {
    // rope dim 64, original context 4096, base 10000, beta 32 / 1: the pairs that turn more
    // than 32 times in 4096 positions keep their angle (below 10), fewer than once (above 23)
    // are fully interpolated.
    float low = 0, high = 0;
    yarn_corr_dims(64, 4096, 10000.0f, 32.0f, 1.0f, &low, &high);
    EXPECT_EQ(low, 10.0f);
    EXPECT_EQ(high, 23.0f);
    // A range beyond the rotary dims is clamped to [0, n_rot - 1].
    yarn_corr_dims(8, 1 << 30, 10000.0f, 32.0f, 1.0f, &low, &high);
    EXPECT_EQ(high, 7.0f);
}

TEST(Rope, YarnMatchesTheFormula) {
    for (RopeLayout layout : {RopeLayout::kNormal, RopeLayout::kNeox}) {
        RopeParams p;
        p.n_rot = 64;
        p.layout = layout;
        p.freq_scale = 1.0f / 40.0f;
        p.ext_factor = 1.0f;
        yarn_corr_dims(64, 4096, p.freq_base, 32.0f, 1.0f, &p.corr_low, &p.corr_high);
        for (int32_t pos : {0, 5, 4000}) check_against_formula(p, 2, 192, pos);
        p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(40.0f));  // DeepSeek cancels the magnitude
        check_against_formula(p, 1, 64, 31);
    }
}

TEST(Rope, YarnKeepsFastPairsAndInterpolatesSlowOnes) {
    RopeParams p;
    p.n_rot = 64;
    p.freq_scale = 1.0f / 40.0f;
    p.ext_factor = 1.0f;
    yarn_corr_dims(64, 4096, p.freq_base, 32.0f, 1.0f, &p.corr_low, &p.corr_high);
    p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(40.0f));
    RopeParams plain = p;
    plain.ext_factor = 0.0f;
    plain.freq_scale = 1.0f;
    plain.attn_factor = 1.0f;
    RopeParams linear = plain;
    linear.freq_scale = p.freq_scale;
    std::vector<float> unit(64, 0.0f), a, b, c;
    for (size_t i = 0; i < unit.size(); i += 2) unit[i] = 1.0f;  // (1, 0) in every pair
    a = b = c = unit;
    rope(a.data(), 1, 64, 1000, p);
    rope(b.data(), 1, 64, 1000, plain);
    rope(c.data(), 1, 64, 1000, linear);
    for (int i = 0; i < 10; ++i) EXPECT_NEAR(a[2 * i + 1], b[2 * i + 1], 1e-5) << "pair " << i << " keeps its angle";
    for (int i = 23; i < 32; ++i) EXPECT_NEAR(a[2 * i + 1], c[2 * i + 1], 1e-5) << "pair " << i << " is interpolated";
}

}  // namespace
}  // namespace sinan::kernels
