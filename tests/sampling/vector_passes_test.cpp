// The sampler's vector passes: each against a plain loop written from its definition, and the
// AVX2 and AVX-512 tables against the baseline one bit for bit (a seed must draw the same token on
// every CPU), on sizes that are not multiples of the 16 lanes, with banned tokens and ties.
#include "sampling/vector_passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "test_reference.h"

namespace sinan::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> logits_with_bans_and_ties(size_t n, uint32_t seed, float scale) {
    std::vector<float> x = test::random_logits(n, seed, scale);
    std::mt19937 gen(seed);
    for (size_t k = 0; k < n / 10; ++k) x[gen() % n] = -kInf;  // banned
    for (size_t k = 0; k < n / 50; ++k) x[gen() % n] = x[0];   // ties with token 0
    return x;
}

std::vector<const VectorPasses*> tables() {
    std::vector<const VectorPasses*> t = {&baseline_vector_passes()};
    for (const VectorPasses* wide : {avx2_vector_passes(), avx512_vector_passes()})
        if (wide != nullptr) t.push_back(wide);
    return t;
}

bool kept(const std::vector<float>& x, size_t i, Candidate cut) {
    if (x[i] == -kInf) return false;
    return x[i] > cut.logit || (x[i] == cut.logit && static_cast<int32_t>(i) <= cut.token);
}

int32_t bucket(float logit, float max, float scale) {
    const float scaled = (max - logit) * scale;
    return scaled < static_cast<float>(kMassBuckets - 1) ? static_cast<int32_t>(scaled) : kMassBuckets - 1;
}

// Relative error of the passes' exp(arg): its own (< 2e-7), plus the float rounding of arg itself
// (x - max and the division by the temperature, a few ulp of |arg|).
// Banned tokens (arg -inf) must come out exactly 0.
double exp_tolerance(double arg) { return std::isfinite(arg) ? 4e-7 + 4e-7 * std::abs(arg) : 0.0; }

const std::vector<size_t> kSizes = {1, 15, 16, 17, 1000, 1025, 151936};

TEST(VectorPasses, EachPassMatchesAPlainLoop) {
    for (const VectorPasses* p : tables()) {
        for (size_t n : kSizes) {
            SCOPED_TRACE(std::string(p->name) + " n=" + std::to_string(n));
            std::vector<float> x = logits_with_bans_and_ties(n, static_cast<uint32_t>(n), 3.0f);
            x[n - 1] = 1.5f;           // the last lane of a partial vector is a real token
            if (n > 2) x[1] = -3e38f;  // so far below the rest that its distance times a scale overflows
            float max = -kInf, min = kInf;
            for (float v : x) {
                max = std::max(max, v);
                if (v != -kInf) min = std::min(min, v);
            }
            const Extremes e = p->extremes(x.data(), n);
            EXPECT_EQ(e.max, max);
            EXPECT_EQ(e.min, min);

            std::vector<float> w(n), w_sums(n / kDrawBlock + 1);
            const SoftmaxSums sums = p->softmax_sums(x.data(), n, max, w.data(), w_sums.data());
            double z = 0.0, s = 0.0;
            for (size_t i = 0; i < n; ++i) {
                const double wi = std::exp(static_cast<double>(x[i]) - max);
                EXPECT_NEAR(w[i], wi, exp_tolerance(static_cast<double>(x[i]) - max) * wi + 1e-38) << i;
                z += wi;
                if (wi > 0.0) s += wi * (static_cast<double>(x[i]) - max);
            }
            EXPECT_NEAR(sums.z, z, 1e-5 * z);
            EXPECT_NEAR(sums.s, s, 1e-5 * std::abs(s) + 1e-9);
            const SoftmaxSums unstored = p->softmax_sums(x.data(), n, max, nullptr, nullptr);  // the sums alone
            EXPECT_EQ(std::memcmp(&unstored, &sums, sizeof(sums)), 0);
            // The weights without their block sums: the same weights and sums.
            std::vector<float> w_alone(n);
            const SoftmaxSums alone = p->softmax_sums(x.data(), n, max, w_alone.data(), nullptr);
            EXPECT_EQ(std::memcmp(&alone, &sums, sizeof(sums)), 0);
            EXPECT_EQ(std::memcmp(w_alone.data(), w.data(), n * sizeof(float)), 0);
            // The weights' block sums from the same pass: block_sums' bits.
            std::vector<float> w_block_sums(n / kDrawBlock + 1);
            p->block_sums(w.data(), n, kDrawBlock, w_block_sums.data());
            EXPECT_EQ(
                std::memcmp(w_sums.data(), w_block_sums.data(), ((n + kDrawBlock - 1) / kDrawBlock) * sizeof(float)),
                0);
            // Top-p's total: masses_beyond at limit 0 over every token is z, bit for bit.
            {
                const std::vector<float> zero_limits(kMassLimits, 0.0f);
                std::vector<double> total(kMassLimits);
                p->masses_beyond(x.data(), w.data(), n, kKeepAll, max, 8.0f, zero_limits.data(), kMassLimits,
                                 total.data());
                EXPECT_EQ(std::memcmp(&total[0], &sums.z, sizeof(double)), 0);
            }

            for (size_t from : {size_t{0}, n / 3, n - 1}) {
                for (float at_least : {x[0], 2.0f, max, max + 1.0f}) {
                    size_t expected = n;
                    for (size_t i = from; i < n; ++i) {
                        if (x[i] >= at_least) {
                            expected = i;
                            break;
                        }
                    }
                    EXPECT_EQ(p->find_at_least(x.data(), n, from, at_least), expected) << from << " " << at_least;
                }
            }

            const Candidate cut{x[0], static_cast<int32_t>(n / 2)};  // a tie group split by id
            std::vector<float> cw(n);
            p->cut_weights(x.data(), 0, n, cut, max, 1.0f / 0.7f, cw.data());
            for (size_t i = 0; i < n; ++i) {
                const double arg = (static_cast<double>(x[i]) - max) / 0.7;
                const double wi = kept(x, i, cut) ? std::exp(arg) : 0.0;
                EXPECT_NEAR(cw[i], wi, exp_tolerance(arg) * wi + 1e-38) << i;
            }
            if (n > 32) {  // a range that starts past 0: the same weights
                std::vector<float> part(n - 32);
                p->cut_weights(x.data(), 32, n, cut, max, 1.0f / 0.7f, part.data());
                EXPECT_TRUE(std::equal(part.begin(), part.end(), cw.begin() + 32));
            }

            for (float scale : {8.0f, 64.0f}) {
                for (Candidate c : {cut, kKeepAll}) {  // kKeepAll takes a path of its own
                    const std::vector<float> limits = {1.0f, 3.0f, 0.5f, 17.0f, 128.0f, kInf, 0.0f, 1e9f};
                    std::vector<double> mass(kMassLimits);
                    p->masses_beyond(x.data(), w.data(), n, c, max, scale, limits.data(), kMassLimits, mass.data());
                    for (size_t j = 0; j < kMassLimits; ++j) {
                        double expected = 0.0;
                        for (size_t i = 0; i < n; ++i) {
                            if (kept(x, i, c) && (max - x[i]) * scale >= limits[j]) expected += w[i];
                        }
                        EXPECT_NEAR(mass[j], expected, 1e-6 * expected) << "limit " << limits[j];
                    }
                    // Each sum's bits do not depend on the other limits, and shrink as its limit grows.
                    std::vector<float> reversed(limits.rbegin(), limits.rend());
                    std::vector<double> mass_reversed(kMassLimits);
                    p->masses_beyond(x.data(), w.data(), n, c, max, scale, reversed.data(), kMassLimits,
                                     mass_reversed.data());
                    // Nor on how many limits a pass takes: one or two at a time, the same bits.
                    for (size_t j = 0; j + 1 < kMassLimits; j += 2) {
                        double pair[2] = {}, one = 0.0;
                        p->masses_beyond(x.data(), w.data(), n, c, max, scale, limits.data() + j, 2, pair);
                        p->masses_beyond(x.data(), w.data(), n, c, max, scale, limits.data() + j + 1, 1, &one);
                        EXPECT_EQ(std::memcmp(pair, &mass[j], 2 * sizeof(double)), 0) << j;
                        EXPECT_EQ(std::memcmp(&one, &mass[j + 1], sizeof(double)), 0) << j;
                    }
                    for (size_t j = 0; j < kMassLimits; ++j) {
                        EXPECT_EQ(std::memcmp(&mass[j], &mass_reversed[kMassLimits - 1 - j], sizeof(double)), 0) << j;
                        for (size_t k = 0; k < kMassLimits; ++k) {
                            if (limits[j] < limits[k]) {
                                EXPECT_GE(mass[j], mass[k]) << j << " " << k;
                            }
                        }
                    }
                }

                for (int32_t b : {-1, 0, 3, kMassBuckets - 1})
                    for (Candidate c : {cut, kKeepAll}) {
                        std::vector<Candidate> out(n);
                        const size_t m = p->collect(x.data(), n, c, max, scale, b, out.data());
                        std::vector<int32_t> ids, expected_ids;
                        for (size_t k = 0; k < m; ++k) {
                            ids.push_back(out[k].token);
                            EXPECT_EQ(out[k].logit, x[static_cast<size_t>(out[k].token)]);
                        }
                        for (size_t i = 0; i < n; ++i) {
                            if (kept(x, i, c) && (b < 0 || bucket(x[i], max, scale) == b)) {
                                expected_ids.push_back(static_cast<int32_t>(i));
                            }
                        }
                        EXPECT_EQ(ids, expected_ids) << "bucket " << b << " scale " << scale;
                    }
            }

            std::vector<float> sums_out(n / 256 + 1);
            p->block_sums(cw.data(), n, 256, sums_out.data());
            for (size_t b = 0; b * 256 < n; ++b) {
                double expected = 0.0;
                for (size_t i = b * 256; i < std::min(n, (b + 1) * 256); ++i) expected += cw[i];
                EXPECT_NEAR(sums_out[b], expected, 1e-5 * expected + 1e-30) << b;
            }
            // The draw's block sums without the weights: block_sums of cut_weights, bit for bit.
            std::vector<float> fused(n / 256 + 1);
            p->cut_weight_sums(x.data(), n, cut, max, 1.0f / 0.7f, 256, fused.data());
            EXPECT_TRUE(std::memcmp(fused.data(), sums_out.data(), ((n + 255) / 256) * sizeof(float)) == 0);
        }
    }
}

// Bit patterns, so that -0 and NaN payloads would count too.
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(VectorPasses, TheWideTablesGiveTheBaselinesBits) {
    const std::vector<const VectorPasses*> all = tables();
    if (all.size() == 1) GTEST_SKIP() << "this CPU has no AVX2: only the baseline table runs here";
    const VectorPasses& base = baseline_vector_passes();
    for (const VectorPasses* wide : std::span(all).subspan(1)) {
        for (size_t n : kSizes) {
            for (float scale : {0.3f, 3.0f, 30.0f}) {
                SCOPED_TRACE(std::string(wide->name) + " n=" + std::to_string(n) + " scale=" + std::to_string(scale));
                const std::vector<float> x = logits_with_bans_and_ties(n, static_cast<uint32_t>(n) + 7, scale);
                const Extremes e = base.extremes(x.data(), n);
                const Extremes ew = wide->extremes(x.data(), n);
                EXPECT_EQ(std::memcmp(&e, &ew, sizeof(e)), 0);

                std::vector<float> w(n), ww(n), ws(n / kDrawBlock + 1), wws(n / kDrawBlock + 1);
                const SoftmaxSums s = base.softmax_sums(x.data(), n, e.max, w.data(), ws.data());
                const SoftmaxSums sw = wide->softmax_sums(x.data(), n, e.max, ww.data(), wws.data());
                EXPECT_EQ(std::memcmp(&s, &sw, sizeof(s)), 0);
                EXPECT_TRUE(same_bits(w, ww));
                EXPECT_TRUE(same_bits(ws, wws));

                const Candidate cut{x[n / 2], static_cast<int32_t>(n / 2)};
                std::vector<float> c(n), cw(n);
                base.cut_weights(x.data(), 0, n, cut, e.max, 1.0f / 0.6f, c.data());
                wide->cut_weights(x.data(), 0, n, cut, e.max, 1.0f / 0.6f, cw.data());
                EXPECT_TRUE(same_bits(c, cw));
                std::vector<float> cs(n / 256 + 1), csw(n / 256 + 1);
                base.cut_weight_sums(x.data(), n, cut, e.max, 1.0f / 0.6f, 256, cs.data());
                wide->cut_weight_sums(x.data(), n, cut, e.max, 1.0f / 0.6f, 256, csw.data());
                EXPECT_TRUE(same_bits(cs, csw));

                for (Candidate c : {cut, kKeepAll}) {
                    const std::vector<float> limits = {1.0f, 2.0f, 5.0f, 9.0f, 30.0f, 100.0f, 128.0f, kInf};
                    std::vector<double> mass(kMassLimits), massw(kMassLimits);
                    base.masses_beyond(x.data(), w.data(), n, c, e.max, 16.0f, limits.data(), kMassLimits, mass.data());
                    wide->masses_beyond(x.data(), w.data(), n, c, e.max, 16.0f, limits.data(), kMassLimits,
                                        massw.data());
                    EXPECT_TRUE(same_bits(mass, massw));
                    std::vector<double> pair(2), pairw(2);
                    base.masses_beyond(x.data(), w.data(), n, c, e.max, 16.0f, limits.data() + 3, 2, pair.data());
                    wide->masses_beyond(x.data(), w.data(), n, c, e.max, 16.0f, limits.data() + 3, 2, pairw.data());
                    EXPECT_TRUE(same_bits(pair, pairw));
                }

                for (int32_t bucket : {-1, 2})
                    for (Candidate c : {cut, kKeepAll}) {
                        std::vector<Candidate> out(n), outw(n);
                        const size_t m = base.collect(x.data(), n, c, e.max, 16.0f, bucket, out.data());
                        ASSERT_EQ(wide->collect(x.data(), n, c, e.max, 16.0f, bucket, outw.data()), m);
                        EXPECT_EQ(std::memcmp(out.data(), outw.data(), m * sizeof(Candidate)), 0);
                    }

                std::vector<float> b(n / 256 + 1), bw(n / 256 + 1);
                base.block_sums(c.data(), n, 256, b.data());
                wide->block_sums(c.data(), n, 256, bw.data());
                EXPECT_TRUE(same_bits(b, bw));
            }
        }
    }
}

}  // namespace
}  // namespace sinan::sampling
