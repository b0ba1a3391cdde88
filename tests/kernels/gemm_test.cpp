// The GEMM kernels (dispatch.h, GemmKernel) against the same level's single-row vec_dot, bit for
// bit, on every level this CPU runs: random weight blocks (gaussian values for float types),
// random activations, row counts that are not a multiple of the panel height, every token count
// up to one tile and counts that are not a multiple of it, row lengths with and without a tail
// (an odd and an even number of blocks: kernels that take two blocks at once; 40 blocks: Q8_0's
// prompt kernel, two panels at once, takes them in passes of 16; 1100 float values: the one-token
// F16 kernel's passes of 512, then of 64, 16 and a tail). A kernel with a
// packed layout gives the same bits from the packed weights; a kernel that prepares its tokens
// (GemmKernel::prepare) runs on them prepared, as matmul gives them; one with a read-ahead form
// (GemmKernel::run_packed_read_ahead: Q8_0, Q4_K, Q6_K, AVX-512's F16) gives the same bits in it,
// whichever form this CPU runs. The AVX2 level's Q8_0, Q4_K and Q6_K products run packed, the
// avx-vnni level's likewise (Q8_0 on prepared tokens), and the AVX-512 VNNI level's, and the
// AVX-512 level's F16 (groups of 4 rows: the row counts leave last groups of 1 and 3 rows; the
// float lengths, tails of 33, 8 and 12 values after the interleaved 64-value chunks), and the
// packed layouts of Q4_K and Q6_K cut the rows of 11, 22 and 40 blocks into 2, 3 and 5 slices
// (panel_slices.h; Q6_K's of whole runs of 2 blocks; 150 rows: groups of 4, 4 and 2 panels, the
// last panel with 6 rows).
#include <gtest/gtest.h>

#include <algorithm>
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

constexpr uint32_t kSeed = 20261201;

struct alignas(64) Line {
    uint8_t bytes[64];
};

TEST(Gemm, EveryResultEqualsTheSingleRowVecDotWhateverTheBatch) {
    const KernelTable& ref = kernel_table(cpu::Level::kScalar);
    int n_kernels = 0, n_packed = 0, n_read_ahead = 0, n_avx2_packed = 0, n_avx_vnni_packed = 0,
        n_avx512_f16_packed = 0, n_avx512_f16_read_ahead = 0;
    for (cpu::Level level : test_util::runnable_levels()) {
        const KernelTable& table = kernel_table(level);
        std::mt19937 rng(kSeed);
        for (TensorType type : test_util::convertible_types()) {
            const GemmKernel& gemm = table.gemm[static_cast<int>(type)];
            if (gemm.run == nullptr) continue;
            ++n_kernels;
            const TensorType dot_type = vec_dot_type(type);
            const int64_t block = std::max(gguf::type_traits(type).block_size, gguf::type_traits(dot_type).block_size);
            const std::vector<int64_t> lengths =
                block == 1 ? std::vector<int64_t>{16, 33, 64, 200, 1100}
                           : std::vector<int64_t>{block, 3 * block, 4 * block, 11 * block, 22 * block, 40 * block};
            for (int64_t n_cols : lengths) {
                for (int64_t n_rows : {1, 7, 16, 17, 40, 64, 150}) {
                    for (int64_t n_tokens : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17, 24}) {
                        const uint64_t w_row = gguf::row_bytes(type, n_cols), x_row = gguf::row_bytes(dot_type, n_cols);
                        std::vector<uint8_t> w = test_util::random_blocks(type, n_rows * n_cols, rng);
                        if (block == 1) {  // floats: values, not random bits (NaN would not compare)
                            const std::vector<float> v = test_util::gaussian(rng, n_rows * n_cols);
                            quantize_row(type, v.data(), w.data(), n_rows * n_cols);
                        }
                        std::vector<uint8_t> x(n_tokens * x_row);
                        const std::vector<float> xf = test_util::gaussian(rng, n_tokens * n_cols);
                        for (int64_t t = 0; t < n_tokens; ++t)
                            ref.quantize_activations[static_cast<int>(dot_type)](xf.data() + t * n_cols,
                                                                                 x.data() + t * x_row, n_cols);
                        const int64_t y_stride = n_rows + 3;  // the 3 extra floats must stay untouched
                        std::vector<float> y(n_tokens * y_stride, -7.0f);
                        std::vector<Line> prepared;
                        const void* operand = x.data();
                        if (gemm.prepare != nullptr) {
                            prepared.resize((gemm.prepared_bytes(n_tokens, n_cols) + 63) / 64);
                            // In two ranges, as threads would prepare them (the second one first).
                            const int64_t half = n_tokens / 2;
                            gemm.prepare(x.data(), x_row, n_tokens, n_cols, half, n_tokens, prepared.data());
                            gemm.prepare(x.data(), x_row, n_tokens, n_cols, 0, half, prepared.data());
                            operand = prepared.data();
                        }
                        std::vector<Line> scratch((gemm.scratch_bytes(n_tokens, n_cols) + 63) / 64);
                        gemm.run(w.data(), w_row, n_rows, operand, x_row, n_tokens, n_cols, y.data(), y_stride,
                                 scratch.data());
                        if (gemm.pack != nullptr) {
                            // The packed layout: whole panels of 16 rows, the last one padded.
                            std::vector<Line> packed(((n_rows + 15) / 16 * 16 * w_row + 63) / 64);
                            gemm.pack(w.data(), w_row, n_rows, n_cols, packed.data());
                            std::vector<float> yp(n_tokens * y_stride, -7.0f);
                            std::vector<Line> ps((gemm.packed_scratch_bytes(n_tokens, n_cols) + 63) / 64);
                            gemm.run_packed(packed.data(), w_row, n_rows, operand, x_row, n_tokens, n_cols, yp.data(),
                                            y_stride, ps.data());
                            ++n_packed;
                            if (level == cpu::Level::kAvx2) ++n_avx2_packed;
                            if (level == cpu::Level::kAvxVnni) ++n_avx_vnni_packed;
                            if (level == cpu::Level::kAvx512 && type == TensorType::F16) ++n_avx512_f16_packed;
                            ASSERT_EQ(std::memcmp(yp.data(), y.data(), y.size() * sizeof(float)), 0)
                                << table.name << " packed " << gguf::type_name(type) << " cols " << n_cols << " rows "
                                << n_rows << " tokens " << n_tokens;
                            if (gemm.run_packed_read_ahead != nullptr) {
                                std::vector<float> ya(n_tokens * y_stride, -7.0f);
                                gemm.run_packed_read_ahead(packed.data(), w_row, n_rows, operand, x_row, n_tokens,
                                                           n_cols, ya.data(), y_stride, ps.data());
                                ++n_read_ahead;
                                if (level == cpu::Level::kAvx512 && type == TensorType::F16) ++n_avx512_f16_read_ahead;
                                ASSERT_EQ(std::memcmp(ya.data(), y.data(), y.size() * sizeof(float)), 0)
                                    << table.name << " packed, read ahead " << gguf::type_name(type) << " cols "
                                    << n_cols << " rows " << n_rows << " tokens " << n_tokens;
                            }
                        }
                        for (int64_t t = 0; t < n_tokens; ++t) {
                            for (int64_t r = 0; r < y_stride; ++r) {
                                const float want = r < n_rows ? table.vec_dot[static_cast<int>(type)](
                                                                    w.data() + r * w_row, x.data() + t * x_row, n_cols)
                                                              : -7.0f;
                                // Q8_0's single-row kernels all keep the reference's operations.
                                if (type == TensorType::Q8_0 && r < n_rows) {
                                    ASSERT_EQ(want, ref.vec_dot[static_cast<int>(type)](w.data() + r * w_row,
                                                                                        x.data() + t * x_row, n_cols));
                                }
                                ASSERT_EQ(y[t * y_stride + r], want)
                                    << table.name << " " << gguf::type_name(type) << " cols " << n_cols << " rows "
                                    << n_rows << " tokens " << n_tokens << ": token " << t << " row " << r
                                    << " seed=" << kSeed;
                            }
                        }
                    }
                }
            }
        }
    }
    if (n_kernels == 0) GTEST_SKIP() << "no GEMM kernel on the levels this CPU runs";
    if (cpu::features().avx2 && cpu::features().fma && cpu::features().f16c) {
        // Every length, row count and token count of Q8_0, Q4_K and Q6_K.
        EXPECT_EQ(n_avx2_packed, 3 * 6 * 7 * 12) << "AVX2 has packed Q8_0, Q4_K and Q6_K kernels";
    }
    if (cpu::runnable(cpu::Level::kAvxVnni)) {
        EXPECT_EQ(n_avx_vnni_packed, 3 * 6 * 7 * 12) << "AVX-VNNI has packed Q8_0, Q4_K and Q6_K kernels";
    }
    const std::vector<cpu::Level> levels = test_util::runnable_levels();
    if (std::find(levels.begin(), levels.end(), cpu::Level::kAvx512) != levels.end()) {
        EXPECT_EQ(n_avx512_f16_packed, 5 * 7 * 12) << "AVX-512 has a packed F16 kernel";
        EXPECT_EQ(n_avx512_f16_read_ahead, 5 * 7 * 12) << "AVX-512's packed F16 kernel has a read-ahead form";
    }
    if (cpu::features().avx512vnni) {
        EXPECT_GT(n_packed, 0) << "AVX-512 VNNI has a packed Q8_0 kernel";
        EXPECT_GT(n_read_ahead, 0) << "AVX-512 VNNI has read-ahead Q4_K and Q6_K kernels";
    }
}

// The AVX-512 VNNI level's Q4_K read-ahead forms (the table holds one of them, by processor:
// dispatch.cpp) give the bits of the form that fetches nothing, whichever this CPU's table holds:
// one token (the forms differ there) and 3, rows of one slice and of 5 (panel_slices.h).
TEST(Gemm, EveryQ4KReadAheadFormGivesTheSameBits) {
    if (!cpu::features().avx512vnni) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
    const GemmKernel& gemm = kernel_table(cpu::Level::kAvx512).gemm[static_cast<int>(TensorType::Q4_K)];
    std::mt19937 rng(kSeed);
    for (int64_t n_cols : {256 * 3, 256 * 40}) {
        for (int64_t n_tokens : {1, 3}) {
            const int64_t n_rows = 70;
            const uint64_t w_row = gguf::row_bytes(TensorType::Q4_K, n_cols);
            const uint64_t x_row = gguf::row_bytes(TensorType::Q8_K, n_cols);
            const std::vector<uint8_t> w = test_util::random_blocks(TensorType::Q4_K, n_rows * n_cols, rng);
            std::vector<uint8_t> x(n_tokens * x_row);
            const std::vector<float> xf = test_util::gaussian(rng, n_tokens * n_cols);
            for (int64_t t = 0; t < n_tokens; ++t)
                kernel_table(cpu::Level::kScalar)
                    .quantize_activations[static_cast<int>(TensorType::Q8_K)](xf.data() + t * n_cols,
                                                                              x.data() + t * x_row, n_cols);
            std::vector<Line> prepared((gemm.prepared_bytes(n_tokens, n_cols) + 63) / 64);
            gemm.prepare(x.data(), x_row, n_tokens, n_cols, 0, n_tokens, prepared.data());
            std::vector<Line> packed(((n_rows + 15) / 16 * 16 * w_row + 63) / 64);
            gemm.pack(w.data(), w_row, n_rows, n_cols, packed.data());
            using Run = decltype(GemmKernel::run_packed);
            std::vector<float> want;
            for (Run run : {avx512::gemm_q4_k_packed, avx512::gemm_q4_k_packed_read_ahead,
                            avx512::gemm_q4_k_packed_fetch_blocks}) {
                std::vector<float> y(n_tokens * n_rows, -7.0f);
                run(packed.data(), w_row, n_rows, prepared.data(), x_row, n_tokens, n_cols, y.data(), n_rows, nullptr);
                if (want.empty()) want = y;
                ASSERT_EQ(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)), 0)
                    << "cols " << n_cols << " tokens " << n_tokens;
            }
        }
    }
}

}  // namespace
}  // namespace sinan::kernels
