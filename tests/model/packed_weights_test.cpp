// Weights repacked at load for the CPU's matrix kernel (LoadOptions::pack_weights) give the
// logits of the weights used in place, bit for bit: a prompt batch, then single tokens and a batch
// of several sequences decoding together (the kernels' paths for one token, for small batches and
// for prompt batches), for each type with a packed layout (Q8_0, Q4_K, Q6_K) and a model that mixes
// two of them (Q4_K_M).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/model.h"
#include "model/synth.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;

// Logits of a 40-token prompt in each of 3 sequences, then 4 steps decoding all 3 together, then
// 4 steps of sequence 0 alone.
std::vector<float> run(Model& m) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(m.hparams().n_vocab - 1));
    KvCache cache = m.make_cache(256, gguf::TensorType::F16);
    std::vector<float> all, logits;
    Batch prompt;
    for (int32_t s = 0; s < 3; ++s)
        for (int32_t i = 0; i < 40; ++i) prompt.add(id(rng), i, s, i == 39);
    EXPECT_TRUE(m.forward(prompt, cache, &logits).is_ok());
    all = logits;
    for (int32_t i = 40; i < 48; ++i) {
        Batch step;
        for (int32_t s = 0; s < (i < 44 ? 3 : 1); ++s) step.add(id(rng), i, s, true);
        EXPECT_TRUE(m.forward(step, cache, &logits).is_ok());
        all.insert(all.end(), logits.begin(), logits.end());
    }
    return all;
}

TEST(PackedWeights, GiveTheLogitsOfTheWeightsInPlace) {
    int n_packed = 0;
    for (TypeMix type : {TypeMix(gguf::TensorType::Q8_0), TypeMix(gguf::TensorType::Q4_K),
                         TypeMix(gguf::TensorType::Q6_K), TypeMix(gguf::TensorType::Q4_K, Mix::kQ4_K_M)}) {
        SCOPED_TRACE(type_mix_name(type));
        const std::string path =
            (fs::temp_directory_path() / ("sinan-packed-" + std::to_string(::getpid()) + ".gguf")).string();
        SynthOptions o;
        o.shape = "tiny";
        o.type = type;
        o.weight_std = 0.08f;
        ASSERT_TRUE(synth_model(o, path).is_ok());
        LoadOptions in_place;
        in_place.pack_weights = false;
        Result<std::unique_ptr<Model>> packed = Model::load(path), rows = Model::load(path, in_place);
        fs::remove(path);
        ASSERT_TRUE(packed.ok()) << packed.message();
        ASSERT_TRUE(rows.ok()) << rows.message();
        EXPECT_EQ((*rows)->packed_weight_bytes(), 0u);
        if ((*packed)->packed_weight_bytes() == 0) continue;
        ++n_packed;
        const std::vector<float> a = run(**packed), b = run(**rows);
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(a, b);
    }
    if (n_packed == 0) GTEST_SKIP() << "no packed layout on this CPU (" << kernels::active_path() << ")";
}

}  // namespace
}  // namespace sinan::model
