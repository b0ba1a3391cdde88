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

}  // namespace
}  // namespace sinan::knowledge
