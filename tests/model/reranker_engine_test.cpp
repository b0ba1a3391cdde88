// engine::Reranker on the tiny reranker fixture: the pair it builds, scores in document order equal
// to the model's on those pairs (in and across batches), truncation of the document only, and the
// errors that name the document or the query.
#include <gtest/gtest.h>

#include "engine/reranker.h"
#include "reranker_fixture.h"

namespace sinan::engine {
namespace {

struct Loaded {
    std::unique_ptr<model::EmbeddingModel> model;
    std::unique_ptr<Reranker> reranker;
};

Loaded load() {
    Loaded l;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(test::reranker_fixture());
    EXPECT_TRUE(m.ok()) << m.message();
    if (!m.ok()) return l;
    l.model = std::move(m).value();
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf(l.model->file());
    EXPECT_TRUE(tok.ok()) << tok.message();
    if (tok.ok()) l.reranker = std::make_unique<Reranker>(*l.model, std::move(tok).value());
    return l;
}

#define SKIP_WITHOUT_BERT() \
    if (test::reranker_fixture().empty()) GTEST_SKIP() << "reference model not found: " << test::bert_tiny_path()

// Model scores of explicit pairs.
std::vector<float> model_scores(model::EmbeddingModel& m, const std::vector<RerankPair>& pairs) {
    std::vector<float> out;
    for (const RerankPair& p : pairs) {
        const std::vector<std::vector<int32_t>> seq = {p.tokens};
        const std::vector<int64_t> seg = {p.segment_b};
        std::vector<float> s;
        EXPECT_TRUE(m.embed(seq, model::Pooling::kRank, &s, seg).is_ok());
        out.push_back(s.at(0));
    }
    return out;
}

TEST(Reranker, PairIsClsQuerySepDocumentSep) {
    SKIP_WITHOUT_BERT();
    Loaded l = load();
    ASSERT_TRUE(l.reranker);
    const RerankPair p = l.reranker->pair("what is a cat", "a cat is an animal.");
    // bge's WordPiece: what=2054 is=2003 a=1037 cat=4937 an=2019 animal=4111 .=1012
    const std::vector<int32_t> want = {101, 2054, 2003, 1037, 4937, 102, 1037, 4937, 2003, 2019, 4111, 1012, 102};
    EXPECT_EQ(p.tokens, want);
    EXPECT_EQ(p.segment_b, 6);
}

TEST(Reranker, ScoresAreInDocumentOrderAndEqualTheModelsOnEachPair) {
    SKIP_WITHOUT_BERT();
    Loaded l = load();
    ASSERT_TRUE(l.reranker);
    const std::string query = "how do I reset my password";
    // Enough documents to take several passes of kBatchTokens.
    std::vector<std::string> docs;
    for (int i = 0; i < 120; ++i)
        docs.push_back("document " + std::to_string(i) +
                       (i % 2 ? " explains how to reset a password from the settings page of the account, where "
                                "the security section has a button that sends a link by mail"
                              : " is about the weather in the mountains during the long winter months, when snow "
                                "closes the roads and the villages wait for spring"));
    Result<RerankScores> r = l.reranker->rerank(query, docs);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->scores.size(), docs.size());
    std::vector<RerankPair> pairs;
    int64_t total = 0;
    for (const std::string& d : docs) {
        pairs.push_back(l.reranker->pair(query, d));
        total += static_cast<int64_t>(pairs.back().tokens.size());
    }
    ASSERT_GT(total, 2 * Reranker::kBatchTokens);
    const std::vector<float> want = model_scores(*l.model, pairs);
    for (size_t i = 0; i < docs.size(); ++i) {
        EXPECT_EQ(r->scores[i], want[i]) << "document " << i;
        EXPECT_EQ(r->n_tokens[i], static_cast<int64_t>(pairs[i].tokens.size()));
    }
    EXPECT_EQ(r->n_tokens_total(), total);
    EXPECT_NE(r->scores[0], r->scores[1]);
    Result<RerankScores> none = l.reranker->rerank(query, {});
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->scores.empty());
}

TEST(Reranker, TruncateCutsTheDocumentAndKeepsTheQuery) {
    SKIP_WITHOUT_BERT();
    Loaded l = load();
    ASSERT_TRUE(l.reranker);
    const int64_t n_ctx = l.reranker->n_ctx();
    std::string long_doc;
    for (int64_t i = 0; i < n_ctx; ++i) long_doc += "word ";
    const std::vector<std::string> docs = {"short", long_doc};
    Result<RerankScores> refused = l.reranker->rerank("a query", docs);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.message().find("document 1: with the query it has"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("more than the model's context of 512"), std::string::npos) << refused.message();

    RerankOptions o;
    o.truncate = true;
    Result<RerankScores> cut = l.reranker->rerank("a query", docs, o);
    ASSERT_TRUE(cut.ok()) << cut.message();
    EXPECT_EQ(cut->n_tokens[1], n_ctx);
    // The truncated pair is the full one's first n_ctx - 1 tokens and its closing [SEP].
    RerankPair p = l.reranker->pair("a query", long_doc);
    p.tokens.resize(static_cast<size_t>(n_ctx));
    p.tokens.back() = 102;
    EXPECT_EQ(cut->scores[1], model_scores(*l.model, {p})[0]);

    std::string long_query;
    for (int64_t i = 0; i < n_ctx; ++i) long_query += "word ";
    Result<RerankScores> q = l.reranker->rerank(long_query, std::vector<std::string>{"doc"}, o);
    ASSERT_FALSE(q.ok());
    EXPECT_NE(q.message().find("shorten the query"), std::string::npos) << q.message();
}

}  // namespace
}  // namespace sinan::engine
