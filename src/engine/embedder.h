// Embedder: texts (or token sequences) in, one vector each out, for dense retrieval, `sinan embed`
// and POST /v1/embeddings. Wraps a model::EmbeddingModel and its tokenizer:
//   text -> Tokenizer::encode with the model's special tokens (WordPiece: [CLS] ... [SEP])
//        -> truncation to the model's context (when asked) -> EmbeddingModel::embed in batches
//        -> pooling (the model's pooling_type unless overridden) -> L2 normalisation (unless raw)
// Token sequences are taken as given: the caller adds any special tokens.
//
// Thread-safety: every method may be called from any thread; embed calls are serialised (one
// forward pass at a time on the model's pool). The model and tokenizer must outlive the Embedder.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/embedding_model.h"
#include "text/tokenizer.h"

namespace sinan::engine {

struct EmbedOptions {
    // L2-normalise each vector (cosine similarity = dot product); false: raw.
    bool normalize = true;
    // A sequence longer than the model's context: true cuts it to the context (a final [SEP] stays
    // the last token), false makes embed fail naming it.
    bool truncate = false;
    std::optional<model::Pooling> pooling;  // overrides the model's pooling_type; kNone and kRank are refused
};

struct Embeddings {
    int64_t n_embd = 0;             // values per vector
    std::vector<float> values;      // [n_inputs, n_embd], in input order
    std::vector<int64_t> n_tokens;  // per input: tokens that went into the model (after truncation)
    int64_t n_tokens_total() const;
};

class Embedder {
  public:
    // Tokens per forward pass: inputs are packed into passes of up to this many tokens (one
    // sequence longer than this still runs alone), which bounds the scratch memory.
    static constexpr int64_t kBatchTokens = 2048;

    Embedder(model::EmbeddingModel& model, text::Tokenizer tokenizer);

    const model::EmbeddingModel& model() const { return model_; }
    const text::Tokenizer& tokenizer() const { return tokenizer_; }
    // The longest sequence the model takes (its training context).
    int64_t n_ctx() const { return model_.hparams().n_ctx_train; }

    // The tokens embed_texts feeds the model for `text`, before truncation.
    std::vector<int32_t> tokenize(std::string_view text) const;

    // One vector per text. Errors: a text too long without truncate, pooling none or rank, a
    // vector with NaN or infinite values (a broken model: NaN weights, an overflow).
    Result<Embeddings> embed_texts(std::span<const std::string> texts, const EmbedOptions& options = {});
    // One vector per token sequence (ids as given). Errors: as embed_texts, an empty sequence, an
    // id outside the vocabulary.
    Result<Embeddings> embed_tokens(std::span<const std::vector<int32_t>> sequences, const EmbedOptions& options = {});

  private:
    Result<Embeddings> run(std::vector<std::vector<int32_t>> sequences, const EmbedOptions& options);

    model::EmbeddingModel& model_;
    const text::Tokenizer tokenizer_;
    std::mutex mu_;  // one forward pass at a time
};

}  // namespace sinan::engine
