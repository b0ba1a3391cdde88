// Evaluates the lexical retriever on a BEIR data set (beir.h): indexes title + " " + text of
// every document with an Analyzer and a Bm25Index, retrieves the top 100 documents for each
// judged query, and averages nDCG@10, Recall@100 and MRR@10 (metrics.h) over the judged queries, as
// BEIR's and Anserini's tables do. A document whose id equals the query id is NOT removed
// (Anserini's convention; BEIR's evaluator removes it by default).
// Single-threaded; deterministic.
#pragma once

#include <cstdint>
#include <functional>

#include "knowledge/analyzer.h"
#include "knowledge/beir.h"
#include "knowledge/bm25_index.h"

namespace sinan::knowledge {

struct EvalResult {
    double ndcg_at_10 = 0;
    double recall_at_100 = 0;
    double mrr_at_10 = 0;
    size_t n_queries = 0;  // judged queries evaluated
    size_t n_docs = 0;
    size_t n_terms = 0;  // distinct terms in the index
};

// progress(done_bytes, total_bytes) is called while indexing (corpus_bytes of the data set).
EvalResult evaluate_lexical(const BeirDataset& data, const Bm25Params& params, const AnalyzerOptions& analysis,
                            const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace sinan::knowledge
