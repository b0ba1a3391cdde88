#include "engine/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

namespace sinan::engine {

namespace {

// Running sums; the mean and its standard error follow from them.
struct NllSums {
    double sum = 0, sum_sq = 0;
    int64_t n = 0;

    void add(double nll) {
        sum += nll;
        sum_sq += nll * nll;
        ++n;
    }
    void fill(PerplexityResult* r) const {
        r->n_scored = n;
        r->mean_nll = n > 0 ? sum / static_cast<double>(n) : 0;
        const double var = n > 1 ? std::max(0.0, sum_sq / static_cast<double>(n) - r->mean_nll * r->mean_nll) *
                                       static_cast<double>(n) / static_cast<double>(n - 1)
                                 : 0;
        r->mean_nll_stderr = n > 1 ? std::sqrt(var / static_cast<double>(n)) : 0;
        r->perplexity = std::exp(r->mean_nll);
        r->perplexity_stderr = r->perplexity * r->mean_nll_stderr;
    }
};

}  // namespace

double token_nll(std::span<const float> logits, int32_t target) {
    double max = logits[0];
    for (float l : logits) max = std::max(max, static_cast<double>(l));
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
    return max + std::log(sum) - static_cast<double>(logits[static_cast<size_t>(target)]);
}

int64_t perplexity_min_tokens(const PerplexityOptions& options) {
    return options.bos >= 0 ? options.n_ctx - 1 : options.n_ctx;
}

Result<PerplexityResult> perplexity(model::Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, const PerplexityProgress& progress) {
    const int64_t n_ctx = options.n_ctx;
    if (n_ctx < 3)
        return Status::error("the context size must be at least 3 tokens, so that one token is scored (got " +
                             std::to_string(n_ctx) + ")");
    if (options.n_batch < 1) return Status::error("the batch size must be at least 1");
    const int64_t n_vocab = model.hparams().n_vocab;
    for (int32_t t : tokens)
        if (t < 0 || t >= n_vocab)
            return Status::error("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                 std::to_string(n_vocab - 1) + ")");
    // Stream tokens each chunk takes (the BOS is not from the stream).
    const int64_t per_chunk = perplexity_min_tokens(options);
    const int64_t n_tokens = static_cast<int64_t>(tokens.size());
    const int64_t n_chunks = n_tokens / per_chunk;
    if (n_chunks == 0)
        return Status::error("the text has " + std::to_string(n_tokens) + " tokens, fewer than one chunk of " +
                             std::to_string(n_ctx) + "; use a smaller context (-c " +
                             std::to_string(std::max<int64_t>(3, n_tokens + (options.bos >= 0 ? 1 : 0))) +
                             " or less) or a longer text");

    const auto start = std::chrono::steady_clock::now();
    const int64_t first = n_ctx / 2;
    model::KvCache cache = model.make_cache(n_ctx, options.kv_type);
    model::Batch batch;
    std::vector<float> logits;
    std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
    NllSums sums;
    PerplexityResult result;
    result.n_chunks = n_chunks;
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int32_t* src = tokens.data() + c * per_chunk;
        size_t k = 0;
        if (options.bos >= 0) chunk[k++] = options.bos;
        std::copy(src, src + (n_ctx - static_cast<int64_t>(k)), chunk.begin() + static_cast<long>(k));
        cache.clear();
        for (int64_t b = 0; b < n_ctx; b += options.n_batch) {
            const int64_t end = std::min(n_ctx, b + options.n_batch);
            batch.clear();
            for (int64_t i = b; i < end; ++i)
                batch.add(chunk[static_cast<size_t>(i)], static_cast<int32_t>(i), 0, i >= first && i + 1 < n_ctx);
            SINAN_RETURN_IF_ERROR(model.forward(batch, cache, &logits));
            // Outputs come in batch order: the wanted positions max(b, first) .. min(end, n_ctx-1)-1.
            int64_t row = 0;
            for (int64_t i = std::max(b, first); i < std::min(end, n_ctx - 1); ++i, ++row) {
                std::span<const float> l(logits.data() + row * n_vocab, static_cast<size_t>(n_vocab));
                const double nll = token_nll(l, chunk[static_cast<size_t>(i + 1)]);
                if (!std::isfinite(nll))
                    return Status::error("chunk " + std::to_string(c + 1) + ", position " + std::to_string(i) +
                                         ": the model gave NaN or infinite logits, so the perplexity is undefined; "
                                         "its weights hold NaN or infinity, or its numbers overflowed: check the "
                                         "model file");
                sums.add(nll);
            }
        }
        sums.fill(&result);
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (progress) progress(c, n_chunks, result);
    }
    return result;
}

}  // namespace sinan::engine
