// Embedder on the reference bert model: texts tokenize to llama.cpp's ids ([CLS] ... [SEP]) and
// embed to its vectors; normalisation, truncation and batching behave as the header says.
#include "engine/embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nan_model.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;
const fs::path kBert = fs::path(SINAN_SHARED_DIR) / "models" / "bert-tiny-f32.gguf";
const fs::path kGolden = fs::path(SINAN_SHARED_DIR) / "models" / "golden" / "bert-tiny-f32.embeddings.json";

class EmbedderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists(kBert) || !fs::exists(kGolden))
            GTEST_SKIP() << "reference files not found: " << kBert << " and " << kGolden;
        std::ifstream in(kGolden);
        golden_ = nlohmann::json::parse(in);
        Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(kBert.string());
        ASSERT_TRUE(m.ok()) << m.message();
        model_ = std::move(m).value();
        Result<text::Tokenizer> t = text::Tokenizer::from_gguf(model_->file());
        ASSERT_TRUE(t.ok()) << t.message();
        embedder_ = std::make_unique<Embedder>(*model_, std::move(t).value());
    }

    std::vector<std::string> texts() const {
        std::vector<std::string> out;
        for (const auto& item : golden_["items"]) out.push_back(item["text"]);
        return out;
    }

    nlohmann::json golden_;
    std::unique_ptr<model::EmbeddingModel> model_;
    std::unique_ptr<Embedder> embedder_;
};

TEST_F(EmbedderTest, TextsTokenizeAndEmbedAsLlamaCpp) {
    const std::vector<std::string> t = texts();
    for (size_t i = 0; i < t.size(); ++i)
        EXPECT_EQ(embedder_->tokenize(t[i]), golden_["items"][i]["tokens"].get<std::vector<int32_t>>()) << t[i];
    EmbedOptions raw;
    raw.normalize = false;
    Result<Embeddings> e = embedder_->embed_texts(t, raw);
    ASSERT_TRUE(e.ok()) << e.message();
    ASSERT_EQ(e->n_embd, 64);
    ASSERT_EQ(e->values.size(), t.size() * 64);
    int64_t n_total = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        const std::vector<float> ref = golden_["items"][i]["embedding"];
        double diff = 0, norm = 0;
        for (size_t c = 0; c < ref.size(); ++c) {
            const double d = e->values[i * 64 + c] - ref[c];
            diff += d * d;
            norm += ref[c] * static_cast<double>(ref[c]);
        }
        EXPECT_LE(std::sqrt(diff / norm), 1e-5) << t[i];
        EXPECT_EQ(e->n_tokens[i], static_cast<int64_t>(golden_["items"][i]["tokens"].size()));
        n_total += e->n_tokens[i];
    }
    EXPECT_EQ(e->n_tokens_total(), n_total);
}

TEST_F(EmbedderTest, NormalisedVectorsAreTheRawOnesOverTheirLength) {
    const std::vector<std::string> t = texts();
    EmbedOptions raw;
    raw.normalize = false;
    Result<Embeddings> r = embedder_->embed_texts(t, raw);
    Result<Embeddings> n = embedder_->embed_texts(t);
    ASSERT_TRUE(r.ok() && n.ok());
    for (size_t i = 0; i < t.size(); ++i) {
        double len = 0, unit = 0;
        for (size_t c = 0; c < 64; ++c) len += r->values[i * 64 + c] * static_cast<double>(r->values[i * 64 + c]);
        len = std::sqrt(len);
        for (size_t c = 0; c < 64; ++c) {
            EXPECT_NEAR(n->values[i * 64 + c], r->values[i * 64 + c] / len, 1e-6);
            unit += n->values[i * 64 + c] * static_cast<double>(n->values[i * 64 + c]);
        }
        EXPECT_NEAR(unit, 1.0, 1e-5);
    }
}

TEST_F(EmbedderTest, TokenSequencesAreTakenAsGiven) {
    const std::vector<int32_t> ids = golden_["items"][0]["tokens"];
    const std::vector<std::vector<int32_t>> seqs = {ids, std::vector<int32_t>(ids.begin() + 1, ids.end() - 1)};
    EmbedOptions raw;
    raw.normalize = false;
    Result<Embeddings> e = embedder_->embed_tokens(seqs, raw);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(e->n_tokens,
              (std::vector<int64_t>{static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids.size() - 2)}));
    Result<Embeddings> text = embedder_->embed_texts(std::vector<std::string>{golden_["items"][0]["text"]}, raw);
    ASSERT_TRUE(text.ok());
    for (size_t c = 0; c < 64; ++c) EXPECT_EQ(e->values[c], text->values[c]);
    // Without [CLS]/[SEP] the first token is another one: another vector.
    double diff = 0;
    for (size_t c = 0; c < 64; ++c) diff += std::fabs(e->values[64 + c] - e->values[c]);
    EXPECT_GT(diff, 1e-3);
}

TEST_F(EmbedderTest, LongTextsFailUnlessTruncatedKeepingTheFinalSep) {
    std::string words;
    for (int i = 0; i < 600; ++i) words += "hello ";
    const std::vector<std::string> t = {words, "short"};
    Result<Embeddings> refused = embedder_->embed_texts(t);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.message().find("input 0 has 602 tokens, more than the model's context of 512"), std::string::npos)
        << refused.message();
    EmbedOptions cut;
    cut.truncate = true;
    cut.normalize = false;
    Result<Embeddings> e = embedder_->embed_texts(t, cut);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(e->n_tokens, (std::vector<int64_t>{512, 3}));
    // The same as the 512 tokens [CLS] hello x 510 [SEP] given directly.
    std::vector<int32_t> ids = embedder_->tokenize(words);
    ids.resize(512);
    ids.back() = 102;
    Result<Embeddings> direct = embedder_->embed_tokens(std::vector<std::vector<int32_t>>{ids}, cut);
    ASSERT_TRUE(direct.ok());
    for (size_t c = 0; c < 64; ++c) EXPECT_EQ(e->values[c], direct->values[c]);
}

TEST_F(EmbedderTest, ManyInputsSpanSeveralPassesWithTheSameResults) {
    // 300 inputs of ~10 tokens: more than kBatchTokens, so at least two forward passes.
    std::vector<std::string> many;
    for (int i = 0; i < 300; ++i) many.push_back(texts()[static_cast<size_t>(i % 4)]);
    Result<Embeddings> all = embedder_->embed_texts(many);
    Result<Embeddings> four = embedder_->embed_texts(texts());
    ASSERT_TRUE(all.ok() && four.ok());
    ASSERT_GT(all->n_tokens_total(), Embedder::kBatchTokens);
    for (size_t i = 0; i < many.size(); ++i)
        for (size_t c = 0; c < 64; ++c) ASSERT_EQ(all->values[i * 64 + c], four->values[(i % 4) * 64 + c]) << i;
}

TEST_F(EmbedderTest, PoolingCanBeChosenButNotNone) {
    EmbedOptions o;
    o.pooling = model::Pooling::kMean;
    Result<Embeddings> mean = embedder_->embed_texts(texts(), o);
    Result<Embeddings> cls = embedder_->embed_texts(texts());
    ASSERT_TRUE(mean.ok() && cls.ok());
    EXPECT_NE(mean->values, cls->values);
    o.pooling = model::Pooling::kNone;
    Result<Embeddings> none = embedder_->embed_texts(texts(), o);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.message().find("pooling is none"), std::string::npos) << none.message();
    Result<Embeddings> empty = embedder_->embed_tokens(std::vector<std::vector<int32_t>>{{101, 102}, {}});
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.message().find("input 1 has no tokens"), std::string::npos) << empty.message();
}

TEST(EmbedderBroken, AModelWithNanWeightsIsAnErrorNotVectorsOfNan) {
    if (!fs::exists(kBert)) GTEST_SKIP() << "reference file not found: " << kBert;
    const fs::path broken = copy_with_nan_tensor(kBert, "token_embd.weight");
    ASSERT_FALSE(broken.empty());
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(broken.string());
    ASSERT_TRUE(m.ok()) << m.message();
    Result<text::Tokenizer> t = text::Tokenizer::from_gguf((*m)->file());
    ASSERT_TRUE(t.ok()) << t.message();
    Embedder embedder(**m, std::move(t).value());
    for (const bool normalize : {false, true}) {
        EmbedOptions o;
        o.normalize = normalize;
        Result<Embeddings> e = embedder.embed_texts(std::vector<std::string>{"hello world"}, o);
        ASSERT_FALSE(e.ok()) << "normalize " << normalize;
        EXPECT_NE(e.message().find("NaN or infinite values for input 0"), std::string::npos) << e.message();
    }
    fs::remove(broken);
}

}  // namespace
}  // namespace sinan::engine
