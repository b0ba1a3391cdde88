// Ranking metrics as trec_eval (and so BEIR, through pytrec_eval) computes them.
//
//   nDCG@k   = DCG@k / IDCG@k, DCG@k = sum over ranks i = 1..k of rel(doc_i) / log2(i + 1),
//              IDCG@k the DCG@k of the judged documents sorted by relevance; 0 when no
//              judged document is relevant. Gain is the relevance grade itself (trec_eval's
//              ndcg_cut), so graded judgements work; negative grades count as 0.
//   Recall@k = |relevant documents in the top k| / |relevant documents|, relevant = grade > 0;
//              0 when nothing is relevant.
//   RR@k     = 1 / rank of the first relevant document within the top k, 0 when none is (its
//              mean over queries is MRR@k).
//
// `ranked` is the retrieved list, best first (only its first k entries count); `qrels` maps
// document id -> relevance grade for one query. Pure functions, thread-safe.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace sinan::knowledge {

using Judgements = std::unordered_map<std::string, int>;  // document id -> relevance grade

double ndcg_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k);
double recall_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k);
double reciprocal_rank_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k);

}  // namespace sinan::knowledge
