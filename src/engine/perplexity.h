// Perplexity of a model over a token stream, the way llama.cpp's `llama-perplexity` measures it,
// so figures can be compared with it.
//
// The tokens are split into consecutive chunks of n_ctx tokens (a remainder shorter than n_ctx
// is dropped). Each chunk is evaluated on a fresh cache (no state carries over between chunks),
// and only the tokens of its second half are scored: the logits at positions
// first .. n_ctx-2 (first = n_ctx/2) predict tokens first+1 .. n_ctx-1, so every scored token has
// at least n_ctx/2 tokens of context and the figure does not depend on how badly the model
// guesses with almost no context. That is n_ctx - 1 - n_ctx/2 scored tokens per chunk.
// With `bos` >= 0 every chunk starts with that token followed by n_ctx-1 tokens of the stream
// (so no token is lost to it, unlike llama.cpp, which overwrites the chunk's first token).
//
// NLL of a token = logsumexp(logits) - logits[token], computed in double. The result is
// perplexity = exp(mean NLL) with the standard error of the mean NLL (sample standard deviation
// / sqrt(n)), carried to the perplexity as ppl * se (first order), as llama.cpp reports it.
//
// Thread-safety: one call at a time per model (it runs forward passes).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "model/model.h"

namespace sinan::engine {

struct PerplexityOptions {
    int64_t n_ctx = 512;    // tokens per chunk, >= 3 (one scored token)
    int64_t n_batch = 512;  // tokens per forward pass within a chunk, >= 1
    int32_t bos = -1;       // >= 0: first token of every chunk
    gguf::TensorType kv_type = gguf::TensorType::F16;  // KV cache type (Model::check_kv_type accepts it)
};

struct PerplexityResult {
    int64_t n_chunks = 0;
    int64_t n_scored = 0;  // tokens whose NLL entered the mean
    double mean_nll = 0;   // nats per token
    double mean_nll_stderr = 0;
    double perplexity = 0;  // exp(mean_nll)
    double perplexity_stderr = 0;
    double seconds = 0;  // wall time of the forward passes and scoring
};

// After each chunk: the chunk's index (0-based), the number of chunks, and the running result.
using PerplexityProgress = std::function<void(int64_t chunk, int64_t n_chunks, const PerplexityResult& so_far)>;

// Tokens a stream must have for at least one chunk: n_ctx, or n_ctx-1 with a BOS.
int64_t perplexity_min_tokens(const PerplexityOptions& options);

// Errors: n_ctx < 3, n_batch < 1, fewer tokens than perplexity_min_tokens (the message suggests
// a smaller -c), a token outside the vocabulary, NaN or infinite logits (a broken model: the
// message names the chunk and position).
Result<PerplexityResult> perplexity(model::Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, const PerplexityProgress& progress = nullptr);

// -log softmax(logits)[target], in double. logits: n_vocab values; 0 <= target < n_vocab.
double token_nll(std::span<const float> logits, int32_t target);

}  // namespace sinan::engine
