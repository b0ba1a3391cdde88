#include "engine/reranker.h"

#include "base/check.h"

namespace sinan::engine {

namespace {

// The token encode(text, add_special=true) closes a sequence with (tokenizer.cpp's rule), -1 for none.
int32_t closing_token(const text::Tokenizer& t) {
    if (t.vocab().kind == text::VocabKind::kWordPiece) return t.sep_id() >= 0 ? t.sep_id() : t.eos_id();
    return t.add_eos() ? t.eos_id() : -1;
}

}  // namespace

int64_t RerankScores::n_tokens_total() const {
    int64_t n = 0;
    for (int64_t t : n_tokens) n += t;
    return n;
}

Reranker::Reranker(model::EmbeddingModel& model, text::Tokenizer tokenizer)
    : model_(model), tokenizer_(std::move(tokenizer)) {
    SINAN_CHECK(model::is_reranker(model_.hparams()), "Reranker needs a model with rank pooling and a classifier head");
}

RerankPair Reranker::pair(std::string_view query, std::string_view document) const {
    RerankPair p;
    p.tokens = tokenizer_.encode(query, /*add_special=*/true, /*parse_special=*/false);
    p.segment_b = static_cast<int64_t>(p.tokens.size());
    const std::vector<int32_t> doc = tokenizer_.encode(document, /*add_special=*/false, /*parse_special=*/false);
    p.tokens.insert(p.tokens.end(), doc.begin(), doc.end());
    if (const int32_t close = closing_token(tokenizer_); close >= 0) p.tokens.push_back(close);
    return p;
}

Result<RerankScores> Reranker::rerank(std::string_view query, std::span<const std::string> documents,
                                      const RerankOptions& options) {
    const int64_t n_ctx = this->n_ctx();
    const bool closes = closing_token(tokenizer_) >= 0;
    std::vector<std::vector<int32_t>> sequences;
    std::vector<int64_t> segment_b;
    sequences.reserve(documents.size());
    segment_b.reserve(documents.size());
    for (size_t i = 0; i < documents.size(); ++i) {
        RerankPair p = pair(query, documents[i]);
        const int64_t n = static_cast<int64_t>(p.tokens.size());
        // The query and its framing, with room for one document token.
        const int64_t fixed = p.segment_b + (closes ? 1 : 0);
        if (fixed + 1 > n_ctx)
            return Status::error("the query has " + std::to_string(p.segment_b) +
                                 " tokens, too many for any document to fit the model's context of " +
                                 std::to_string(n_ctx) + "; shorten the query");
        if (n > n_ctx) {
            if (!options.truncate)
                return Status::error("document " + std::to_string(i) + ": with the query it has " + std::to_string(n) +
                                     " tokens, more than the model's context of " + std::to_string(n_ctx) +
                                     "; shorten it or ask for truncation");
            // Cut the document's end; the closing token stays last.
            const int32_t last = p.tokens.back();
            p.tokens.resize(static_cast<size_t>(n_ctx));
            if (closes) p.tokens.back() = last;
        }
        sequences.push_back(std::move(p.tokens));
        segment_b.push_back(p.segment_b);
    }

    RerankScores out;
    out.scores.reserve(sequences.size());
    for (const std::vector<int32_t>& s : sequences) out.n_tokens.push_back(static_cast<int64_t>(s.size()));
    const size_t n_out = static_cast<size_t>(model_.hparams().n_cls_out);
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<float> logits;  // [pairs in the pass, n_out]
    for (const auto& [begin, end] : model::token_passes(sequences, kBatchTokens)) {
        SINAN_RETURN_IF_ERROR(model_.embed(std::span(sequences).subspan(begin, end - begin), model::Pooling::kRank,
                                           &logits, std::span(segment_b).subspan(begin, end - begin)));
        for (size_t i = 0; i < end - begin; ++i) out.scores.push_back(logits[i * n_out]);
    }
    return out;
}

}  // namespace sinan::engine
