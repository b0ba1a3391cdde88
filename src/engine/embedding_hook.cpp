#include "engine/embedding_hook.h"

#include <filesystem>

namespace sinan::engine {

namespace {

// An encoder file loaded with its tokenizer, and its name (general.name, else the file's stem).
struct Encoder {
    std::unique_ptr<model::EmbeddingModel> model;
    text::Tokenizer tokenizer;
    std::string name;
};

Result<Encoder> load_encoder(const std::string& path, int n_threads) {
    model::LoadOptions lo;
    lo.n_threads = n_threads;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(path, lo);
    if (!m.ok()) return m.status();
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) return Status::error(path + ": " + tok.message());
    const std::optional<std::string_view> name = (*m)->file().get_string("general.name");
    std::string base = name && !name->empty() ? std::string(*name) : std::filesystem::path(path).stem().string();
    return Encoder{std::move(*m), std::move(tok).value(), std::move(base)};
}

}  // namespace

Result<std::unique_ptr<EmbeddingHook>> EmbeddingHook::load(const std::string& path, int n_threads) {
    Result<Encoder> e = load_encoder(path, n_threads);
    if (!e.ok()) return e.status();
    if (model::is_reranker(e->model->hparams()))
        return Status::error(path + ": a cross-encoder reranker, not an embedding model; give it as --reranker-model");
    std::unique_ptr<EmbeddingHook> hook(new EmbeddingHook());
    hook->model_ = std::move(e->model);
    hook->embedder_ = std::make_unique<Embedder>(*hook->model_, std::move(e->tokenizer));
    hook->model_id_ = e->name + "/" + std::to_string(hook->n_embd());
    return hook;
}

Result<std::unique_ptr<RerankHook>> RerankHook::load(const std::string& path, int n_threads) {
    Result<Encoder> e = load_encoder(path, n_threads);
    if (!e.ok()) return e.status();
    if (!model::is_reranker(e->model->hparams()))
        return Status::error(path + ": not a cross-encoder reranker (a bert model with pooling_type rank, e.g. "
                             "bge-reranker)");
    std::unique_ptr<RerankHook> hook(new RerankHook());
    hook->model_ = std::move(e->model);
    hook->reranker_ = std::make_unique<Reranker>(*hook->model_, std::move(e->tokenizer));
    hook->model_id_ = e->name;
    return hook;
}

Result<std::vector<float>> rerank_for_search(Reranker& reranker, const std::string& model_id, const std::string& query,
                                             const std::vector<std::string>& texts) {
    RerankOptions o;
    o.truncate = true;  // a passage longer than the model's context is scored by its start
    Result<RerankScores> r = reranker.rerank(query, texts, o);
    if (!r.ok()) return Status::error("re-ranking with " + model_id + ": " + r.message());
    return std::move(r->scores);
}

RerankFunction RerankHook::function() const {
    return [this](const std::string& query, const std::vector<std::string>& texts) {
        return rerank_for_search(*reranker_, model_id_, query, texts);
    };
}

EmbedFunction EmbeddingHook::function() const {
    return [this](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
        EmbedOptions o;
        o.truncate = true;  // a chunk longer than the model's context is embedded by its start
        Result<Embeddings> e = embedder_->embed_texts(texts, o);
        if (!e.ok()) return Status::error("embedding with " + model_id_ + ": " + e.message());
        std::vector<std::vector<float>> out(texts.size());
        const size_t d = static_cast<size_t>(e->n_embd);
        for (size_t i = 0; i < texts.size(); ++i)
            out[i].assign(e->values.begin() + static_cast<std::ptrdiff_t>(i * d),
                          e->values.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
        return out;
    };
}

}  // namespace sinan::engine
