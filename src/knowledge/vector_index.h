// A dense vector index for cosine similarity: an HNSW graph (hnswlib, Debian's libhnswlib-dev,
// header-only) over unit vectors, keyed by int64 labels (chunk ids), persisted in one file.
//
// Vectors are normalised on the way in (add and search), and the graph uses the inner product,
// so the score of a hit is its cosine similarity to the query, -1..1. Removal marks a label
// deleted (hnswlib keeps its slot; re-adding the label reuses it); search never returns a removed
// label. The index grows by doubling its capacity as vectors are added.
//
// Search is approximate (HNSW with `ef_search` candidates) except when fewer than `exact_below`
// vectors are live, or when a selective `accept` filter leaves too few hits: then it scans every
// vector (exact). A filtered search over-fetches from the graph and drops what `accept` rejects,
// widening the fetch until k are found or every vector has been seen.
//
// File (docs/formats/vector_index.md): a 32-byte header (magic "SNHNSW01", version, dim, payload
// size, FNV-1a 64 of the payload) then hnswlib's own saveIndex bytes. save() writes a temporary
// file of its own (<file>.tmp.<pid>.<n>), fsyncs it, renames it over the target and fsyncs the
// directory, so a crash leaves the old file or the new one (and the temporary file, which
// remove_abandoned_saves clears), and saves to one file from several threads or processes at
// once leave one of them whole. load() verifies header and checksum before hnswlib parses
// anything, so a truncated or corrupted file is a Status naming the file, never a crash.
//
// Thread-safety: search(), contains(), size() and save() may run concurrently with each other;
// add() and remove() need exclusive access (the caller's lock, as Retriever does).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"

namespace sinan::knowledge {

struct VectorIndexParams {
    size_t m = 16;                 // graph degree per node (hnswlib M); memory ~ m * 8 bytes per vector
    size_t ef_construction = 200;  // candidates while linking a new vector (build quality vs time)
    size_t ef_search = 200;        // candidates per query (recall vs latency); at least k is used
    size_t exact_below = 2048;     // scan all vectors instead of the graph below this many live
    uint64_t seed = 100;           // level generator seed (hnswlib's default): builds are repeatable
};

struct ScoredLabel {
    int64_t label = 0;
    float score = 0;  // cosine similarity to the query
};

class VectorIndex {
  public:
    // An empty index of `dim`-dimensional vectors (dim > 0).
    explicit VectorIndex(size_t dim, VectorIndexParams params = {});
    ~VectorIndex();
    VectorIndex(const VectorIndex&) = delete;
    VectorIndex& operator=(const VectorIndex&) = delete;

    // Adds `vector` (size dim(), any non-zero finite length) under `label`, replacing the vector a
    // live or removed label had. Fails on a wrong size, a zero or non-finite vector, or no memory.
    Status add(int64_t label, std::span<const float> vector);

    // Removes `label`; false when it was not live.
    bool remove(int64_t label);

    bool contains(int64_t label) const;
    size_t size() const { return n_live_; }  // live labels
    std::vector<int64_t> labels() const;     // the live labels, in slot order
    size_t n_removed() const;                // slots of removed labels still held (and saved)
    size_t dim() const { return dim_; }
    const VectorIndexParams& params() const { return params_; }

    // The `k` live labels most similar to `query` (size dim(), non-zero), best first, keeping
    // only labels `accept` returns true for (all when empty).
    std::vector<ScoredLabel> search(std::span<const float> query, size_t k,
                                    const std::function<bool(int64_t)>& accept = {}) const;

    // The same by scanning every vector: the reference the graph search is tested against.
    std::vector<ScoredLabel> search_exact(std::span<const float> query, size_t k,
                                          const std::function<bool(int64_t)>& accept = {}) const;

    // Writes the index to `file` atomically (see above).
    Status save(const std::filesystem::path& file) const;

    // Reads an index written by save(); a corrupt, truncated or other-version file is an error
    // naming it (the caller rebuilds from its own copy of the vectors). `params` gives the search-time settings (ef_search,
    // exact_below); the graph's own m and ef_construction come from the file.
    static Result<std::unique_ptr<VectorIndex>> load(const std::filesystem::path& file, VectorIndexParams params = {});

    // Removes from `dir` the temporary files of saves that were cut short (their process died):
    // a save holds a lock (flock) on its file while it writes it, and a file written less than
    // `min_age` ago is left alone (its save creates it a moment before locking it). Returns how
    // many it removed; a directory that cannot be read removes none.
    static size_t remove_abandoned_saves(const std::filesystem::path& dir,
                                         std::chrono::seconds min_age = std::chrono::seconds(60));

  private:
    struct Impl;
    VectorIndex(size_t dim, VectorIndexParams params, std::unique_ptr<Impl> impl);
    std::vector<float> normalised(std::span<const float> v) const;  // empty when zero or non-finite

    size_t dim_;
    VectorIndexParams params_;
    std::unique_ptr<Impl> impl_;
    size_t n_live_ = 0;
};

}  // namespace sinan::knowledge
