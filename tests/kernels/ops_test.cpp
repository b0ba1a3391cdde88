// matmul against a naive double-precision loop over the dequantized weights and the activations
// rounded as the weight type's dot product consumes them (round_activations), for every type and
// every level this CPU runs, odd row counts, one and several tokens.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "test_util.h"

// Counts every allocation in this test binary, for the tests that check none is made after warm-up.
// The operators are kept out of line: inlined into the standard allocator's calls, GCC 12 takes the
// free() of a pointer from operator new for a mismatched one (-Wmismatched-new-delete).
std::atomic<int64_t> g_n_allocations{0};

__attribute__((noinline)) void* operator new(size_t size) {
    g_n_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace sinan::kernels {
namespace {

using gguf::TensorType;

constexpr uint32_t kSeed = 20261132;

TEST(Matmul, EqualsDoubleLoopOverDequantizedWeightsAndRoundedActivations) {
    ThreadPool pool(3);
    std::mt19937 rng(kSeed);
    for (TensorType type : test_util::convertible_types()) {
        const int64_t n_cols = gguf::type_traits(type).block_size == 32 ? 96 : 512;  // 3 or 2 blocks
        const int64_t n_rows = 37;
        std::vector<uint8_t> w = test_util::random_blocks(type, n_rows * n_cols, rng);
        if (gguf::type_traits(type).block_size == 1) {  // floats: values, not random bits
            const std::vector<float> v = test_util::gaussian(rng, n_rows * n_cols);
            quantize_row(type, v.data(), w.data(), n_rows * n_cols);
        }
        std::vector<float> wf(n_rows * n_cols);
        dequantize_row(type, w.data(), wf.data(), n_rows * n_cols);
        const Matrix m{type, w.data(), n_cols, n_rows};
        for (int64_t n_tokens : {1, 5}) {
            for (cpu::Level level : test_util::runnable_levels()) {
                const std::vector<float> x = test_util::gaussian(rng, n_tokens * n_cols);
                std::vector<float> y(n_tokens * n_rows);
                matmul(kernel_table(level), m, x.data(), n_tokens, y.data(), pool);
                std::vector<float> xr(n_cols);
                for (int64_t t = 0; t < n_tokens; ++t) {
                    round_activations(type, x.data() + t * n_cols, xr.data(), n_cols);
                    for (int64_t r = 0; r < n_rows; ++r) {
                        double want = 0, abs = 0;
                        for (int64_t c = 0; c < n_cols; ++c) {
                            want += static_cast<double>(wf[r * n_cols + c]) * xr[c];
                            abs += std::fabs(static_cast<double>(wf[r * n_cols + c]) * xr[c]);
                        }
                        EXPECT_NEAR(y[t * n_rows + r], want, 1e-5 * abs + 1e-30)
                            << cpu::level_name(level) << " " << gguf::type_name(type) << " token " << t << " row " << r
                            << " seed=" << kSeed;
                    }
                }
            }
        }
    }
}

// No tokens (the output head of a prompt batch that wants no logits): nothing is computed or
// written, at every level and for every type (the Q8_0 GEMM kernel once called a null function).
// dot_rows (the tiled attention's scores over a quantized cache, its keys a stride apart) gives
// each row and operand what dot_row gives them, bit for bit, through the type's matrix kernel:
// rows wider than they are long, counts of rows and operands inside and past a panel and a tile.
TEST(Matmul, DotRowsAreDotRowBitForBit) {
    std::mt19937 rng(20261203);
    for (gguf::TensorType type : {gguf::TensorType::Q8_0, gguf::TensorType::Q4_K, gguf::TensorType::F16}) {
        const int64_t n = type == gguf::TensorType::Q4_K ? 256 : 128;
        const uint64_t row_bytes = gguf::row_bytes(type, static_cast<uint64_t>(n));
        const uint64_t stride = 3 * row_bytes;  // each row the middle of a wider one
        for (int64_t n_rows : {1, 5, 16, 17, 64}) {
            std::vector<uint8_t> rows(static_cast<size_t>(n_rows) * stride);
            for (int64_t r = 0; r < n_rows; ++r)
                quantize_row(type, test_util::gaussian(rng, n).data(), rows.data() + r * stride + row_bytes, n);
            for (int64_t n_x : {1, 6, 9, 12}) {
                const uint64_t x_bytes = dot_operand_bytes(type, n);
                std::vector<uint8_t> x(static_cast<size_t>(n_x) * x_bytes);
                for (int64_t t = 0; t < n_x; ++t)
                    quantize_dot_operand(type, test_util::gaussian(rng, n).data(), x.data() + t * x_bytes, n);
                const int64_t y_stride = n_rows + 2;
                std::vector<float> got(static_cast<size_t>(n_x * y_stride), -1.0f), want = got;
                for (int64_t t = 0; t < n_x; ++t)
                    for (int64_t r = 0; r < n_rows; ++r)
                        want[t * y_stride + r] =
                            dot_row(type, rows.data() + r * stride + row_bytes, x.data() + t * x_bytes, n);
                dot_rows(type, rows.data() + row_bytes, stride, n_rows, x.data(), n_x, n, got.data(), y_stride);
                EXPECT_EQ(got, want) << gguf::type_name(type) << ", " << n_rows << " rows, " << n_x << " operands";
            }
        }
    }
}

TEST(Matmul, NoTokensComputesNothing) {
    ThreadPool pool(2);
    std::mt19937 rng(kSeed);
    for (TensorType type : test_util::convertible_types()) {
        const int64_t n_cols = gguf::type_traits(type).block_size == 32 ? 96 : 512;
        const int64_t n_rows = 37;
        const std::vector<uint8_t> w = test_util::random_blocks(type, n_rows * n_cols, rng);
        const Matrix m{type, w.data(), n_cols, n_rows};
        const std::vector<float> x = test_util::gaussian(rng, n_cols);
        std::vector<float> y(n_rows, 7.0f);
        for (cpu::Level level : test_util::runnable_levels()) {
            matmul(kernel_table(level), m, x.data(), 0, y.data(), pool);
            EXPECT_EQ(y, std::vector<float>(n_rows, 7.0f)) << cpu::level_name(level) << " " << gguf::type_name(type);
        }
    }
}

// Repeated calls reuse the scratch: same inputs, same outputs, also after a larger batch.
TEST(Matmul, RepeatedCallsGiveTheSameResult) {
    ThreadPool pool(2);
    std::mt19937 rng(kSeed);
    const int64_t n_cols = 256, n_rows = 9;
    const std::vector<uint8_t> w = test_util::random_blocks(TensorType::Q4_K, n_rows * n_cols, rng);
    const Matrix m{TensorType::Q4_K, w.data(), n_cols, n_rows};
    const std::vector<float> x = test_util::gaussian(rng, 4 * n_cols);
    std::vector<float> first(n_rows), big(4 * n_rows), again(n_rows);
    matmul(m, x.data(), 1, first.data(), pool);
    matmul(m, x.data(), 4, big.data(), pool);
    matmul(m, x.data(), 1, again.data(), pool);
    EXPECT_EQ(first, again);
    EXPECT_EQ(std::vector<float>(big.begin(), big.begin() + n_rows), first);
}

// A matrix packed for the active kernel (pack_matrix) gives matmul and matmul_shared_input the
// results of its rows in place, bit for bit, for decoding, small batches and prompt batches, on 1
// and 2 threads (2 split the panels between them), with a last panel that is not whole and a
// buffer aligned to 8 bytes only, for each type with a packed layout (Q8_0, Q4_K, Q6_K on AVX-512
// VNNI, F16 on AVX-512); types without one (F32) report 0 bytes. Rows of 2304 values: the layouts
// of Q4_K and Q6_K cut them into 2 slices and pack their panels in groups of 4 (panel_slices.h),
// and the threads take whole groups: 4, 4 and 2 panels.
TEST(Matmul, PackedMatricesGiveTheResultsOfTheRows) {
    std::mt19937 rng(kSeed);
    const int64_t n_rows = 150;
    int n_packed = 0;
    for (const int64_t n_cols : {512, 2304}) {
        for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16}) {
            const std::vector<float> v = test_util::gaussian(rng, n_rows * n_cols);
            std::vector<uint8_t> bytes(gguf::row_bytes(type, n_rows * n_cols));
            quantize_row(type, v.data(), bytes.data(), n_rows * n_cols);
            Matrix rows{type, bytes.data(), n_cols, n_rows};
            const uint64_t n = packed_bytes(rows);
            if (n == 0) continue;
            ++n_packed;
            EXPECT_EQ(n, (n_rows + 15) / 16 * 16 * gguf::row_bytes(type, n_cols)) << gguf::type_name(type);
            for (int threads : {1, 2}) {
                ThreadPool pool(threads);
                std::vector<uint64_t> panels((n + 7) / 8 + 1);  // 8-byte aligned, and not 64 (+1 word)
                void* at = reinterpret_cast<uintptr_t>(panels.data()) % 64 == 0 ? panels.data() + 1 : panels.data();
                pack_matrix(rows, at, pool);
                Matrix packed = rows;
                packed.panels = at;
                for (int64_t n_tokens : {1, 2, 5, 8, 9, 20}) {
                    const std::vector<float> x = test_util::gaussian(rng, n_tokens * n_cols);
                    std::vector<float> want(n_tokens * n_rows), got(want.size(), -1.0f), shared(want.size(), -1.0f);
                    matmul(rows, x.data(), n_tokens, want.data(), pool);
                    matmul(packed, x.data(), n_tokens, got.data(), pool);
                    EXPECT_EQ(got, want) << gguf::type_name(type) << ", " << n_cols << " columns, " << threads
                                         << " threads, " << n_tokens << " tokens";
                    std::vector<float> other(n_tokens * n_rows);
                    const Matrix* both[] = {&packed, &rows};
                    float* out[] = {shared.data(), other.data()};
                    matmul_shared_input(both, x.data(), n_tokens, out, pool);
                    EXPECT_EQ(shared, want) << "shared input, " << gguf::type_name(type) << ", " << n_cols
                                            << " columns, " << threads << " threads, " << n_tokens << " tokens";
                    EXPECT_EQ(other, want);
                }
            }
        }
    }
    const std::vector<uint8_t> f32(gguf::row_bytes(TensorType::F32, n_rows * 512));
    EXPECT_EQ(packed_bytes({TensorType::F32, f32.data(), 512, n_rows}), 0u);
    if (n_packed == 0) GTEST_SKIP() << "no packed layout on this CPU (" << active_path() << ")";
}

// The forward pass calls matmul several times per layer and token: once the largest batch has
// been seen, no call may allocate (activation scratch is reused, the row job fits std::function).
TEST(Matmul, AllocatesNothingAfterWarmUp) {
    ThreadPool pool(2);
    std::mt19937 rng(kSeed);
    const int64_t n_cols = 512, n_rows = 33;
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::F16, TensorType::F32}) {
        std::vector<uint8_t> w(gguf::row_bytes(type, n_rows * n_cols));
        const std::vector<float> v = test_util::gaussian(rng, n_rows * n_cols);
        quantize_row(type, v.data(), w.data(), n_rows * n_cols);
        const Matrix m{type, w.data(), n_cols, n_rows};
        const std::vector<float> x = test_util::gaussian(rng, 3 * n_cols);
        std::vector<float> y(3 * n_rows);
        matmul(m, x.data(), 3, y.data(), pool);  // warm-up: the largest batch
        const int64_t before = g_n_allocations.load();
        matmul(m, x.data(), 1, y.data(), pool);
        matmul(m, x.data(), 3, y.data(), pool);
        EXPECT_EQ(g_n_allocations.load(), before) << gguf::type_name(type);
    }
}

// Matrices sharing an input (q, k, v with different types, as Q4_K_M files mix them) in one loop
// give what one matmul per matrix gives, bit for bit, for decoding and prompt batches, with row
// counts that are not whole panels; a type without a GEMM kernel falls back; nothing is allocated
// after warm-up.
TEST(Matmul, SharedInputEqualsOneMatmulPerMatrix) {
    ThreadPool pool(2);
    std::mt19937 rng(kSeed);
    const int64_t n_cols = 512;
    struct Weights {
        TensorType type;
        int64_t n_rows;
        std::vector<uint8_t> bytes;
    };
    const std::vector<std::vector<std::pair<TensorType, int64_t>>> groups = {
        {{TensorType::Q4_K, 40}, {TensorType::Q4_K, 17}, {TensorType::Q6_K, 17}},
        {{TensorType::Q8_0, 33}, {TensorType::F16, 50}},
        {{TensorType::Q8_0, 20}, {TensorType::Q4_0, 20}},  // Q4_0 has no GEMM kernel: one matmul each
    };
    for (const auto& group : groups) {
        std::vector<Weights> ws;
        for (const auto& [type, n_rows] : group) {
            const std::vector<float> v = test_util::gaussian(rng, n_rows * n_cols);
            std::vector<uint8_t> bytes(gguf::row_bytes(type, n_rows * n_cols));
            quantize_row(type, v.data(), bytes.data(), n_rows * n_cols);
            ws.push_back({type, n_rows, std::move(bytes)});
        }
        std::vector<Matrix> m;
        for (const Weights& w : ws) m.push_back({w.type, w.bytes.data(), n_cols, w.n_rows});
        std::vector<const Matrix*> mp;
        for (const Matrix& x : m) mp.push_back(&x);
        for (int64_t n_tokens : {1, 3, 9}) {
            const std::vector<float> x = test_util::gaussian(rng, n_tokens * n_cols);
            std::vector<std::vector<float>> got(m.size()), want(m.size());
            std::vector<float*> out;
            for (size_t i = 0; i < m.size(); ++i) {
                got[i].assign(n_tokens * m[i].n_rows, -1.0f);
                want[i].resize(got[i].size());
                matmul(m[i], x.data(), n_tokens, want[i].data(), pool);
                out.push_back(got[i].data());
            }
            matmul_shared_input(mp, x.data(), n_tokens, out, pool);
            for (size_t i = 0; i < m.size(); ++i)
                EXPECT_EQ(got[i], want[i]) << gguf::type_name(m[i].type) << " (matrix " << i << ") tokens " << n_tokens;
            const int64_t before = g_n_allocations.load();
            matmul_shared_input(mp, x.data(), n_tokens, out, pool);
            EXPECT_EQ(g_n_allocations.load(), before) << "tokens " << n_tokens;
        }
    }
}

// silu_mul split over a pool gives the single call's values bit for bit, below and above the size
// it splits from and for sizes that are not whole runs of 64, in place too, on pools of 1 to 3
// threads, and allocates nothing after warm-up.
TEST(SiluMul, OverThePoolEqualsOneCall) {
    std::mt19937 rng(kSeed);
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        for (int64_t n : {1, 63, 200, 4095, 4096, 4097, 4160, 8960, 8965}) {
            const std::vector<float> gate = test_util::gaussian(rng, n), up = test_util::gaussian(rng, n);
            std::vector<float> want(n), got(n, -1.0f), in_place = gate;
            silu_mul(gate.data(), up.data(), want.data(), n);
            silu_mul(gate.data(), up.data(), got.data(), n, pool);
            EXPECT_EQ(got, want) << threads << " threads, n " << n;
            silu_mul(in_place.data(), up.data(), in_place.data(), n, pool);
            EXPECT_EQ(in_place, want) << "in place: " << threads << " threads, n " << n;
            const int64_t before = g_n_allocations.load();
            silu_mul(gate.data(), up.data(), got.data(), n, pool);
            EXPECT_EQ(g_n_allocations.load(), before) << threads << " threads, n " << n;
        }
    }
}

}  // namespace
}  // namespace sinan::kernels
