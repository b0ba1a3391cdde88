// engine/perplexity.h: the NLL of one token against closed forms, and how a token stream becomes
// chunks (BOS, batches, remainder, errors) on the trained TinyStories model. The figure itself is
// checked against llama.cpp's logits in tests/e2e/perplexity_test.cpp.
#include "engine/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "nan_model.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;
const std::string kStories = (fs::path(SINAN_SHARED_DIR) / "models" / "stories260K.gguf").string();

TEST(TokenNll, UniformLogitsGiveLogOfTheVocabularySize) {
    const std::vector<float> logits(512, 3.25f);
    EXPECT_NEAR(token_nll(logits, 17), std::log(512.0), 1e-12);
}

TEST(TokenNll, IsMinusTheLogOfTheSoftmaxProbability) {
    // softmax({0, ln 3}) = {1/4, 3/4}.
    const std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0))};
    EXPECT_NEAR(token_nll(logits, 1), std::log(4.0 / 3.0), 1e-7);
    EXPECT_NEAR(token_nll(logits, 0), std::log(4.0), 1e-7);
}

TEST(TokenNll, LargeLogitsDoNotOverflow) {
    const std::vector<float> logits = {1000.0f, 1000.0f, -1000.0f};
    EXPECT_NEAR(token_nll(logits, 0), std::log(2.0), 1e-12);
    EXPECT_TRUE(std::isfinite(token_nll(logits, 2)));
}

class PerplexityChunks : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
        Result<std::unique_ptr<model::Model>> m = model::Model::load(kStories, {.n_threads = 2});
        ASSERT_TRUE(m.ok()) << m.message();
        model_ = std::move(m).value();
        for (int i = 0; i < 100; ++i) tokens_.push_back(static_cast<int32_t>(2 + (i * 37) % 500));
    }
    std::unique_ptr<model::Model> model_;
    std::vector<int32_t> tokens_;
};

TEST_F(PerplexityChunks, AModelWithNanWeightsIsAnErrorNotANanFigure) {
    // The output matrix set to NaN (stories260K has its own, not tied to the embedding).
    const fs::path broken = copy_with_nan_tensor(kStories, "output.weight");
    ASSERT_FALSE(broken.empty());
    Result<std::unique_ptr<model::Model>> m = model::Model::load(broken.string(), {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    Result<PerplexityResult> r = perplexity(**m, tokens_, {.n_ctx = 32});
    fs::remove(broken);
    ASSERT_FALSE(r.ok()) << "perplexity " << r->perplexity;
    EXPECT_NE(r.message().find("NaN or infinite logits"), std::string::npos) << r.message();
    EXPECT_NE(r.message().find("chunk 1"), std::string::npos) << r.message();
}

TEST_F(PerplexityChunks, CountsChunksAndScoredTokensAndDropsTheRemainder) {
    Result<PerplexityResult> r = perplexity(*model_, tokens_, {.n_ctx = 32});
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->n_chunks, 3);
    EXPECT_EQ(r->n_scored, 3 * 15);
    EXPECT_NEAR(r->perplexity, std::exp(r->mean_nll), 1e-9 * r->perplexity);
    EXPECT_NEAR(r->perplexity_stderr, r->perplexity * r->mean_nll_stderr, 1e-9 * r->perplexity);
    EXPECT_GT(r->mean_nll_stderr, 0.0);
}

TEST_F(PerplexityChunks, BatchSizeDoesNotChangeTheFigure) {
    Result<PerplexityResult> whole = perplexity(*model_, tokens_, {.n_ctx = 32, .n_batch = 512});
    Result<PerplexityResult> pieces = perplexity(*model_, tokens_, {.n_ctx = 32, .n_batch = 5});
    ASSERT_TRUE(whole.ok() && pieces.ok());
    EXPECT_NEAR(pieces->mean_nll, whole->mean_nll, 1e-4 * whole->mean_nll);
    EXPECT_EQ(pieces->n_scored, whole->n_scored);
}

TEST_F(PerplexityChunks, BosStartsEveryChunkBeforeItsStreamTokens) {
    // One chunk with a BOS is the same as the BOS written in front of the stream's first 31 tokens.
    std::vector<int32_t> with_bos = {1};
    with_bos.insert(with_bos.end(), tokens_.begin(), tokens_.begin() + 31);
    Result<PerplexityResult> a = perplexity(*model_, std::span(tokens_).first(31), {.n_ctx = 32, .bos = 1});
    Result<PerplexityResult> b = perplexity(*model_, with_bos, {.n_ctx = 32});
    ASSERT_TRUE(a.ok()) << a.message();
    ASSERT_TRUE(b.ok()) << b.message();
    EXPECT_EQ(a->n_chunks, 1);
    EXPECT_DOUBLE_EQ(a->mean_nll, b->mean_nll);
    // Two chunks with a BOS take 62 stream tokens.
    EXPECT_EQ(perplexity(*model_, std::span(tokens_).first(62), {.n_ctx = 32, .bos = 1})->n_chunks, 2);
}

TEST_F(PerplexityChunks, ErrorsNameTheProblem) {
    Result<PerplexityResult> short_stream = perplexity(*model_, std::span(tokens_).first(20), {.n_ctx = 32});
    ASSERT_FALSE(short_stream.ok());
    EXPECT_NE(short_stream.message().find("-c 20"), std::string::npos) << short_stream.message();
    EXPECT_FALSE(perplexity(*model_, tokens_, {.n_ctx = 2}).ok());
    EXPECT_FALSE(perplexity(*model_, tokens_, {.n_ctx = 32, .n_batch = 0}).ok());
    std::vector<int32_t> bad = tokens_;
    bad[40] = 512;  // the vocabulary has 512 tokens
    Result<PerplexityResult> r = perplexity(*model_, bad, {.n_ctx = 32});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("512"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace sinan::engine
