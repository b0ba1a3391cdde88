// Context shift's key re-rotation (Model::shift_keys): a token's cached keys, computed at position
// p and moved by d, equal the keys the model computes for it at p + d. A one-token sequence makes
// this exact at every layer: the token attends only to itself, so its hidden state, and hence
// every layer's key before RoPE, does not depend on its position. Checked for the dense
// architectures (qwen2, llama: two RoPE layouts) and deepseek2 (MLA: only the rotary part of the
// latent row turns; YaRN's frequency ramp), in F16 and Q8_0 caches. (deepseek2 keeps its rope at
// magnitude 1, so the magnitude correction for dense YaRN models is not exercised here.)
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "kernels/kernels.h"
#include "model/model.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
using gguf::TensorType;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

// The keys of every layer of one cell, as floats.
std::vector<float> keys_of(const Model& m, KvCache& cache, int32_t cell) {
    const int64_t n = cache.n_embd_k();
    std::vector<float> out(static_cast<size_t>(m.hparams().n_layer * n));
    for (int64_t l = 0; l < m.hparams().n_layer; ++l)
        kernels::dequantize_row(cache.type(), cache.k(l, cell), out.data() + l * n, n);
    return out;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
    double d = 0, r = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        d += (a[i] - ref[i]) * static_cast<double>(a[i] - ref[i]);
        r += ref[i] * static_cast<double>(ref[i]);
    }
    return std::sqrt(d / r);
}

// Computes `token` alone at `pos` in sequence `seq`; returns its cell.
int32_t place(Model& m, KvCache& cache, int32_t token, int32_t pos, int32_t seq) {
    Batch b;
    b.add(token, pos, seq, true);
    std::vector<float> logits;
    EXPECT_TRUE(m.forward(b, cache, &logits).is_ok());
    for (int32_t c = 0; c < cache.n_cells(); ++c)
        if (cache.cell_used(c) && cache.cell_has(c, seq)) return c;
    return -1;
}

void check_shift(const std::string& file, TensorType type, double tol) {
    const fs::path path = kModels / file;
    if (!fs::exists(path)) GTEST_SKIP() << "reference model not found: " << path;
    Result<std::unique_ptr<Model>> loaded = Model::load(path.string());
    ASSERT_TRUE(loaded.ok()) << loaded.message();
    Model& m = **loaded;
    if (!m.check_kv_type(type).is_ok()) GTEST_SKIP() << file << " cannot use this cache type";
    for (const auto& [from, to] : {std::pair{200, 37}, std::pair{37, 200}, std::pair{1000, 3}}) {
        KvCache cache = m.make_cache(4, type);
        const int32_t moved = place(m, cache, 7, from, 0);
        const int32_t fresh = place(m, cache, 7, to, 1);
        ASSERT_GE(moved, 0);
        ASSERT_GE(fresh, 0);
        const std::vector<float> before = keys_of(m, cache, moved);
        const std::vector<int32_t> cells = cache.seq_shift(0, 0, -1, to - from);
        ASSERT_EQ(cells, std::vector<int32_t>{moved});
        EXPECT_EQ(cache.cell_pos(moved), to);
        ASSERT_TRUE(m.shift_keys(cache, cells, to - from).is_ok());
        const std::vector<float> after = keys_of(m, cache, moved), want = keys_of(m, cache, fresh);
        EXPECT_LT(rel_error(after, want), tol) << file << ": " << from << " -> " << to;
        EXPECT_GT(rel_error(before, want), 10 * tol) << "the keys must have turned";
    }
}

TEST(ContextShift, ShiftedKeysEqualKeysComputedAtTheNewPositionQwen2) {
    check_shift("qwen2-small-f32.gguf", TensorType::F16, 2e-3);
}
TEST(ContextShift, ShiftedKeysEqualKeysComputedAtTheNewPositionLlama) {
    check_shift("llama-small-f32.gguf", TensorType::F16, 2e-3);
}
TEST(ContextShift, ShiftedKeysEqualKeysComputedAtTheNewPositionDeepseek2) {
    check_shift("deepseek2-small-f32.gguf", TensorType::F16, 2e-3);
}
TEST(ContextShift, ShiftedKeysInAQ8_0Cache) { check_shift("qwen2-small-f32.gguf", TensorType::Q8_0, 2e-2); }

}  // namespace
}  // namespace sinan::model
