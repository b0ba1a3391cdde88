// An in-memory inverted index with Okapi BM25 scoring and top-k retrieval.
//
// Documents are added as analysed terms (analyzer.h) and numbered 0, 1, 2, ... in the order they
// are added. The score of document d for a query q (terms with repeats) is
//
//   score(d, q) = sum over query terms t (each occurrence counts) of
//                 idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * len(d) / avg_len))
//   idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
//
// with N documents, df(t) documents containing t, len(d) the number of terms of d. This is
// Lucene's BM25Similarity (the idf is never negative) up to the constant factor (k1 + 1), which
// does not change rankings. Terms absent from the index contribute nothing.
//
// Lifetime: add documents, then search; adding more later is allowed (N, df and the average
// length are read at search time). Removal hides a document from search at once; its terms keep
// counting in N, df and the average length until the next compaction, which remove_document()
// runs when hidden documents reach an eighth of the live ones (one pass over all postings), and
// after which scores are exactly those of an index built without the removed documents.
// Thread-safety: search() is const but not safe concurrently with add() or remove_document();
// several searches may run at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sinan::knowledge {

struct Bm25Params {
    // Lucene's and Elasticsearch's defaults; on SciFact's train judgements they beat Anserini's
    // BEIR setting (k1 0.9, b 0.4) slightly (nDCG@10 0.699 vs 0.696; docs/knowledge.md).
    double k1 = 1.2;  // term-frequency saturation
    double b = 0.75;  // length normalisation, 0 (none) .. 1 (full)
};

struct ScoredDoc {
    uint32_t doc = 0;  // document number (order of add_document)
    double score = 0;
};

class Bm25Index {
  public:
    explicit Bm25Index(Bm25Params params = {}) : params_(params) {}

    // Adds one document; returns its number (numbers are never reused, even after removal).
    uint32_t add_document(const std::vector<std::string>& terms);

    // Removes document `doc` from search results (see above); a no-op when already removed.
    void remove_document(uint32_t doc);

    // Drops the postings of removed documents now, making N, df and the average length exact.
    void compact();

    // The best `k` documents for `query_terms`, highest score first; ties go to the lower
    // document number. Only documents sharing at least one term with the query, not removed, and
    // (when `accept` is given) for which accept(doc) is true are returned.
    std::vector<ScoredDoc> search(const std::vector<std::string>& query_terms, size_t k,
                                  const std::function<bool(uint32_t)>& accept = {}) const;

    // The BM25 score of one document (0 when it shares no term with the query).
    double score(const std::vector<std::string>& query_terms, uint32_t doc) const;

    size_t n_docs() const { return doc_len_.size() - n_removed_; }  // live documents
    size_t n_terms() const { return postings_.size(); }
    const Bm25Params& params() const { return params_; }

  private:
    struct Posting {
        uint32_t doc;
        uint32_t tf;
    };
    double idf(size_t df) const;
    double avg_len() const;
    double term_weight(double idf, uint32_t tf, uint32_t len, double avg_len) const;

    Bm25Params params_;
    std::unordered_map<std::string, std::vector<Posting>> postings_;  // term -> postings by doc
    // [documents ever added]: terms per document, and whether it was removed
    std::vector<uint32_t> doc_len_;
    std::vector<bool> removed_;
    size_t n_removed_ = 0;    // removed documents
    size_t n_hidden_ = 0;     // removed but still counted in N, df and total_len_ (until compact())
    uint64_t total_len_ = 0;  // terms of the documents counted in N
};

}  // namespace sinan::knowledge
