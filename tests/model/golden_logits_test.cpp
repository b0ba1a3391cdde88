// Logits against llama.cpp's (../shared/models/golden/<model>.logits.json): every reference
// model, every position, within the tolerances the models README calls fair, and the same top
// token except where the reference's own top-two margin is below our error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

struct GoldenCase {
    const char* model;
    double tolerance;  // relative L2 error per position
};

// Positions agree with the reference to ~2e-7 until, somewhere in a sequence, a float rounded
// in a different order flips one rounding of an activation to F16/BF16/Q8 (or of the F16 KV
// cache); from there both engines differ by the size of that format's rounding, which the
// network carries forward. The bounds are that size per type (docs/model.md has the analysis;
// the models README's guesses of 1e-5 for F32 and 1e-3 for BF16 assume no such flip).
const GoldenCase kCases[] = {
    {"stories260K", 1e-3},        {"qwen2-micro-f32", 1e-3},    {"qwen2-small-f32", 1e-3},
    {"qwen2-small-f16", 3e-3},    {"qwen2-small-bf16", 1e-2},   {"qwen2-small-q8_0", 3e-2},
    {"qwen2-small-q6_k", 3e-2},   {"qwen2-small-q4_k", 3e-2},   {"qwen2-small-q4_0", 3e-2},
    {"llama-small-f32", 1e-3},    {"llama-small-f16", 3e-3},    {"llama-small-bf16", 1e-2},
    {"llama-small-q8_0", 3e-2},   {"llama-small-q6_k", 3e-2},   {"llama-small-q4_k", 3e-2},
    {"llama-small-q4_0", 3e-2},   {"deepseek2-small-f32", 1e-3},
};

class GoldenLogits : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenLogits, MatchTheReferenceAtEveryPosition) {
    const GoldenCase& c = GetParam();
    const fs::path model_path = kModels / (std::string(c.model) + ".gguf");
    const fs::path golden_path = kModels / "golden" / (std::string(c.model) + ".logits.json");
    if (!fs::exists(model_path) || !fs::exists(golden_path)) GTEST_SKIP() << "reference files not found: " << golden_path;
    std::ifstream in(golden_path);
    const nlohmann::json golden = nlohmann::json::parse(in);
    Result<std::unique_ptr<Model>> m = Model::load(model_path.string());
    ASSERT_TRUE(m.ok()) << m.message();
    const int64_t n_vocab = (*m)->hparams().n_vocab;
    double worst = 0;
    int64_t n_exact = 0;  // positions within 1e-5: before any rounding flip
    for (const auto& seq : golden["sequences"]) {
        const std::vector<int32_t> tokens = seq["tokens"];
        KvCache cache = (*m)->make_cache(static_cast<int64_t>(tokens.size()));
        Batch batch;
        for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int32_t>(i), 0, true);
        std::vector<float> logits;
        ASSERT_TRUE((*m)->forward(batch, cache, &logits).is_ok());
        for (size_t i = 0; i < tokens.size(); ++i) {
            const std::vector<float> ref = seq["logits"][i];
            ASSERT_EQ(static_cast<int64_t>(ref.size()), n_vocab);
            const float* ours = logits.data() + i * static_cast<size_t>(n_vocab);
            double diff = 0, norm = 0;
            size_t ref_top = 0, our_top = 0;
            for (size_t v = 0; v < ref.size(); ++v) {
                diff += (ours[v] - ref[v]) * static_cast<double>(ours[v] - ref[v]);
                norm += ref[v] * static_cast<double>(ref[v]);
                if (ref[v] > ref[ref_top]) ref_top = v;
                if (ours[v] > ours[our_top]) our_top = v;
            }
            const double rel = std::sqrt(diff / norm);
            worst = std::max(worst, rel);
            n_exact += rel < 1e-5;
            EXPECT_LE(rel, c.tolerance) << c.model << " position " << i;
            if (our_top != ref_top) {
                const double margin = ref[ref_top] - ref[our_top];
                EXPECT_LE(margin, std::sqrt(diff) + 1e-6) << c.model << " position " << i << ": top token differs";
            }
        }
    }
    RecordProperty("worst_relative_error", std::to_string(worst));
    std::printf("%s: worst relative L2 error %.3g (tolerance %.0e), %lld positions within 1e-5\n", c.model, worst,
                c.tolerance, static_cast<long long>(n_exact));
}

INSTANTIATE_TEST_SUITE_P(SharedModels, GoldenLogits, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                             std::string n = info.param.model;
                             for (char& ch : n)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

}  // namespace
}  // namespace sinan::model
