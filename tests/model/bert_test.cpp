// The bert encoder against llama.cpp's embeddings (../shared/models/golden/bert-tiny-f32.embeddings.json:
// the CLS-pooled, unnormalised vector of each text's token ids), in one batch and alone, with the
// weights in F32, F16 and Q8_0; and the loaders telling embedding and generative models apart.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/embedding_model.h"
#include "model/model.h"
#include "model/quantize.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";
const fs::path kBert = kModels / "bert-tiny-f32.gguf";
const fs::path kGolden = kModels / "golden" / "bert-tiny-f32.embeddings.json";

struct Golden {
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::vector<float>> embeddings;
};

Golden read_golden() {
    std::ifstream in(kGolden);
    const nlohmann::json j = nlohmann::json::parse(in);
    Golden g;
    for (const auto& item : j["items"]) {
        g.tokens.push_back(item["tokens"].get<std::vector<int32_t>>());
        g.embeddings.push_back(item["embedding"].get<std::vector<float>>());
    }
    return g;
}

// ||ours - ref|| / ||ref||
double relative_error(const float* ours, const std::vector<float>& ref) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        diff += (ours[i] - ref[i]) * static_cast<double>(ours[i] - ref[i]);
        norm += ref[i] * static_cast<double>(ref[i]);
    }
    return std::sqrt(diff / norm);
}

#define SKIP_WITHOUT_REFERENCE()                    \
    if (!fs::exists(kBert) || !fs::exists(kGolden)) \
    GTEST_SKIP() << "reference files not found: " << kBert << " and " << kGolden

void expect_golden(const std::string& path, double tolerance) {
    const Golden g = read_golden();
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(path);
    ASSERT_TRUE(m.ok()) << m.message();
    EmbeddingModel& model = **m;
    ASSERT_EQ(model.hparams().pooling, Pooling::kCls);
    const int64_t d = model.hparams().n_embd;
    ASSERT_EQ(static_cast<size_t>(d), g.embeddings[0].size());
    std::vector<float> batched;
    ASSERT_TRUE(model.embed(g.tokens, Pooling::kCls, &batched).is_ok());
    ASSERT_EQ(batched.size(), g.tokens.size() * static_cast<size_t>(d));
    for (size_t s = 0; s < g.tokens.size(); ++s) {
        const double rel = relative_error(batched.data() + s * static_cast<size_t>(d), g.embeddings[s]);
        EXPECT_LE(rel, tolerance) << path << " sequence " << s;
        std::printf("%s sequence %zu: relative L2 error %.3g\n", fs::path(path).filename().c_str(), s, rel);
        // Alone, a sequence gets the same vector: sequences in one batch do not see each other.
        std::vector<float> alone;
        ASSERT_TRUE(model.embed(std::span(g.tokens).subspan(s, 1), Pooling::kCls, &alone).is_ok());
        for (int64_t c = 0; c < d; ++c)
            EXPECT_EQ(alone[static_cast<size_t>(c)], batched[s * static_cast<size_t>(d) + c]);
    }
}

TEST(BertModel, ClsEmbeddingsMatchLlamaCpp) {
    SKIP_WITHOUT_REFERENCE();
    expect_golden(kBert.string(), 1e-5);
}

// Quantized weights go through the same matmul kernels as the decoders; the bounds are each
// type's rounding as the golden logits test measures it.
TEST(BertModel, QuantizedWeightsStayCloseToTheReference) {
    SKIP_WITHOUT_REFERENCE();
    for (auto [type, tolerance] : {std::pair{gguf::TensorType::F16, 1e-3}, std::pair{gguf::TensorType::Q8_0, 1.5e-2}}) {
        const fs::path out = fs::temp_directory_path() / ("sinan-bert-" + std::string(gguf::type_name(type)) + "-" +
                                                          std::to_string(::getpid()) + ".gguf");
        QuantizeOptions o;
        o.type = type;
        Result<QuantizeReport> r = quantize_model(kBert.string(), out.string(), o);
        ASSERT_TRUE(r.ok()) << r.message();
        EXPECT_GT(r->n_quantized, 0);
        expect_golden(out.string(), tolerance);
        fs::remove(out);
    }
}

TEST(BertModel, MeanAndLastPoolingAreOverTheSequencesOwnTokens) {
    SKIP_WITHOUT_REFERENCE();
    const Golden g = read_golden();
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(kBert.string());
    ASSERT_TRUE(m.ok()) << m.message();
    const size_t d = static_cast<size_t>((*m)->hparams().n_embd);
    std::vector<float> tokens, mean, last;
    const std::span two(g.tokens.data(), 2);
    ASSERT_TRUE((*m)->embed(two, Pooling::kNone, &tokens).is_ok());
    ASSERT_TRUE((*m)->embed(two, Pooling::kMean, &mean).is_ok());
    ASSERT_TRUE((*m)->embed(two, Pooling::kLast, &last).is_ok());
    ASSERT_EQ(tokens.size(), (g.tokens[0].size() + g.tokens[1].size()) * d);
    ASSERT_EQ(mean.size(), 2 * d);
    // The first token's state is the CLS vector llama.cpp gives.
    EXPECT_LE(relative_error(tokens.data(), g.embeddings[0]), 1e-5);
    size_t start = 0;
    for (size_t s = 0; s < 2; ++s) {
        const size_t n = g.tokens[s].size();
        for (size_t c = 0; c < d; ++c) {
            double sum = 0;
            for (size_t j = 0; j < n; ++j) sum += tokens[(start + j) * d + c];
            EXPECT_NEAR(mean[s * d + c], sum / static_cast<double>(n), 1e-5);
            EXPECT_EQ(last[s * d + c], tokens[(start + n - 1) * d + c]);
        }
        start += n;
    }
}

TEST(BertModel, BadInputIsAnErrorNamingIt) {
    SKIP_WITHOUT_REFERENCE();
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(kBert.string());
    ASSERT_TRUE(m.ok()) << m.message();
    std::vector<float> out;
    const std::vector<std::vector<int32_t>> bad_id = {{101, 30522, 102}};
    Status s = (*m)->embed(bad_id, Pooling::kCls, &out);
    EXPECT_NE(s.message().find("token id 30522 is outside the vocabulary"), std::string::npos) << s.message();
    const std::vector<std::vector<int32_t>> too_long = {std::vector<int32_t>(513, 101)};
    s = (*m)->embed(too_long, Pooling::kCls, &out);
    EXPECT_NE(s.message().find("more than the model's context of 512"), std::string::npos) << s.message();
    const std::vector<std::vector<int32_t>> empty = {{}};
    EXPECT_FALSE((*m)->embed(empty, Pooling::kCls, &out).is_ok());
    s = (*m)->embed(bad_id, Pooling::kRank, &out);
    EXPECT_NE(s.message().find("rank pooling needs a cross-encoder reranker's classifier head (cls.weight)"),
              std::string::npos)
        << s.message();
}

TEST(BertModel, LoadersTellEmbeddingAndGenerativeModelsApart) {
    SKIP_WITHOUT_REFERENCE();
    Result<std::unique_ptr<Model>> gen = Model::load(kBert.string());
    ASSERT_FALSE(gen.ok());
    EXPECT_NE(gen.message().find("is an embedding model"), std::string::npos) << gen.message();
    const fs::path llama = kModels / "llama-small-f32.gguf";
    if (!fs::exists(llama)) GTEST_SKIP() << "not found: " << llama;
    Result<std::unique_ptr<EmbeddingModel>> emb = EmbeddingModel::load(llama.string());
    ASSERT_FALSE(emb.ok());
    EXPECT_NE(emb.message().find("not an embedding model"), std::string::npos) << emb.message();
}

TEST(Pooling, NamesRoundTrip) {
    for (Pooling p : {Pooling::kNone, Pooling::kMean, Pooling::kCls, Pooling::kLast, Pooling::kRank}) {
        Result<Pooling> parsed = parse_pooling(pooling_name(p));
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(*parsed, p);
    }
    EXPECT_FALSE(parse_pooling("max").ok());
}

TEST(TokenPasses, PacksSequencesInOrderUpToTheBudgetAndALongOneAlone) {
    const std::vector<std::vector<int32_t>> seqs = {std::vector<int32_t>(3), std::vector<int32_t>(4),
                                                    std::vector<int32_t>(10), std::vector<int32_t>(1),
                                                    std::vector<int32_t>(1)};
    using Passes = std::vector<std::pair<size_t, size_t>>;
    EXPECT_EQ(token_passes(seqs, 7), (Passes{{0, 2}, {2, 3}, {3, 5}}));
    EXPECT_EQ(token_passes(seqs, 100), (Passes{{0, 5}}));
    EXPECT_EQ(token_passes(seqs, 1), (Passes{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}));
    EXPECT_TRUE(token_passes({}, 7).empty());
}

}  // namespace
}  // namespace sinan::model
