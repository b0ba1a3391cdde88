// The SIMD elementwise operations (rmsnorm, softmax, silu_mul, gelu, add_inplace, fma_f16_rows) against the
// scalar reference on every level, odd sizes (every tail after 8- and 16-wide vectors), inputs
// reaching the ends of exp's range, and in-place calls (seed printed on failure); and the scalar-only
// operations of ops.h that encoders use (layernorm, gelu_f16) against their formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;
using test_util::runnable_levels;

constexpr uint32_t kSeed = 20261131;
const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1001};

std::string context(const KernelTable& t, int64_t n) {
    return std::string(t.name) + " n=" + std::to_string(n) + " seed=" + std::to_string(kSeed);
}

// Gaussian values of scale `sigma`, with a few extremes mixed in (exp under- and overflow).
std::vector<float> inputs(std::mt19937& rng, int64_t n, float sigma) {
    std::vector<float> v = test_util::gaussian(rng, n, sigma);
    const float extremes[] = {-120.0f, -90.0f, -60.0f, 60.0f, 90.0f, 120.0f};
    for (int64_t i = 0; i < n; i += 13) v[i] = extremes[(i / 13) % 6];
    return v;
}

// |a - b| <= rel |b| + abs, element by element.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, double rel, double abs,
                  const std::string& ctx) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::isinf(b[i])) {
            EXPECT_EQ(a[i], b[i]) << ctx << " i=" << i;
            continue;
        }
        EXPECT_LE(std::fabs(static_cast<double>(a[i]) - b[i]), rel * std::fabs(b[i]) + abs) << ctx << " i=" << i;
    }
}

TEST(Elementwise, RmsNormMatchesReference) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            const std::vector<float> x = test_util::gaussian(rng, n, 3.0f), w = test_util::gaussian(rng, n);
            std::vector<float> want(n), got(n);
            ref.rmsnorm(x.data(), w.data(), want.data(), n, 1e-6f);
            t.rmsnorm(x.data(), w.data(), got.data(), n, 1e-6f);
            expect_close(got, want, 1e-6, 0, context(t, n));
        }
    }
}

TEST(Elementwise, SoftmaxMatchesReference) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            std::vector<float> want = inputs(rng, n, 5.0f);
            std::vector<float> got = want;
            ref.softmax(want.data(), n);
            t.softmax(got.data(), n);
            expect_close(got, want, 1e-6, 1e-12, context(t, n));
        }
    }
}

TEST(Elementwise, SiluMulMatchesReferenceAlsoInPlace) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            const std::vector<float> gate = inputs(rng, n, 4.0f), up = test_util::gaussian(rng, n);
            std::vector<float> want(n), got(n);
            ref.silu_mul(gate.data(), up.data(), want.data(), n);
            t.silu_mul(gate.data(), up.data(), got.data(), n);
            expect_close(got, want, 1e-6, 1e-37, context(t, n));
            std::vector<float> in_place = gate;
            t.silu_mul(in_place.data(), up.data(), in_place.data(), n);
            EXPECT_EQ(in_place, got) << context(t, n);
        }
    }
}

// The reference computes GGML's 0.5 x (1 + tanh(u)), whose 1 + tanh(u) loses relative precision
// for negative x; the SIMD form x / (1 + exp(-2u)) does not. Hence an absolute term in |x|.
TEST(Elementwise, GeluMatchesReferenceAlsoInPlace) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            const std::vector<float> x = inputs(rng, n, 3.0f);
            std::vector<float> want(n), got(n);
            ref.gelu(x.data(), want.data(), n);
            t.gelu(x.data(), got.data(), n);
            for (int64_t i = 0; i < n; ++i)
                EXPECT_LE(std::fabs(got[i] - want[i]), 1e-6 * std::fabs(want[i]) + 1e-7 * std::fabs(x[i]))
                    << context(t, n) << " x=" << x[i];
            std::vector<float> in_place = x;
            t.gelu(in_place.data(), in_place.data(), n);
            EXPECT_EQ(in_place, got) << context(t, n);
        }
    }
}

TEST(Elementwise, GeluReferenceValues) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) evaluated in double.
    const float x[] = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f};
    float y[5];
    kernel_table(cpu::Level::kScalar).gelu(x, y, 5);
    for (int i = 0; i < 5; ++i) {
        const double v = x[i];
        const double want = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        EXPECT_NEAR(y[i], want, 1e-6) << x[i];
    }
}

TEST(Elementwise, GeluF16IsTheFormulaOnF16Values) {
    // On F16-representable inputs the table gives the formula's value rounded to F16; elsewhere the
    // input is rounded first; beyond +-10 it is x or 0.
    const float x[] = {-12.0f, -3.0f, -0.5f, 0.0f, 0.1f, 1.0f, 2.5f, 9.99f, 10.0f, 37.5f};
    float got[10], want[10];
    gelu_f16(x, got, 10);
    for (int i = 0; i < 10; ++i) {
        const float r = fp16_to_fp32(fp32_to_fp16(x[i]));
        kernel_table(cpu::Level::kScalar).gelu(&r, &want[i], 1);
        want[i] = x[i] <= -10.0f ? 0.0f : x[i] >= 10.0f ? x[i] : fp16_to_fp32(fp32_to_fp16(want[i]));
        EXPECT_EQ(got[i], want[i]) << x[i];
    }
    EXPECT_NEAR(got[5], 0.8411920f, 1e-3);  // gelu(1)
}

TEST(Elementwise, LayerNormCentersScalesAndShifts) {
    const float x[] = {1.0f, 2.0f, 3.0f, 6.0f};
    const float w[] = {1.0f, 2.0f, 0.5f, 1.0f};
    const float b[] = {0.0f, 1.0f, 0.0f, -1.0f};
    float y[4];
    layernorm(x, w, b, y, 4, 1e-5f);
    // mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (x[i] - 3.0) / std::sqrt(3.5 + 1e-5) * w[i] + b[i], 1e-6) << i;
    layernorm(x, w, nullptr, y, 4, 1e-5f);
    EXPECT_NEAR(y[1], -1.0 / std::sqrt(3.5 + 1e-5) * 2.0, 1e-6);
}

TEST(Elementwise, AddInplaceIsExact) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            const std::vector<float> x = test_util::gaussian(rng, n);
            std::vector<float> y = test_util::gaussian(rng, n), want = y;
            for (int64_t i = 0; i < n; ++i) want[i] += x[i];
            t.add_inplace(y.data(), x.data(), n);
            EXPECT_EQ(y, want) << context(t, n);
        }
    }
}

// f(table, rng, n, n_y, n_v) for every level, row lengths n (within a vector, past one and two, long)
// and accumulator counts n_y (within, at and past the kernels' groups), n_v value rows: the cases
// of the weighted-sum kernels' tests.
template <typename F>
void for_each_weighted_sum_case(F&& f) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{128}, int64_t{1001}})
            for (int64_t n_y : {1, 3, 6, 8, 9, 12, 13, 25}) f(t, rng, n, n_y, n_y % 2 == 0 ? 5 : 64);
    }
}

// fma_f16_rows (attention's weighted sums of cached values, for the query heads that share them)
// is, on every level and for any number of accumulators, one fused multiply-add per element and
// value row, rows in order: std::fma's result applied row after row, exactly.
TEST(Elementwise, FmaF16RowsEqualTheScalarFmaRowAfterRowOnEveryLevel) {
    for_each_weighted_sum_case([](const KernelTable& t, std::mt19937& rng, int64_t n, int64_t n_y, int64_t n_v) {
        const std::vector<float> vf = test_util::gaussian(rng, n_v * n, 3.0f);
        std::vector<uint16_t> v(vf.size());
        for (size_t i = 0; i < v.size(); ++i) v[i] = fp32_to_fp16(vf[i]);
        std::vector<const uint16_t*> rows(n_v);
        for (int64_t j = 0; j < n_v; ++j) rows[j] = v.data() + ((j * 3) % n_v) * n;  // any order
        const int64_t y_stride = n + 3, s_stride = n_v + 2;
        const std::vector<float> s = test_util::gaussian(rng, n_y * s_stride);
        std::vector<float> y = test_util::gaussian(rng, n_y * y_stride), want = y;
        for (int64_t j = 0; j < n_v; ++j)
            for (int64_t g = 0; g < n_y; ++g)
                for (int64_t i = 0; i < n; ++i)
                    want[g * y_stride + i] =
                        std::fma(fp16_to_fp32(rows[j][i]), s[g * s_stride + j], want[g * y_stride + i]);
        t.fma_f16_rows(y.data(), y_stride, n_y, s.data(), s_stride, rows.data(), n_v, n);
        EXPECT_EQ(y, want) << context(t, n) << " accumulators " << n_y;  // the gaps between rows too
    });
}

// add_scaled_rows (the tiled attention's weighted sums over a quantized cache, its value rows
// dequantized to float) is, on every level and for any number of accumulators, the product
// rounded and then the sum, per element and value row, rows in order: no fused multiply-add.
TEST(Elementwise, AddScaledRowsRoundTheProductThenAddRowAfterRowOnEveryLevel) {
    for_each_weighted_sum_case([](const KernelTable& t, std::mt19937& rng, int64_t n, int64_t n_y, int64_t n_v) {
        const int64_t v_stride = n + 7;
        const std::vector<float> v = test_util::gaussian(rng, n_v * v_stride, 3.0f);
        const int64_t y_stride = n + 3, s_stride = n_v + 2;
        const std::vector<float> s = test_util::gaussian(rng, n_y * s_stride);
        std::vector<float> y = test_util::gaussian(rng, n_y * y_stride), want = y;
        for (int64_t j = 0; j < n_v; ++j)
            for (int64_t g = 0; g < n_y; ++g)
                for (int64_t i = 0; i < n; ++i) {
                    volatile float product = s[g * s_stride + j] * v[j * v_stride + i];  // rounded here
                    want[g * y_stride + i] += product;
                }
        t.add_scaled_rows(y.data(), y_stride, n_y, s.data(), s_stride, v.data(), v_stride, n_v, n);
        EXPECT_EQ(y, want) << context(t, n) << " accumulators " << n_y;  // the gaps between rows too
    });
}

// fma_f16_rounded (a step of the small-batch attention, whose sum of values is kept in binary16)
// is on every level what it replaces: fma_f16_rows for the row, then quantize_row and
// dequantize_row to F16 and back, bit for bit.
TEST(Elementwise, FmaF16RoundedIsTheFmaThenTheF16RoundTripOnEveryLevel) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t n : kSizes) {
            const std::vector<float> vf = test_util::gaussian(rng, n, 3.0f);
            std::vector<uint16_t> v(n), y16(n);
            for (int64_t i = 0; i < n; ++i) v[i] = fp32_to_fp16(vf[i]);
            std::vector<float> y = test_util::gaussian(rng, n, 100.0f), want = y;
            const float s = test_util::gaussian(rng, 1)[0];
            const uint16_t* row = v.data();
            t.fma_f16_rows(want.data(), n, 1, &s, 1, &row, 1, n);
            t.quantize[static_cast<int>(gguf::TensorType::F16)](want.data(), y16.data(), n);
            t.dequantize[static_cast<int>(gguf::TensorType::F16)](y16.data(), want.data(), n);
            t.fma_f16_rounded(y.data(), v.data(), s, n);
            EXPECT_EQ(y, want) << context(t, n);
        }
    }
}

// dot_f16_chains (the tiled attention's scores) keeps one fused multiply-add chain per query and
// key in index order on every level: each query's scores are the scalar single-query result
// exactly, however many queries share the call, for key counts, lengths and query counts that are
// not multiples of the vector widths.
TEST(Elementwise, DotF16ChainsEqualTheScalarChainsOfEachQueryOnEveryLevel) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (int64_t d : {16, 40, 128}) {
            for (int64_t n_keys : {1, 15, 16, 17, 64}) {
                for (int64_t n_q : {1, 6, 9, 12, 13}) {
                    const int64_t q_stride = d + 5;
                    const std::vector<float> q = test_util::gaussian(rng, n_q * q_stride);
                    const std::vector<float> kf = test_util::gaussian(rng, n_keys * d);
                    std::vector<uint16_t> k(kf.size());
                    for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(kf[i]);
                    std::vector<const uint16_t*> keys(n_keys);
                    for (int64_t j = 0; j < n_keys; ++j) keys[j] = k.data() + ((j * 7) % n_keys) * d;  // any order
                    std::vector<float> want(n_q * n_keys + 1, -1.0f), got(n_q * n_keys + 1, -1.0f);
                    for (int64_t g = 0; g < n_q; ++g)
                        ref.dot_f16_chains(q.data() + g * q_stride, 0, 1, keys.data(), n_keys, d,
                                           want.data() + g * n_keys);
                    t.dot_f16_chains(q.data(), q_stride, n_q, keys.data(), n_keys, d, got.data());
                    EXPECT_EQ(got, want) << context(t, d) << " keys " << n_keys << " queries " << n_q;
                }
            }
        }
    }
}

// The inputs of the attention tests below: n_q queries (q_stride floats apart), n keys of dk and
// n values of dv floats; with `rising` later keys are longer, so the scores grow along the cells
// and the maximum rises at many of them (each rise rescales the sum).
struct AttentionCase {
    int64_t dk, dv, n, n_q, q_stride, out_stride;
    std::vector<float> q, k, v;
    std::string what;
};

// f(case) for the head sizes given, one cell and many, rising keys and not, one query and the
// counts of GQA groups.
template <typename F>
void for_attention_cases(const KernelTable& t, std::initializer_list<std::pair<int64_t, int64_t>> sizes, F f) {
    std::mt19937 rng(kSeed);
    for (auto [dk, dv] : sizes) {
        for (int64_t n : {1, 17, 300}) {
            for (bool rising : {false, true}) {
                for (int64_t n_q : {1, 2, 4, 6}) {
                    AttentionCase c{dk, dv, n, n_q, dk + 3, dv + 5, {}, {}, {}, {}};
                    c.q = test_util::gaussian(rng, n_q * c.q_stride);
                    c.k = test_util::gaussian(rng, n * dk);
                    if (rising)
                        for (int64_t j = 0; j < n; ++j)
                            for (int64_t i = 0; i < dk; ++i) c.k[j * dk + i] *= 0.05f * static_cast<float>(j + 1);
                    c.v = test_util::gaussian(rng, n * dv, 4.0f);
                    c.what = context(t, dk) + " dv " + std::to_string(dv) + " cells " + std::to_string(n) +
                             (rising ? " rising" : "") + " queries " + std::to_string(n_q);
                    f(c);
                }
            }
        }
    }
}

// attend_f16_rounded (the small-batch attention over an F16 cache in one call) gives on every level
// the bits of its steps taken one kernel call at a time on that level (attend_f16_rounded_composite):
// head sizes below, at and above the 128 values a pass holds in registers and with a tail, keys
// and values of different sizes, value rows in any order.
TEST(Elementwise, AttendF16RoundedEqualsItsStepsOneCallAtATimeOnEveryLevel) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        for_attention_cases(
            t, {{40, 40}, {64, 64}, {128, 128}, {200, 200}, {192, 128}, {576, 512}}, [&](const AttentionCase& c) {
                std::vector<uint16_t> k(c.k.size()), v(c.v.size());
                for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(c.k[i]);
                for (size_t i = 0; i < v.size(); ++i) v[i] = fp32_to_fp16(c.v[i]);
                std::vector<const uint16_t*> keys(c.n), values(c.n);
                for (int64_t j = 0; j < c.n; ++j) {
                    keys[j] = k.data() + j * c.dk;
                    values[j] = v.data() + ((j * 7) % c.n) * c.dv;
                }
                const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
                std::vector<float> want(c.n_q * c.out_stride, -7.0f), got = want;
                attend_f16_rounded_composite(t, c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n, c.dk,
                                             c.dv, scale, want.data(), c.out_stride);
                if (t.attend_f16_rounded != nullptr) {
                    std::vector<float> scratch(4 * (c.dk + 2 * c.n));
                    t.attend_f16_rounded(c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n, c.dk, c.dv,
                                         scale, got.data(), c.out_stride, scratch.data());
                } else {
                    attend_f16_rounded_composite(t, c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n,
                                                 c.dk, c.dv, scale, got.data(), c.out_stride);
                }
                EXPECT_EQ(got, want) << c.what;  // the gaps after each output too
                EXPECT_NE(got[0], 0.0f) << c.what;
            });
    }
}

// attend_q8_0 (the small-batch attention over a Q8_0 cache in one call) likewise gives on every
// level the bits of its steps one kernel call at a time (attend_q8_0_composite).
TEST(Elementwise, AttendQ8_0EqualsItsStepsOneCallAtATimeOnEveryLevel) {
    for (cpu::Level level : runnable_levels()) {
        const KernelTable& t = kernel_table(level);
        for_attention_cases(t, {{32, 32}, {64, 64}, {128, 128}, {192, 128}, {576, 512}}, [&](const AttentionCase& c) {
            const size_t k_row = gguf::row_bytes(TensorType::Q8_0, c.dk);
            const size_t v_row = gguf::row_bytes(TensorType::Q8_0, c.dv);
            std::vector<uint8_t> k(c.n * k_row), v(c.n * v_row);
            std::vector<const void*> keys(c.n), values(c.n);
            for (int64_t j = 0; j < c.n; ++j) {
                quantize_row(TensorType::Q8_0, c.k.data() + j * c.dk, k.data() + j * k_row, c.dk);
                quantize_row(TensorType::Q8_0, c.v.data() + j * c.dv, v.data() + j * v_row, c.dv);
                keys[j] = k.data() + j * k_row;
            }
            for (int64_t j = 0; j < c.n; ++j) values[j] = v.data() + ((j * 7) % c.n) * v_row;
            const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
            std::vector<float> want(c.n_q * c.out_stride, -7.0f), got = want;
            attend_q8_0_composite(t, c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n, c.dk, c.dv, scale,
                                  want.data(), c.out_stride);
            if (t.attend_q8_0 != nullptr) {
                std::vector<float> scratch(4 * (c.dk + 2 * c.n));
                t.attend_q8_0(c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n, c.dk, c.dv, scale,
                              got.data(), c.out_stride, scratch.data());
            } else {
                attend_q8_0_composite(t, c.q.data(), c.q_stride, c.n_q, keys.data(), values.data(), c.n, c.dk, c.dv,
                                      scale, got.data(), c.out_stride);
            }
            EXPECT_EQ(got, want) << c.what;  // the gaps after each output too
            // (a value that quantizes to 0 can leave one output 0; all of them never)
            EXPECT_TRUE(std::any_of(got.begin(), got.begin() + c.dv, [](float x) { return x != 0.0f; })) << c.what;
        });
    }
}

}  // namespace
}  // namespace sinan::kernels
