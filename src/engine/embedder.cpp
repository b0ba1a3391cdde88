#include "engine/embedder.h"

#include <algorithm>
#include <cmath>

namespace sinan::engine {

int64_t Embeddings::n_tokens_total() const {
    int64_t n = 0;
    for (int64_t t : n_tokens) n += t;
    return n;
}

Embedder::Embedder(model::EmbeddingModel& model, text::Tokenizer tokenizer)
    : model_(model), tokenizer_(std::move(tokenizer)) {}

std::vector<int32_t> Embedder::tokenize(std::string_view text) const {
    return tokenizer_.encode(text, /*add_special=*/true, /*parse_special=*/false);
}

Result<Embeddings> Embedder::embed_texts(std::span<const std::string> texts, const EmbedOptions& options) {
    std::vector<std::vector<int32_t>> sequences;
    sequences.reserve(texts.size());
    for (const std::string& t : texts) sequences.push_back(tokenize(t));
    return run(std::move(sequences), options);
}

Result<Embeddings> Embedder::embed_tokens(std::span<const std::vector<int32_t>> sequences,
                                          const EmbedOptions& options) {
    return run(std::vector<std::vector<int32_t>>(sequences.begin(), sequences.end()), options);
}

Result<Embeddings> Embedder::run(std::vector<std::vector<int32_t>> sequences, const EmbedOptions& options) {
    const model::Pooling pooling = options.pooling.value_or(model_.hparams().pooling);
    if (pooling == model::Pooling::kNone)
        return Status::error(model_.file().path() +
                             ": pooling is none (one vector per token); choose mean, cls or last pooling");
    if (pooling == model::Pooling::kRank)
        return Status::error(model_.file().path() +
                             ": pooling is rank (a cross-encoder reranker scores query-document pairs, use sinan "
                             "rerank or POST /v1/rerank); choose mean, cls or last pooling");
    const int64_t n_ctx = this->n_ctx();
    const int32_t sep = tokenizer_.sep_id();
    for (size_t i = 0; i < sequences.size(); ++i) {
        std::vector<int32_t>& s = sequences[i];
        if (s.empty()) return Status::error("input " + std::to_string(i) + " has no tokens");
        if (static_cast<int64_t>(s.size()) <= n_ctx) continue;
        if (!options.truncate)
            return Status::error("input " + std::to_string(i) + " has " + std::to_string(s.size()) +
                                 " tokens, more than the model's context of " + std::to_string(n_ctx) +
                                 "; shorten it or ask for truncation");
        // A sequence keeps its closing [SEP]: the model saw every training sequence end with one.
        const bool keep_sep = sep >= 0 && s.back() == sep;
        s.resize(static_cast<size_t>(n_ctx));
        if (keep_sep) s.back() = sep;
    }

    Embeddings out;
    out.n_embd = model_.hparams().n_embd;
    out.values.reserve(sequences.size() * static_cast<size_t>(out.n_embd));
    for (const std::vector<int32_t>& s : sequences) out.n_tokens.push_back(static_cast<int64_t>(s.size()));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<float> pooled;
    for (const auto& [begin, end] : model::token_passes(sequences, kBatchTokens)) {
        SINAN_RETURN_IF_ERROR(model_.embed(std::span(sequences).subspan(begin, end - begin), pooling, &pooled));
        out.values.insert(out.values.end(), pooled.begin(), pooled.end());
    }
    for (size_t i = 0; i < sequences.size(); ++i) {  // vectors of NaN would reach clients as nulls
        const float* v = out.values.data() + i * static_cast<size_t>(out.n_embd);
        if (!std::all_of(v, v + out.n_embd, [](float x) { return std::isfinite(x); }))
            return Status::error(model_.file().path() + ": the model gave NaN or infinite values for input " +
                                 std::to_string(i) +
                                 ": its weights hold NaN or infinity, or its numbers overflowed; check the model file");
    }
    if (options.normalize) {
        for (size_t i = 0; i < sequences.size(); ++i) {
            float* v = out.values.data() + i * static_cast<size_t>(out.n_embd);
            double sum = 0.0;
            for (int64_t c = 0; c < out.n_embd; ++c) sum += static_cast<double>(v[c]) * v[c];
            const double norm = std::sqrt(sum);
            const float scale = norm > 0.0 ? static_cast<float>(1.0 / norm) : 0.0f;
            for (int64_t c = 0; c < out.n_embd; ++c) v[c] *= scale;
        }
    }
    return out;
}

}  // namespace sinan::engine
