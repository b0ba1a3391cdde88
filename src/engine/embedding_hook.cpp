#include "engine/embedding_hook.h"

#include <filesystem>

namespace sinan::engine {

Result<std::unique_ptr<EmbeddingHook>> EmbeddingHook::load(const std::string& path, int n_threads) {
    model::LoadOptions lo;
    lo.n_threads = n_threads;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(path, lo);
    if (!m.ok()) return m.status();
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) return Status::error(path + ": " + tok.message());
    std::unique_ptr<EmbeddingHook> hook(new EmbeddingHook());
    hook->model_ = std::move(*m);
    hook->embedder_ = std::make_unique<Embedder>(*hook->model_, std::move(tok).value());
    const std::optional<std::string_view> name = hook->model_->file().get_string("general.name");
    const std::string base = name && !name->empty() ? std::string(*name) : std::filesystem::path(path).stem().string();
    hook->model_id_ = base + "/" + std::to_string(hook->n_embd());
    return hook;
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
