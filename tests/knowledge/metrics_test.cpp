// nDCG@k and Recall@k on cases small enough to derive by hand (trec_eval's definitions:
// gain = grade, discount = log2(rank + 1)).
#include "knowledge/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sinan::knowledge {
namespace {

TEST(Metrics, NdcgOfBinaryJudgementsWithAMiss) {
    // Retrieved d1 (rel), d2 (not), d3 (rel); d4 relevant but not retrieved.
    // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 1.5 + 0.6309297535714575.
    const Judgements q = {{"d1", 1}, {"d3", 1}, {"d4", 1}};
    EXPECT_NEAR(ndcg_at_k({"d1", "d2", "d3"}, q, 10), 1.5 / 2.1309297535714575, 1e-12);
    // At k = 1 only d1 counts: DCG 1, IDCG 1.
    EXPECT_DOUBLE_EQ(ndcg_at_k({"d1", "d2", "d3"}, q, 1), 1.0);
    // At k = 2: DCG 1, IDCG 1 + 1/log2(3).
    EXPECT_NEAR(ndcg_at_k({"d1", "d2", "d3"}, q, 2), 1.0 / 1.6309297535714575, 1e-12);
}

TEST(Metrics, NdcgUsesGradesAsGains) {
    // a (grade 1) before b (grade 2): DCG = 1 + 2/log2(3); ideal order b, a: IDCG = 2 + 1/log2(3).
    const Judgements q = {{"a", 1}, {"b", 2}};
    EXPECT_NEAR(ndcg_at_k({"a", "b"}, q, 10), (1 + 2 * 0.6309297535714575) / (2 + 0.6309297535714575), 1e-12);
    EXPECT_DOUBLE_EQ(ndcg_at_k({"b", "a"}, q, 10), 1.0);
}

TEST(Metrics, NdcgIsZeroWithoutRelevantDocuments) {
    EXPECT_EQ(ndcg_at_k({"a"}, {{"a", 0}}, 10), 0.0);
    EXPECT_EQ(ndcg_at_k({"a"}, {}, 10), 0.0);
    EXPECT_EQ(ndcg_at_k({}, {{"a", 1}}, 10), 0.0);
}

TEST(Metrics, RecallCountsRelevantDocumentsInTheCutoff) {
    const Judgements q = {{"r1", 1}, {"r2", 1}, {"r3", 2}, {"n", 0}};
    EXPECT_DOUBLE_EQ(recall_at_k({"r1", "x", "n", "r3"}, q, 100), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(recall_at_k({"r1", "x", "n", "r3"}, q, 3), 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(recall_at_k({"r3", "r2", "r1"}, q, 3), 1.0);
    EXPECT_EQ(recall_at_k({"a"}, {{"a", 0}}, 10), 0.0);
}

TEST(Metrics, ReciprocalRankOfTheFirstRelevantDocumentInTheCutoff) {
    const Judgements q = {{"r1", 1}, {"r2", 2}, {"n", 0}};
    EXPECT_DOUBLE_EQ(reciprocal_rank_at_k({"x", "n", "r2", "r1"}, q, 10), 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(reciprocal_rank_at_k({"r1", "r2"}, q, 10), 1.0);
    EXPECT_EQ(reciprocal_rank_at_k({"x", "n", "r2"}, q, 2), 0.0);  // beyond the cutoff
    EXPECT_EQ(reciprocal_rank_at_k({"n"}, q, 10), 0.0);
}

}  // namespace
}  // namespace sinan::knowledge
