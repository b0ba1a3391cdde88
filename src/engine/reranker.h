// Reranker: a query and documents in, one relevance score per document out, from a cross-encoder
// reranker (bge-reranker and other bert models with `bert.pooling_type` rank, embedding_model.h).
// For `sinan rerank`, POST /v1/rerank and re-ranking knowledge-base search results.
//
// Each document is scored together with the query as one pair sequence:
//   [CLS] query [SEP] document [SEP]          (WordPiece; token type 1 from the document on)
// Other vocabularies frame it the same way with what encode(text, add_special) adds: BOS where
// add_bos says, the closing EOS where add_eos says. (llama.cpp's format_rerank adds one more
// separator for vocabularies with add_sep, the RoBERTa family; sinan runs no such tokenizer.)
// The score is the classifier's first output, a raw logit: higher is more relevant, comparable
// across documents of one query and across queries of one model; apply a sigmoid for 0..1.
//
// A pair longer than the model's context: with truncate, the document is cut so the pair fits (the
// query and the closing [SEP] stay whole); without, rerank fails naming the document. A query that
// leaves no room for a single document token fails either way.
//
// Thread-safety: every method may be called from any thread; forward passes are serialised (one
// at a time on the model's pool). The model and tokenizer must outlive the Reranker.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/embedding_model.h"
#include "text/tokenizer.h"

namespace sinan::engine {

struct RerankOptions {
    // A pair longer than the model's context: true cuts the document to fit, false fails.
    bool truncate = false;
};

struct RerankScores {
    std::vector<float> scores;      // [n_documents], in document order: the model's raw relevance logit
    std::vector<int64_t> n_tokens;  // per document: tokens of its pair that went into the model
    int64_t n_tokens_total() const;
};

// One query-document pair as the model takes it.
struct RerankPair {
    std::vector<int32_t> tokens;
    int64_t segment_b = 0;  // where the document starts (token type 1 from here on)
};

class Reranker {
  public:
    // Tokens per forward pass: pairs are packed into passes of up to this many tokens (one pair
    // longer than this still runs alone), which bounds the scratch memory.
    static constexpr int64_t kBatchTokens = 2048;

    // `model` must be a reranker (model::is_reranker(model.hparams())): checked, a programmer
    // error otherwise. Callers holding a file of unknown kind check is_reranker first.
    Reranker(model::EmbeddingModel& model, text::Tokenizer tokenizer);

    const model::EmbeddingModel& model() const { return model_; }
    const text::Tokenizer& tokenizer() const { return tokenizer_; }
    // The longest pair the model takes (its training context).
    int64_t n_ctx() const { return model_.hparams().n_ctx_train; }

    // The pair rerank feeds the model for (query, document), before truncation.
    RerankPair pair(std::string_view query, std::string_view document) const;

    // Scores every document against the query, in document order. No documents: no scores.
    // Errors: a pair longer than the context without truncate ("document 3 ..."), a query too long
    // for any document to fit.
    Result<RerankScores> rerank(std::string_view query, std::span<const std::string> documents,
                                const RerankOptions& options = {});

  private:
    model::EmbeddingModel& model_;
    const text::Tokenizer tokenizer_;
    std::mutex mu_;  // one forward pass at a time
};

}  // namespace sinan::engine
