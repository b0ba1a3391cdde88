// A prompt batch's attention takes its tokens two at a time when the first one's cells are a
// prefix of the second's (model/attention.h, attend_token_pair), and one at a time otherwise: two
// prompts in one batch, where one pair of tokens straddles them and the last token has no pair,
// give every token the logits it gets with each prompt in a batch of its own (the same cells of
// one cache), bit for bit, with an F16 and a Q8_0 cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/synth.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
using gguf::TensorType;

// The logits of every token of `prompts` (sequence s: prompts[s], from position 0), all in one
// batch or a batch per prompt, one after another in one cache: the prompts take the same cells
// either way, and the tiled attention's tiles follow cell indices (model/attention.h).
std::vector<float> logits_of(Model& m, TensorType kv_type, const std::vector<std::vector<int32_t>>& prompts,
                             bool one_batch) {
    KvCache cache = m.make_cache(256, kv_type);
    Batch batch;
    std::vector<float> all, logits;
    for (size_t s = 0; s < prompts.size(); ++s) {
        for (size_t i = 0; i < prompts[s].size(); ++i)
            batch.add(prompts[s][i], static_cast<int32_t>(i), static_cast<int32_t>(s), true);
        if (one_batch && s + 1 < prompts.size()) continue;
        EXPECT_TRUE(m.forward(batch, cache, &logits).is_ok());
        all.insert(all.end(), logits.begin(), logits.end());
        batch.clear();
    }
    return all;
}

TEST(PromptBatch, TokensInPairsGetTheLogitsOfABatchPerPromptBitForBit) {
    const std::string path =
        (fs::temp_directory_path() / ("sinan-pairs-" + std::to_string(::getpid()) + ".gguf")).string();
    SynthOptions o;
    o.shape = "tiny";
    o.weight_std = 0.08f;  // attention far from uniform
    ASSERT_TRUE(synth_model(o, path).is_ok());
    Result<std::unique_ptr<Model>> m = Model::load(path);
    fs::remove(path);
    ASSERT_TRUE(m.ok()) << m.message();
    std::mt19937 rng(20261201);
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>((*m)->hparams().n_vocab - 1));
    // 65 + 66 tokens: tokens 64 (the first prompt's last) and 65 (the second's first) make a pair
    // whose cells are not nested, and token 130 is alone; each prompt alone is long enough for the
    // tiled path too.
    std::vector<std::vector<int32_t>> prompts{std::vector<int32_t>(65), std::vector<int32_t>(66)};
    for (auto& p : prompts)
        for (int32_t& t : p) t = id(rng);
    for (TensorType kv_type : {TensorType::F16, TensorType::Q8_0}) {
        EXPECT_EQ(logits_of(**m, kv_type, prompts, true), logits_of(**m, kv_type, prompts, false))
            << gguf::type_name(kv_type) << " cache";
    }
}

}  // namespace
}  // namespace sinan::model
