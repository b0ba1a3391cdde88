// BM25 scores and rankings against bm25_golden.json, written by gen_bm25_golden.py (plain Python,
// an implementation independent of ours) for a tiny corpus and several (k1, b).
#include "knowledge/bm25_index.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace sinan::knowledge {
namespace {

nlohmann::json load_golden() {
    std::ifstream in(std::string(KNOWLEDGE_TEST_DIR) + "/bm25_golden.json");
    EXPECT_TRUE(in.good()) << "bm25_golden.json missing; run gen_bm25_golden.py";
    return nlohmann::json::parse(in);
}

TEST(Bm25Index, ScoresMatchIndependentPythonImplementation) {
    const nlohmann::json g = load_golden();
    ASSERT_GE(g["cases"].size(), 10u);
    for (const nlohmann::json& c : g["cases"]) {
        Bm25Index index({c["k1"].get<double>(), c["b"].get<double>()});
        for (const nlohmann::json& doc : g["corpus"]) index.add_document(doc.get<std::vector<std::string>>());
        const auto query = c["query"].get<std::vector<std::string>>();
        const auto want = c["scores"].get<std::vector<double>>();
        ASSERT_EQ(want.size(), index.n_docs());
        for (uint32_t d = 0; d < want.size(); ++d) {
            EXPECT_NEAR(index.score(query, d), want[d], 1e-12)
                << "doc " << d << " query " << c["query"].dump() << " k1 " << c["k1"] << " b " << c["b"];
        }
    }
}

TEST(Bm25Index, TopKOrderMatchesIndependentRanking) {
    const nlohmann::json g = load_golden();
    for (const nlohmann::json& c : g["cases"]) {
        Bm25Index index({c["k1"].get<double>(), c["b"].get<double>()});
        for (const nlohmann::json& doc : g["corpus"]) index.add_document(doc.get<std::vector<std::string>>());
        const auto want = c["top3"].get<std::vector<uint32_t>>();
        const auto want_scores = c["scores"].get<std::vector<double>>();
        const std::vector<ScoredDoc> got = index.search(c["query"].get<std::vector<std::string>>(), 3);
        ASSERT_EQ(got.size(), want.size()) << "query " << c["query"].dump();
        for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(got[i].doc, want[i]) << "rank " << i << " query " << c["query"].dump() << " k1 " << c["k1"];
            EXPECT_NEAR(got[i].score, want_scores[want[i]], 1e-12);
        }
    }
}

TEST(Bm25Index, SearchReturnsAllMatchesWhenKExceedsThemAndNothingForZeroK) {
    Bm25Index index;
    index.add_document({"a", "b"});
    index.add_document({"c"});
    index.add_document({"a"});
    const std::vector<ScoredDoc> got = index.search({"a"}, 10);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].doc, 2u);  // shorter document first
    EXPECT_EQ(got[1].doc, 0u);
    EXPECT_TRUE(index.search({"a"}, 0).empty());
    EXPECT_TRUE(index.search({}, 5).empty());
    EXPECT_TRUE(Bm25Index().search({"a"}, 5).empty());
}

TEST(Bm25Index, RemovedDocumentsAreHiddenAtOnceAndAfterCompactionScoreAsIfNeverAdded) {
    const nlohmann::json g = load_golden();
    const auto corpus = g["corpus"].get<std::vector<std::vector<std::string>>>();
    ASSERT_GE(corpus.size(), 4u);
    Bm25Index with_removal, without;
    for (size_t d = 0; d < corpus.size(); ++d) {
        with_removal.add_document(corpus[d]);
        if (d != 1) without.add_document(corpus[d]);
    }
    with_removal.add_document({"extra", "terms", "only", "here"});
    const uint32_t extra = static_cast<uint32_t>(corpus.size());
    with_removal.remove_document(1);
    with_removal.remove_document(1);  // twice: a no-op
    EXPECT_EQ(with_removal.n_docs(), corpus.size());
    for (const nlohmann::json& c : g["cases"]) {
        const auto query = c["query"].get<std::vector<std::string>>();
        for (const ScoredDoc& s : with_removal.search(query, 100)) EXPECT_NE(s.doc, 1u);
        EXPECT_EQ(with_removal.score(query, 1), 0.0);
    }
    with_removal.remove_document(extra);
    with_removal.compact();
    EXPECT_EQ(with_removal.n_docs(), corpus.size() - 1);
    for (const nlohmann::json& c : g["cases"]) {
        const auto query = c["query"].get<std::vector<std::string>>();
        for (uint32_t d = 0; d < corpus.size(); ++d) {
            if (d == 1) continue;
            const uint32_t d_without = d < 1 ? d : d - 1;
            EXPECT_NEAR(with_removal.score(query, d), without.score(query, d_without), 1e-12) << "doc " << d;
        }
    }
    EXPECT_TRUE(with_removal.search({"extra"}, 5).empty());
}

TEST(Bm25Index, AcceptFilterKeepsOnlyAcceptedDocumentsAndStillFillsK) {
    Bm25Index index;
    for (int i = 0; i < 50; ++i) index.add_document({"common", i % 2 == 0 ? "even" : "odd"});
    const std::vector<ScoredDoc> got = index.search({"common"}, 10, [](uint32_t d) { return d % 5 == 0; });
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].doc, i * 5);  // equal scores: lower numbers first
}

}  // namespace
}  // namespace sinan::knowledge
