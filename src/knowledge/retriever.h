// The retriever of one knowledge base: chunks keyed by their chunk id (the store's int64), each
// with its text (BM25, analyzer.h + bm25_index.h), an optional embedding (cosine HNSW,
// vector_index.h) and metadata (metadata_filter.h). A search is lexical, dense, or hybrid: the
// BM25 list and the dense list, each `n_candidates` deep, fused by reciprocal rank (fusion.h).
// Metadata filters apply inside each retriever, before fusion, so every list holds k matches
// when k exist.
//
// Embeddings come from the caller (an embedding model, engine::Embedder); the retriever only
// stores and compares them. The first embedding fixes the dimension; later ones of another size
// are rejected (a knowledge base embeds with one model).
//
// Persistence: the store (src/store/) is the source of truth for text and metadata; the caller
// rebuilds the lexical side by add() when it opens a knowledge base. The dense side, costly to
// rebuild, persists: save_vectors() writes it (atomically) and load_vectors() reads it back
// before those add() calls, which may then pass an empty embedding for chunks has_vector()
// reports. Vectors of chunk ids never add()ed are never returned (stale entries of a file that
// is older than the store are harmless); remove() drops them too.
//
// Thread-safety: internally locked. search(), has_vector(), size() and save_vectors() run
// concurrently with each other; add(), remove() and load_vectors() take the lock exclusively
// (text analysis for add() happens before the lock). A waiting writer holds back searches that
// arrive after it, so a steady stream of searches cannot starve ingestion.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "knowledge/analyzer.h"
#include "knowledge/bm25_index.h"
#include "knowledge/metadata_filter.h"
#include "knowledge/vector_index.h"

namespace sinan::knowledge {

enum class RetrievalMode {
    kAuto,     // hybrid when the query has an embedding and the index has vectors, else lexical
    kLexical,  // BM25 only
    kDense,    // vectors only (needs a query embedding)
    kHybrid,   // BM25 + vectors fused by RRF (needs a query embedding)
};

// "auto", "lexical", "dense", "hybrid" <-> the mode; parse fails naming the word and the choices.
Result<RetrievalMode> parse_retrieval_mode(std::string_view name);
const char* retrieval_mode_name(RetrievalMode mode);

struct RetrieverOptions {
    Bm25Params bm25;
    AnalyzerOptions analysis;
    VectorIndexParams vectors;
};

struct RetrievalQuery {
    std::string text;              // analysed like chunk text; used by lexical and hybrid
    std::vector<float> embedding;  // [dim] the query's embedding, or empty
    size_t k = 10;                 // results wanted
    MetadataFilter filter;         // AND of key == value; empty = all chunks
    RetrievalMode mode = RetrievalMode::kAuto;
    size_t n_candidates = 100;  // hybrid: depth of each list before fusion (at least k is used)
};

struct RetrievedChunk {
    int64_t chunk_id = 0;
    double score = 0;           // lexical: BM25; dense: cosine; hybrid: RRF sum (higher is better)
    uint32_t lexical_rank = 0;  // 1-based rank in the BM25 list, 0 when absent or not searched
    uint32_t dense_rank = 0;    // 1-based rank in the dense list, 0 when absent or not searched
    double lexical_score = 0;   // BM25 score when lexical_rank > 0
    double dense_score = 0;     // cosine when dense_rank > 0
};

class Retriever {
  public:
    explicit Retriever(RetrieverOptions options = {});
    ~Retriever();
    Retriever(const Retriever&) = delete;
    Retriever& operator=(const Retriever&) = delete;

    // Indexes one chunk. Re-adding a chunk id replaces its text, metadata and (when `embedding`
    // is not empty) its vector; an empty `embedding` keeps whatever vector the id has. Fails,
    // changing nothing, on an embedding of another dimension than the index's, or a zero or
    // non-finite one.
    Status add(int64_t chunk_id, std::string_view text, std::span<const float> embedding, const Metadata& meta);

    // Removes a chunk (text, metadata and vector); a no-op for an unknown id.
    void remove(int64_t chunk_id);

    // The best `q.k` chunks, best first. Fails when the mode needs a query embedding and there is
    // none, or its dimension differs from the indexed vectors'. A dense search over an index
    // without vectors returns nothing.
    Result<std::vector<RetrievedChunk>> search(const RetrievalQuery& q) const;

    bool contains(int64_t chunk_id) const;    // added and not removed
    bool has_vector(int64_t chunk_id) const;  // a vector is stored for the id (added or loaded)
    size_t size() const;                      // chunks added and not removed
    size_t n_vectors() const;                 // vectors stored (including loaded, not yet added ids)
    size_t n_removed_vectors() const;         // slots of removed vectors the dense index still holds
    size_t dim() const;                       // embedding dimension, 0 before the first vector

    // Writes the dense index to `file` atomically; with no vectors yet, removes `file` if present.
    Status save_vectors(const std::filesystem::path& file) const;
    // Replaces the dense index with the one in `file`. Fails on a corrupt or unreadable file,
    // naming it; the caller may then rebuild the vectors by add().
    Status load_vectors(const std::filesystem::path& file);
    // Removes the vectors of ids that are not added (a loaded file's chunks that are gone from
    // the store); returns how many. Their slots stay (n_removed_vectors) until the index is rebuilt.
    size_t prune_vectors();

  private:
    struct Entry {
        uint32_t doc;  // Bm25Index document number
        Metadata meta;
    };
    std::shared_lock<std::shared_mutex> lock_shared() const;
    std::unique_lock<std::shared_mutex> lock_exclusive() const;
    std::unique_ptr<Analyzer> take_analyzer() const;
    void return_analyzer(std::unique_ptr<Analyzer> a) const;
    std::vector<RetrievedChunk> search_lexical(const std::vector<std::string>& terms, size_t k,
                                               const MetadataFilter& filter) const;
    std::vector<RetrievedChunk> search_dense(std::span<const float> embedding, size_t k,
                                             const MetadataFilter& filter) const;

    RetrieverOptions options_;
    mutable std::shared_mutex mu_;
    mutable std::mutex writer_gate_;  // held by a writer while it waits for mu_; readers pass through it first
    Bm25Index bm25_;
    std::vector<int64_t> doc_chunk_;              // [Bm25Index docs] chunk id of each document number
    std::unordered_map<int64_t, Entry> entries_;  // live chunks
    std::unique_ptr<VectorIndex> vectors_;        // null before the first vector
    mutable std::mutex analyzers_mu_;
    mutable std::vector<std::unique_ptr<Analyzer>> analyzers_;  // idle analysers for searches
};

}  // namespace sinan::knowledge
