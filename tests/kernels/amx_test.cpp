// The amx level's Q8_0 product (src/kernels/amx/gemm_q8_0.cpp). On any CPU with AVX-512 VNNI its
// loops and layouts run with the tile instructions emulated as Intel describes them, against the
// scalar vec_dot_q8_0 bit for bit: random weights and activations, row counts that are not a
// multiple of the panel height, token counts around the 16 of a tile, odd and even numbers of
// blocks (the kernel takes two at once). Where the CPU has AMX, the level itself: its table
// carries the tile kernel (the self-check at start agreed), which the Gemm tests then run on the
// hardware with every other level's cases, and its arithmetic probe runs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "test_util.h"

namespace sinan::kernels {
namespace {

using gguf::TensorType;

struct alignas(64) Line {
    uint8_t bytes[64];
};

TEST(AmxEmulated, Q8_0ProductsEqualTheSingleRowVecDot) {
    if (!cpu::features().avx512vnni) GTEST_SKIP() << "the emulated kernel's vector work needs AVX-512 VNNI";
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    const GemmKernel& avx512 = kernel_table(cpu::Level::kAvx512).gemm[static_cast<int>(TensorType::Q8_0)];
    std::mt19937 rng(20261202);
    for (int64_t n_blocks : {1, 3, 4, 40}) {
        const int64_t n_cols = n_blocks * 32;
        const uint64_t row = gguf::row_bytes(TensorType::Q8_0, n_cols);
        for (int64_t n_rows : {1, 7, 16, 17, 40}) {
            for (int64_t n_tokens : {15, 16, 17, 24, 33}) {
                const std::vector<uint8_t> w = test_util::random_blocks(TensorType::Q8_0, n_rows * n_cols, rng);
                std::vector<uint8_t> x(n_tokens * row);
                const std::vector<float> xf = test_util::gaussian(rng, n_tokens * n_cols);
                for (int64_t t = 0; t < n_tokens; ++t)
                    ref.quantize_activations[static_cast<int>(TensorType::Q8_0)](xf.data() + t * n_cols,
                                                                                 x.data() + t * row, n_cols);
                std::vector<Line> packed(((n_rows + 15) / 16 * 16 * row + 63) / 64);
                avx512.pack(w.data(), row, n_rows, n_cols, packed.data());
                // Prepared in two ranges, as two threads would (the second one first), into a buffer
                // of NaN bytes: the last tile's unused slots must not reach any result.
                std::vector<Line> prepared((amx::prepared_q8_0_bytes(n_tokens, n_cols) + 63) / 64);
                std::memset(prepared.data(), 0xff, prepared.size() * sizeof(Line));
                amx::prepare_q8_0(x.data(), row, n_tokens, n_cols, n_tokens / 2, n_tokens, prepared.data());
                amx::prepare_q8_0(x.data(), row, n_tokens, n_cols, 0, n_tokens / 2, prepared.data());
                const int64_t y_stride = n_rows + 3;  // the 3 extra floats must stay untouched
                std::vector<float> y(n_tokens * y_stride, -7.0f);
                const char* fault = amx::gemm_q8_0_packed_emulated(packed.data(), row, n_rows, prepared.data(), row,
                                                                   n_tokens, n_cols, y.data(), y_stride);
                const std::string where = "cols " + std::to_string(n_cols) + " rows " + std::to_string(n_rows) +
                                          " tokens " + std::to_string(n_tokens);
                ASSERT_EQ(fault, nullptr) << fault << ": " << where;
                for (int64_t t = 0; t < n_tokens; ++t) {
                    for (int64_t r = 0; r < y_stride; ++r) {
                        const float want = r < n_rows ? ref.vec_dot[static_cast<int>(TensorType::Q8_0)](
                                                            w.data() + r * row, x.data() + t * row, n_cols)
                                                      : -7.0f;
                        ASSERT_EQ(y[t * y_stride + r], want) << where << ": token " << t << " row " << r;
                    }
                }
            }
        }
    }
}

// The amx table asked for on a CPU without the tile unit (a test, a caller that names the level)
// keeps the AVX-512 kernels: a tile instruction there would fault.
TEST(Amx, WithoutTheTileUnitTheLevelKeepsTheAvx512Kernels) {
    const cpu::Features& f = cpu::features();
    if (f.amx_tile && f.amx_int8) GTEST_SKIP() << "this CPU has the tile unit";
    const int q8_0 = static_cast<int>(TensorType::Q8_0);
    const GemmKernel& amx = kernel_table(cpu::Level::kAmx).gemm[q8_0];
    const GemmKernel& avx512 = kernel_table(cpu::Level::kAvx512).gemm[q8_0];
    EXPECT_EQ(amx.run, avx512.run);
    EXPECT_EQ(amx.run_packed, avx512.run_packed);
    EXPECT_EQ(kernel_table(cpu::Level::kAmx).peak_int8_macs, kernel_table(cpu::Level::kAvx512).peak_int8_macs);
}

TEST(Amx, TheLevelRunsQ8_0ProductsOnTheTileUnit) {
    const std::vector<cpu::Level> levels = test_util::runnable_levels();
    if (levels.back() != cpu::Level::kAmx)
        GTEST_SKIP() << "no AMX-INT8 on this CPU (or the kernel refused the tile state)";
    const KernelTable& table = kernel_table(cpu::Level::kAmx);
    EXPECT_STREQ(table.name, "amx");
    EXPECT_EQ(table.gemm[static_cast<int>(TensorType::Q8_0)].run_packed, &amx::gemm_q8_0_packed)
        << "the self-check against the AVX-512 kernel failed";
    EXPECT_EQ(table.peak_int8_macs(100), uint64_t{100} * 4 * 16 * 16 * 64);
    if (cpu::best_level() == cpu::Level::kAmx) {
        EXPECT_STREQ(matmul_path(TensorType::Q8_0), "amx-int8");
    }
}

}  // namespace
}  // namespace sinan::kernels
