#include "knowledge/retriever.h"

#include <algorithm>

#include "knowledge/fusion.h"

namespace sinan::knowledge {

Result<RetrievalMode> parse_retrieval_mode(std::string_view name) {
    if (name == "auto") return RetrievalMode::kAuto;
    if (name == "lexical") return RetrievalMode::kLexical;
    if (name == "dense") return RetrievalMode::kDense;
    if (name == "hybrid") return RetrievalMode::kHybrid;
    return Status::error("unknown retrieval mode \"" + std::string(name) + "\"; use auto, lexical, dense or hybrid");
}

const char* retrieval_mode_name(RetrievalMode mode) {
    switch (mode) {
        case RetrievalMode::kAuto:
            return "auto";
        case RetrievalMode::kLexical:
            return "lexical";
        case RetrievalMode::kDense:
            return "dense";
        case RetrievalMode::kHybrid:
            return "hybrid";
    }
    return "?";
}

Retriever::Retriever(RetrieverOptions options) : options_(options), bm25_(options.bm25) {}

Retriever::~Retriever() = default;

// glibc's rwlock (behind std::shared_mutex) prefers readers: with searches overlapping each other,
// a writer could wait forever. The gate makes new readers queue behind a waiting writer.
std::shared_lock<std::shared_mutex> Retriever::lock_shared() const {
    { std::lock_guard gate(writer_gate_); }
    return std::shared_lock(mu_);
}

std::unique_lock<std::shared_mutex> Retriever::lock_exclusive() const {
    std::lock_guard gate(writer_gate_);
    return std::unique_lock(mu_);
}

std::unique_ptr<Analyzer> Retriever::take_analyzer() const {
    {
        std::lock_guard lock(analyzers_mu_);
        if (!analyzers_.empty()) {
            std::unique_ptr<Analyzer> a = std::move(analyzers_.back());
            analyzers_.pop_back();
            return a;
        }
    }
    return std::make_unique<Analyzer>(options_.analysis);
}

void Retriever::return_analyzer(std::unique_ptr<Analyzer> a) const {
    std::lock_guard lock(analyzers_mu_);
    analyzers_.push_back(std::move(a));
}

Status Retriever::add(int64_t chunk_id, std::string_view text, std::span<const float> embedding, const Metadata& meta) {
    std::unique_ptr<Analyzer> analyzer = take_analyzer();
    std::vector<std::string> terms = analyzer->analyze(text);
    return_analyzer(std::move(analyzer));

    auto lock = lock_exclusive();
    if (!embedding.empty()) {
        // The first vector fixes the dimension only when it is accepted.
        std::unique_ptr<VectorIndex> created;
        VectorIndex* index = vectors_.get();
        if (!index) index = (created = std::make_unique<VectorIndex>(embedding.size(), options_.vectors)).get();
        SINAN_RETURN_IF_ERROR(index->add(chunk_id, embedding).annotate("chunk " + std::to_string(chunk_id) + ": "));
        if (created) vectors_ = std::move(created);
    }
    auto it = entries_.find(chunk_id);
    if (it != entries_.end()) bm25_.remove_document(it->second.doc);
    const uint32_t doc = bm25_.add_document(terms);
    doc_chunk_.push_back(chunk_id);
    entries_[chunk_id] = Entry{doc, meta};
    return Status::ok();
}

void Retriever::remove(int64_t chunk_id) {
    auto lock = lock_exclusive();
    auto it = entries_.find(chunk_id);
    if (it != entries_.end()) {
        bm25_.remove_document(it->second.doc);
        entries_.erase(it);
    }
    if (vectors_) vectors_->remove(chunk_id);
}

std::vector<RetrievedChunk> Retriever::search_lexical(const std::vector<std::string>& terms, size_t k,
                                                      const MetadataFilter& filter) const {
    std::function<bool(uint32_t)> accept;
    if (!filter.empty()) {
        accept = [&](uint32_t doc) { return filter.matches(entries_.at(doc_chunk_[doc]).meta); };
    }
    std::vector<RetrievedChunk> out;
    uint32_t rank = 0;
    for (const ScoredDoc& s : bm25_.search(terms, k, accept)) {
        RetrievedChunk r;
        r.chunk_id = doc_chunk_[s.doc];
        r.score = r.lexical_score = s.score;
        r.lexical_rank = ++rank;
        out.push_back(r);
    }
    return out;
}

std::vector<RetrievedChunk> Retriever::search_dense(std::span<const float> embedding, size_t k,
                                                    const MetadataFilter& filter) const {
    if (!vectors_) return {};
    // Only chunks that were add()ed and match: vectors loaded for ids the store no longer has stay hidden.
    auto accept = [&](int64_t id) {
        auto it = entries_.find(id);
        return it != entries_.end() && filter.matches(it->second.meta);
    };
    std::vector<RetrievedChunk> out;
    uint32_t rank = 0;
    for (const ScoredLabel& s : vectors_->search(embedding, k, accept)) {
        RetrievedChunk r;
        r.chunk_id = s.label;
        r.score = r.dense_score = s.score;
        r.dense_rank = ++rank;
        out.push_back(r);
    }
    return out;
}

Result<std::vector<RetrievedChunk>> Retriever::search(const RetrievalQuery& q) const {
    std::vector<std::string> terms;
    if (q.mode != RetrievalMode::kDense) {
        std::unique_ptr<Analyzer> analyzer = take_analyzer();
        terms = analyzer->analyze(q.text);
        return_analyzer(std::move(analyzer));
    }

    auto lock = lock_shared();
    RetrievalMode mode = q.mode;
    if (mode == RetrievalMode::kAuto) {
        mode =
            !q.embedding.empty() && vectors_ && vectors_->size() > 0 ? RetrievalMode::kHybrid : RetrievalMode::kLexical;
    }
    if (mode != RetrievalMode::kLexical) {
        if (q.embedding.empty()) {
            return Status::error(
                std::string(retrieval_mode_name(mode)) +
                " retrieval needs a query embedding; configure an embedding model or use lexical mode");
        }
        if (vectors_ && q.embedding.size() != vectors_->dim()) {
            return Status::error("query embedding has " + std::to_string(q.embedding.size()) +
                                 " dimensions, the knowledge base's vectors have " + std::to_string(vectors_->dim()) +
                                 "; embed the query with the model that embedded the chunks");
        }
    }
    if (q.k == 0) return std::vector<RetrievedChunk>{};
    switch (mode) {
        case RetrievalMode::kLexical:
            return search_lexical(terms, q.k, q.filter);
        case RetrievalMode::kDense:
            return search_dense(q.embedding, q.k, q.filter);
        default:
            break;
    }
    const size_t depth = std::max(q.k, q.n_candidates);
    std::vector<RetrievedChunk> lexical = search_lexical(terms, depth, q.filter);
    std::vector<RetrievedChunk> dense = search_dense(q.embedding, depth, q.filter);
    std::vector<std::vector<int64_t>> lists(2);
    for (const RetrievedChunk& r : lexical) lists[0].push_back(r.chunk_id);
    for (const RetrievedChunk& r : dense) lists[1].push_back(r.chunk_id);
    std::vector<RetrievedChunk> out;
    for (const FusedId& f : fuse_reciprocal_rank(lists, q.k)) {
        RetrievedChunk r;
        r.chunk_id = f.id;
        r.score = f.score;
        r.lexical_rank = f.ranks[0];
        r.dense_rank = f.ranks[1];
        if (r.lexical_rank > 0) r.lexical_score = lexical[r.lexical_rank - 1].lexical_score;
        if (r.dense_rank > 0) r.dense_score = dense[r.dense_rank - 1].dense_score;
        out.push_back(r);
    }
    return out;
}

bool Retriever::contains(int64_t chunk_id) const {
    auto lock = lock_shared();
    return entries_.contains(chunk_id);
}

bool Retriever::has_vector(int64_t chunk_id) const {
    auto lock = lock_shared();
    return vectors_ && vectors_->contains(chunk_id);
}

size_t Retriever::size() const {
    auto lock = lock_shared();
    return entries_.size();
}

size_t Retriever::n_vectors() const {
    auto lock = lock_shared();
    return vectors_ ? vectors_->size() : 0;
}

size_t Retriever::n_removed_vectors() const {
    auto lock = lock_shared();
    return vectors_ ? vectors_->n_removed() : 0;
}

size_t Retriever::dim() const {
    auto lock = lock_shared();
    return vectors_ ? vectors_->dim() : 0;
}

Status Retriever::save_vectors(const std::filesystem::path& file) const {
    auto lock = lock_shared();
    if (!vectors_) {
        std::error_code ec;
        std::filesystem::remove(file, ec);
        if (ec) return Status::error(file.string() + ": cannot remove the stale vector index: " + ec.message());
        return Status::ok();
    }
    return vectors_->save(file);
}

Status Retriever::load_vectors(const std::filesystem::path& file) {
    Result<std::unique_ptr<VectorIndex>> loaded = VectorIndex::load(file, options_.vectors);
    if (!loaded.ok()) return loaded.status();
    auto lock = lock_exclusive();
    vectors_ = std::move(*loaded);
    return Status::ok();
}

size_t Retriever::prune_vectors() {
    auto lock = lock_exclusive();
    if (!vectors_) return 0;
    size_t n = 0;
    for (int64_t label : vectors_->labels())
        if (!entries_.contains(label)) n += vectors_->remove(label) ? 1 : 0;
    return n;
}

}  // namespace sinan::knowledge
