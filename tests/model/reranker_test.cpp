// The bert encoder with rank pooling (cross-encoder rerankers) against an independent numpy
// implementation (tests/golden-gen/reranker_reference.py, run here on the fixture of
// reranker_fixture.h), and the loader refusing a rank-pooling file without its classifier head.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "model/embedding_model.h"
#include "reranker_fixture.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;

const fs::path kReference = fs::path(SINAN_TEST_DATA_DIR) / ".." / "golden-gen" / "reranker_reference.py";

struct Pair {
    std::vector<int32_t> tokens;
    int64_t segment_b;
};

// [CLS] query [SEP] document [SEP] with ids of the bge vocab; segment_b at the document.
Pair make_pair(const std::vector<int32_t>& query, const std::vector<int32_t>& doc) {
    Pair p;
    p.tokens.push_back(101);
    p.tokens.insert(p.tokens.end(), query.begin(), query.end());
    p.tokens.push_back(102);
    p.segment_b = static_cast<int64_t>(p.tokens.size());
    p.tokens.insert(p.tokens.end(), doc.begin(), doc.end());
    p.tokens.push_back(102);
    return p;
}

// Runs the numpy reference; the scores (first output per pair), or a skip reason in *skip.
std::vector<float> reference_scores(const std::string& model, const std::vector<Pair>& pairs, std::string* skip) {
    nlohmann::json in = {{"pairs", nlohmann::json::array()}};
    for (const Pair& p : pairs) in["pairs"].push_back({{"tokens", p.tokens}, {"segment_b", p.segment_b}});
    std::string error;
    const std::optional<nlohmann::json> out = test::run_python_reference(kReference.string(), model, in, skip, &error);
    EXPECT_TRUE(error.empty()) << error;
    std::vector<float> scores;
    if (out)
        for (const auto& s : (*out)["scores"]) scores.push_back(s[0].get<float>());
    return scores;
}

#define SKIP_WITHOUT_BERT() \
    if (test::reranker_fixture().empty()) GTEST_SKIP() << "reference model not found: " << test::bert_tiny_path()

TEST(RerankerModel, ScoresMatchTheNumpyReference) {
    SKIP_WITHOUT_BERT();
    const std::string path = test::reranker_fixture();
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(path);
    ASSERT_TRUE(m.ok()) << m.message();
    EmbeddingModel& model = **m;
    ASSERT_EQ(model.hparams().pooling, Pooling::kRank);
    ASSERT_EQ(model.hparams().n_cls_out, 1);
    ASSERT_EQ(model.hparams().n_token_types, 2);
    ASSERT_TRUE(is_reranker(model.hparams()));

    // Ids of common words in the bge vocab ("what", "is", "a", "cat", ...), pairs of several lengths.
    std::vector<Pair> pairs = {
        make_pair({2054, 2003, 1037, 4937}, {1037, 4937, 2003, 2019, 4111, 1012}),
        make_pair({2054, 2003, 1037, 4937}, {1996, 3712, 2003, 2630}),
        make_pair({2129, 2000, 5587, 1037, 3793}, {2017, 2064, 5587, 1037, 3793, 2007, 1037, 5896, 1010, 2059, 3288}),
        make_pair({7592}, {2088}),
    };
    // The same tokens with every type 0: the segment changes the score.
    Pair untyped = pairs[0];
    untyped.segment_b = static_cast<int64_t>(untyped.tokens.size());
    pairs.push_back(untyped);

    std::string skip;
    const std::vector<float> ref = reference_scores(path, pairs, &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    ASSERT_EQ(ref.size(), pairs.size());

    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> seg;
    for (const Pair& p : pairs) {
        seqs.push_back(p.tokens);
        seg.push_back(p.segment_b);
    }
    std::vector<float> batched;
    ASSERT_TRUE(model.embed(seqs, Pooling::kRank, &batched, seg).is_ok());
    ASSERT_EQ(batched.size(), pairs.size());
    // The reference keeps attention's weighted sum of V in float64 where GGML (and sinan) keep it in
    // F16: measured 5e-5 at most on these pairs. 2e-4 is well under the gaps between different pairs'
    // scores (3.5e-3 at the closest; the random encoder's [CLS] state varies little with its input)
    // and between typed and untyped input (checked below).
    constexpr double kTolerance = 2e-4;
    for (size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_NEAR(batched[i], ref[i], kTolerance) << "pair " << i;
        std::printf("pair %zu: sinan %.6f numpy %.6f\n", i, batched[i], ref[i]);
        std::vector<float> alone;
        ASSERT_TRUE(
            model.embed(std::span(seqs).subspan(i, 1), Pooling::kRank, &alone, std::span(seg).subspan(i, 1)).is_ok());
        EXPECT_EQ(alone[0], batched[i]) << "pair " << i << " alone";
    }
    EXPECT_GT(std::fabs(ref[0] - ref[4]), 10 * kTolerance) << "token type 1 must matter for this test to mean anything";
    // No segment_b at all is every token type 0.
    std::vector<float> no_segments;
    ASSERT_TRUE(model.embed(std::span(seqs).subspan(0, 1), Pooling::kRank, &no_segments).is_ok());
    EXPECT_EQ(no_segments[0], batched[4]);
}

TEST(RerankerModel, LoadRefusesRankPoolingWithoutTheClassifierHead) {
    SKIP_WITHOUT_BERT();
    const fs::path path = fs::path(test::reranker_fixture()).parent_path() / "headless.gguf";
    ASSERT_EQ(test::write_reranker_fixture(path.string(), /*with_head=*/false), "");
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(path.string());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("tensor 'cls.weight' (its classifier head) is missing"), std::string::npos)
        << m.message();
}

TEST(RerankerModel, SegmentsOutOfRangeAreErrors) {
    SKIP_WITHOUT_BERT();
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(test::reranker_fixture());
    ASSERT_TRUE(m.ok()) << m.message();
    const std::vector<std::vector<int32_t>> seqs = {{101, 2054, 102, 4937, 102}};
    std::vector<float> out;
    const std::vector<int64_t> too_many = {1, 2};
    Status s = (*m)->embed(seqs, Pooling::kRank, &out, too_many);
    EXPECT_NE(s.message().find("segment_b has 2 entries for 1 sequences"), std::string::npos) << s.message();
    const std::vector<int64_t> past_end = {6};
    s = (*m)->embed(seqs, Pooling::kRank, &out, past_end);
    EXPECT_NE(s.message().find("its second segment starts at 6, outside 0..5"), std::string::npos) << s.message();
    // The reranker still pools like an encoder when asked (its [CLS] state).
    ASSERT_TRUE((*m)->embed(seqs, Pooling::kCls, &out).is_ok());
    EXPECT_EQ(out.size(), static_cast<size_t>((*m)->hparams().n_embd));
}

}  // namespace
}  // namespace sinan::model
