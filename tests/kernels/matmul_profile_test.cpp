// MatmulProfile: every matrix product recorded while one is installed, none after, per matrix
// and batch size, with the weight bytes it read.
#include "kernels/matmul_profile.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;

TEST(MatmulProfile, SumsCallsPerMatrixAndBatchSizeLongestFirst) {
    MatmulProfile p;
    p.record("Q8_0 64x16", 1, 0.5, 100);
    p.record("Q4_K 256x8", 3, 2.0, 50);
    p.record("Q8_0 64x16", 1, 0.25, 100);
    p.record("Q8_0 64x16", 2, 0.1, 100);  // another batch size: its own row
    const std::vector<MatmulTiming> t = p.timings();
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].matrix, "Q4_K 256x8");
    EXPECT_EQ(t[1].matrix, "Q8_0 64x16");
    EXPECT_EQ(t[1].n_tokens, 1);
    EXPECT_EQ(t[1].calls, 2);
    EXPECT_DOUBLE_EQ(t[1].seconds, 0.75);
    EXPECT_EQ(t[1].bytes, 200u);
    EXPECT_EQ(t[2].n_tokens, 2);
}

TEST(MatmulProfile, RecordsEveryProductWhileInstalledAndNoneAfter) {
    std::mt19937 rng(7);
    const int64_t n_cols = 64, rows_a = 16, rows_b = 40, n_tokens = 3;
    std::vector<float> va = test_util::gaussian(rng, rows_a * n_cols), vb = test_util::gaussian(rng, rows_b * n_cols);
    std::vector<uint8_t> qa(gguf::row_bytes(TensorType::Q8_0, va.size())),
        qb(gguf::row_bytes(TensorType::Q8_0, vb.size()));
    quantize_row(TensorType::Q8_0, va.data(), qa.data(), static_cast<int64_t>(va.size()));
    quantize_row(TensorType::Q8_0, vb.data(), qb.data(), static_cast<int64_t>(vb.size()));
    const Matrix a{TensorType::Q8_0, qa.data(), n_cols, rows_a}, b{TensorType::Q8_0, qb.data(), n_cols, rows_b};
    const std::vector<float> x = test_util::gaussian(rng, n_tokens * n_cols);
    std::vector<float> ya(n_tokens * rows_a), yb(n_tokens * rows_b);
    ThreadPool pool(2);

    matmul(a, x.data(), n_tokens, ya.data(), pool);  // before: not recorded
    MatmulProfile profile;
    set_matmul_profile(&profile);
    matmul(a, x.data(), n_tokens, ya.data(), pool);
    matmul(a, x.data(), n_tokens, ya.data(), pool);
    matmul(a, x.data(), 1, ya.data(), pool);
    const Matrix* both[] = {&a, &b};
    float* ys[] = {ya.data(), yb.data()};
    matmul_shared_input(both, x.data(), n_tokens, ys, pool);
    matmul(a, x.data(), 0, ya.data(), pool);  // computes nothing: not recorded
    set_matmul_profile(nullptr);
    matmul(a, x.data(), n_tokens, ya.data(), pool);  // after: not recorded
    EXPECT_EQ(matmul_profile(), nullptr);

    const uint64_t bytes_a = qa.size(), bytes_b = qb.size();
    int64_t calls = 0;
    uint64_t bytes = 0;
    bool three_of_a = false, one_of_a = false;
    for (const MatmulTiming& t : profile.timings()) {
        calls += t.calls;
        bytes += t.bytes;
        EXPECT_GE(t.seconds, 0.0);
        if (t.matrix == "Q8_0 64x16" && t.n_tokens == n_tokens) three_of_a = t.calls >= 2;
        if (t.matrix == "Q8_0 64x16" && t.n_tokens == 1) one_of_a = t.calls == 1 && t.bytes == bytes_a;
    }
    EXPECT_TRUE(three_of_a);
    EXPECT_TRUE(one_of_a);
    // The shared product is one call ("Q8_0 64x16 + Q8_0 64x40") where the level has a GEMM kernel
    // for Q8_0, else one per matrix; either way both matrices' bytes once.
    EXPECT_EQ(bytes, 3 * bytes_a + bytes_a + bytes_b);
    EXPECT_TRUE(calls == 4 || calls == 5) << calls;
}

}  // namespace
}  // namespace sinan::kernels
