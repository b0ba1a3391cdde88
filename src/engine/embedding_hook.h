// EmbeddingHook and RerankHook: an embedding model or a cross-encoder reranker loaded for a
// knowledge base service, the one place the CLI commands (`sinan serve --embedding-model`,
// `sinan kb add|search|ask --embedding-model|--reranker-model`) load one and turn it into the
// plain function KnowledgeBaseOptions::embed or ::rerank takes, so sinan_knowledge does not depend
// on the engine.
//
//   Result<std::unique_ptr<EmbeddingHook>> hook = EmbeddingHook::load("bge-small.gguf");
//   options.embed = (*hook)->function();  options.embedding_model = (*hook)->model_id();
//   Result<std::unique_ptr<RerankHook>> r = RerankHook::load("bge-reranker.gguf");
//   options.rerank = (*r)->function();   // its errors name (*r)->model_id()
//
// The function embeds each text (normalised, cut to the model's context) into one vector of
// n_embd floats. model_id() is "<general.name or the file's stem>/<n_embd>": what a knowledge
// base records so it is never searched with vectors of another model (quantisations of one model
// share an id: their vectors are close enough to compare).
//
// The rerank function scores each text against the query (the reranker's raw logit, documents cut
// to fit the model's context); its model_id() is "<general.name or the file's stem>".
//
// Ownership: a hook owns the model and its Embedder or Reranker; the function it returns refers to
// them, so the hook must outlive every service that holds the function. Thread-safety: the
// functions may be called from any thread (Embedder and Reranker serialise forward passes).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/embedder.h"
#include "engine/reranker.h"
#include "model/embedding_model.h"

namespace sinan::engine {

// texts -> one vector per text, in order ([n_texts][n_embd]).
using EmbedFunction = std::function<Result<std::vector<std::vector<float>>>(const std::vector<std::string>&)>;

class EmbeddingHook {
  public:
    // Loads the embedding model at `path` with `n_threads` (0 = all cores). Errors name the file
    // and say what is wrong (missing, not an embedding model, no tokenizer).
    static Result<std::unique_ptr<EmbeddingHook>> load(const std::string& path, int n_threads = 0);

    const std::string& model_id() const { return model_id_; }
    int64_t n_embd() const { return model_->hparams().n_embd; }
    EmbedFunction function() const;

  private:
    EmbeddingHook() = default;

    std::unique_ptr<model::EmbeddingModel> model_;
    std::unique_ptr<Embedder> embedder_;
    std::string model_id_;
};

// (query, texts) -> one relevance score per text, in order.
using RerankFunction = std::function<Result<std::vector<float>>(const std::string&, const std::vector<std::string>&)>;

// Scores `texts` against `query` for knowledge-base search: documents cut to fit the model's
// context; an error says "re-ranking with <model_id>: ...". What RerankHook::function() runs, and
// what a server whose reranker lives in its model registry calls.
Result<std::vector<float>> rerank_for_search(Reranker& reranker, const std::string& model_id, const std::string& query,
                                             const std::vector<std::string>& texts);

class RerankHook {
  public:
    // Loads the reranker at `path` with `n_threads` (0 = all cores). Errors name the file and say
    // what is wrong (missing, not a reranker, no tokenizer).
    static Result<std::unique_ptr<RerankHook>> load(const std::string& path, int n_threads = 0);

    const std::string& model_id() const { return model_id_; }
    RerankFunction function() const;

  private:
    RerankHook() = default;

    std::unique_ptr<model::EmbeddingModel> model_;
    std::unique_ptr<Reranker> reranker_;
    std::string model_id_;
};

}  // namespace sinan::engine
