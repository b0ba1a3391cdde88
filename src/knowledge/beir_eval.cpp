#include "knowledge/beir_eval.h"

namespace sinan::knowledge {

EvalResult evaluate_lexical(const BeirDataset& data, const Bm25Params& params, const AnalyzerOptions& analysis,
                            const std::function<void(uint64_t, uint64_t)>& progress) {
    constexpr size_t kTopK = 100;
    Analyzer analyzer(analysis);
    Bm25Index index(params);
    uint64_t done = 0;
    for (const BeirDoc& d : data.corpus) {
        index.add_document(analyzer.analyze(d.title + " " + d.text));
        done += d.title.size() + d.text.size();
        if (progress) progress(done, data.corpus_bytes);
    }
    EvalResult r;
    r.n_docs = index.n_docs();
    r.n_terms = index.n_terms();
    std::vector<std::string> ranked;
    for (const BeirQuery& q : data.queries) {
        ranked.clear();
        for (const ScoredDoc& s : index.search(analyzer.analyze(q.text), kTopK))
            ranked.push_back(data.corpus[s.doc].id);
        r.ndcg_at_10 += ndcg_at_k(ranked, q.qrels, 10);
        r.recall_at_100 += recall_at_k(ranked, q.qrels, kTopK);
        r.mrr_at_10 += reciprocal_rank_at_k(ranked, q.qrels, 10);
        ++r.n_queries;
    }
    if (r.n_queries > 0) {
        r.ndcg_at_10 /= static_cast<double>(r.n_queries);
        r.recall_at_100 /= static_cast<double>(r.n_queries);
        r.mrr_at_10 /= static_cast<double>(r.n_queries);
    }
    return r;
}

}  // namespace sinan::knowledge
