#include "api/model_registry.h"

#include <algorithm>
#include <filesystem>

#include "base/log.h"
#include "gguf/gguf.h"
#include "model/type_mix.h"

namespace sinan::api {

namespace fs = std::filesystem;

ServedModel::~ServedModel() { scheduler.reset(); }

std::string no_model_message() {
    return "no model is loaded: start the server with a model file (sinan serve -m FILE.gguf, or MODEL=path.gguf "
           "make run), put a .gguf file in ./models/ (or --models-dir DIR), or make a small test model with "
           "`make model` in the checkout or `sinan model synth --shape tiny --vocab VOCAB.gguf -o models/tiny.gguf`";
}

Result<std::vector<ModelFile>> ModelRegistry::scan_dir(const std::string& dir) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) return Status::error(dir + ": cannot read the models directory (" + ec.message() + ")");
    std::vector<ModelFile> out;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const fs::path& p = it->path();
        if (p.extension() != ".gguf" || !it->is_regular_file(ec)) continue;
        out.push_back({p.stem().string(), p.string()});
    }
    std::sort(out.begin(), out.end(), [](const ModelFile& a, const ModelFile& b) { return a.id < b.id; });
    return out;
}

namespace {

// The files with their facts from each header; where a header cannot be read, why.
std::vector<ModelFile> described(std::vector<ModelFile> files) {
    for (ModelFile& f : files) {
        Result<gguf::File> file = gguf::File::open(f.path);
        if (!file.ok()) {
            f.error = file.message();
            continue;
        }
        f.architecture = std::string(file->architecture());
        if (model::is_embedding_arch(f.architecture)) {
            // A rank-pooling file without its head is refused when loaded, with the reason.
            const std::optional<int64_t> pooling = file->get_int(f.architecture + ".pooling_type");
            f.kind =
                pooling == static_cast<int64_t>(model::Pooling::kRank) ? ModelKind::kReranker : ModelKind::kEmbedding;
        }
        if (std::optional<uint64_t> ft = file->get_uint("general.file_type"))
            f.file_type = model::file_type_label(static_cast<uint32_t>(*ft));
        for (const gguf::TensorInfo& t : file->tensors()) f.n_params += t.n_elements;
    }
    return files;
}

}  // namespace

ModelRegistry::ModelRegistry(std::vector<ModelFile> files, std::string default_id, RegistryOptions options)
    : files_(described(std::move(files))), default_id_(std::move(default_id)), options_(std::move(options)) {}

ModelRegistry::~ModelRegistry() = default;

const ModelFile* ModelRegistry::find(const std::string& id) const {
    for (const ModelFile& f : files_)
        if (f.id == id) return &f;
    return nullptr;
}

std::string ModelRegistry::ids_text() const {
    std::string s;
    for (const ModelFile& f : files_) s += (s.empty() ? "" : ", ") + f.id;
    return s;
}

Result<std::shared_ptr<ServedModel>> ModelRegistry::load(const ModelFile& file) const {
    model::LoadOptions lo;
    lo.n_threads = options_.n_threads;
    lo.swa_window = options_.swa_window;
    Result<std::unique_ptr<model::Model>> m = model::Model::load(file.path, lo);
    if (!m.ok()) return m.status();
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) return Status::error(file.path + ": " + tok.message());
    auto served = std::make_shared<ServedModel>(file.id, file.path, std::move(m).value(), std::move(tok).value());
    if (Result<text::ChatTemplate> t = text::ChatTemplate::from_gguf(served->model->file()); t.ok())
        served->chat_template = std::move(t).value();
    served->reasoning =
        engine::is_reasoning_model(served->tokenizer, served->chat_template ? &*served->chat_template : nullptr);
    engine::SchedulerOptions so = options_.scheduler;
    if (Status s = served->model->check_kv_type(so.kv_type); !s.is_ok()) return Status::error(file.path + ": " + s.message());
    so.n_ctx = std::min<int64_t>(so.n_ctx, served->model->hparams().n_ctx_train);
    const uint64_t per_token = served->model->make_cache(1, so.kv_type).bytes_per_cell();
    if (options_.kv_memory_bytes > 0)
        so.n_cells = static_cast<int64_t>(std::max<uint64_t>(1, options_.kv_memory_bytes / per_token));
    served->scheduler = std::make_unique<engine::Scheduler>(*served->model, served->tokenizer, so);
    served->loaded_at = std::chrono::system_clock::now();
    const engine::SchedulerOptions& used = served->scheduler->options();
    if (used.n_ctx < so.n_ctx)
        log::warn(file.id + ": the KV budget holds " + std::to_string(used.n_cells) + " tokens (" +
                  std::to_string(per_token) + " bytes each), less than one sequence of context " +
                  std::to_string(so.n_ctx) + " needs; sequences are limited to " + std::to_string(used.n_ctx));
    const int64_t window = served->model->hparams().n_swa;
    log::info("loaded model " + file.id + " (" + file.path + "): context " + std::to_string(used.n_ctx) +
              (window > 0 ? ", sliding window " + std::to_string(window) : "") + ", KV cache " +
              std::to_string(used.n_cells) + " tokens (" + std::to_string(used.n_cells * per_token >> 20) + " MiB), " +
              std::to_string(used.n_parallel) + " parallel sequences" + (served->reasoning ? ", reasoning model" : ""));
    return served;
}

Result<std::shared_ptr<ServedModel>> ModelRegistry::load_embedding(const ModelFile& file) const {
    model::LoadOptions lo;
    lo.n_threads = options_.n_threads;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(file.path, lo);
    if (!m.ok()) return m.status();
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) return Status::error(file.path + ": " + tok.message());
    auto served = std::make_shared<ServedModel>(file.id, file.path, std::move(m).value(), std::move(tok).value());
    served->loaded_at = std::chrono::system_clock::now();
    const model::EmbeddingHparams& h = served->embedding_model->hparams();
    if (model::is_reranker(h)) {
        served->kind = ModelKind::kReranker;
        served->reranker = std::make_unique<engine::Reranker>(*served->embedding_model, served->tokenizer);
        log::info("loaded reranker " + file.id + " (" + file.path + "): context " + std::to_string(h.n_ctx_train));
        return served;
    }
    served->embedder = std::make_unique<engine::Embedder>(*served->embedding_model, served->tokenizer);
    log::info("loaded embedding model " + file.id + " (" + file.path + "): " + std::to_string(h.n_embd) +
              " dimensions, context " + std::to_string(h.n_ctx_train) + ", " +
              std::string(model::pooling_name(h.pooling)) + " pooling");
    return served;
}

std::variant<std::string, ApiError> ModelRegistry::resolve(const std::string& requested) const {
    if (files_.empty()) {
        ApiError e;
        e.status = 503;
        e.type = "server_error";
        e.code = "no_model";
        e.message = no_model_message();
        return e;
    }
    std::string id = requested.empty() ? default_id_ : requested;
    if (id.empty()) {
        if (files_.size() == 1) return files_[0].id;
        return bad_request("model is required: this server offers " + ids_text(), "model", "model_required");
    }
    if (find(id) == nullptr) {
        ApiError e = bad_request("model \"" + id + "\" does not exist; available models: " + ids_text(), "model",
                                 "model_not_found");
        e.status = 404;
        return e;
    }
    return id;
}

std::variant<ModelLease, ApiError> ModelRegistry::acquire(const std::string& requested, ModelKind kind) {
    const bool reranker_default =
        kind == ModelKind::kReranker && requested.empty() && !options_.default_reranker.empty();
    auto resolved = resolve(reranker_default ? options_.default_reranker : requested);
    if (auto* e = std::get_if<ApiError>(&resolved)) return *e;
    const ModelFile* file = find(std::get<std::string>(resolved));
    auto wrong_kind = [&]() -> ApiError {
        if (kind == ModelKind::kReranker)
            return bad_request("model \"" + file->id +
                                   "\" is not a reranker; POST /v1/rerank needs a cross-encoder reranker (a bert "
                                   "model with pooling_type rank, e.g. bge-reranker)",
                               "model", "wrong_model_kind");
        if (file->kind == ModelKind::kReranker)
            return bad_request("model \"" + file->id + "\" is a reranker: it serves POST /v1/rerank, not " +
                                   (kind == ModelKind::kGenerative ? "text generation" : "embeddings"),
                               "model", "wrong_model_kind");
        if (kind == ModelKind::kGenerative)
            return bad_request("model \"" + file->id +
                                   "\" is an embedding model: it serves POST /v1/embeddings, not text generation",
                               "model", "wrong_model_kind");
        return bad_request("model \"" + file->id +
                               "\" is not an embedding model; embeddings need a bert-architecture model",
                           "model", "wrong_model_kind");
    };
    auto take = [&](const std::shared_ptr<ServedModel>& m) -> std::variant<ModelLease, ApiError> {
        if (m->kind != kind) return wrong_kind();
        m->in_flight.fetch_add(1);
        m->last_used = ++clock_;
        return ModelLease(m);
    };
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& m : resident_)
            if (m->id == file->id) return take(m);
    }
    // Before anything is unloaded to make room: is it the kind the request needs?
    if (file->kind != kind) return wrong_kind();
    std::lock_guard<std::mutex> load_lock(load_mu_);
    std::shared_ptr<ServedModel> victim;  // destroyed outside mu_: stopping a scheduler joins its thread
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& m : resident_)
            if (m->id == file->id) return take(m);  // loaded while we waited for load_mu_
        if (resident_.size() >= std::max<size_t>(options_.max_resident, 1)) {
            auto lru = resident_.end();
            for (auto it = resident_.begin(); it != resident_.end(); ++it)
                if ((*it)->in_flight.load() == 0 && (lru == resident_.end() || (*it)->last_used < (*lru)->last_used))
                    lru = it;
            if (lru == resident_.end()) {
                ApiError e;
                e.status = 503;
                e.type = "server_error";
                e.code = "models_busy";
                e.retry_after_s = 1;
                e.message = "model \"" + file->id + "\" is not loaded and every loaded model (--models-max " +
                            std::to_string(options_.max_resident) + ") has requests in flight; retry shortly";
                return e;
            }
            victim = *lru;
            resident_.erase(lru);
        }
    }
    if (victim) {
        log::info("unloading model " + victim->id + " (least recently used) to load " + file->id);
        victim.reset();
    }
    Result<std::shared_ptr<ServedModel>> loaded = kind == ModelKind::kGenerative ? load(*file) : load_embedding(*file);
    if (!loaded.ok()) {
        ApiError e;
        e.status = 500;
        e.type = "server_error";
        e.code = "model_load_failed";
        e.message = "model \"" + file->id + "\" failed to load: " + loaded.message();
        return e;
    }
    std::lock_guard<std::mutex> lock(mu_);
    resident_.push_back(*loaded);
    return take(*loaded);
}

Status ModelRegistry::preload(const std::string& id) {
    auto resolved = resolve(id);
    if (auto* e = std::get_if<ApiError>(&resolved)) return Status::error(e->message);
    std::variant<ModelLease, ApiError> r = acquire(id, find(std::get<std::string>(resolved))->kind);
    if (auto* e = std::get_if<ApiError>(&r)) return Status::error(e->message);
    return Status::ok();
}

void ModelRegistry::for_each_resident(const std::function<void(const ServedModel&)>& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : resident_) fn(*m);
}

std::vector<std::string> ModelRegistry::resident_ids() const {
    std::vector<std::string> ids;
    for_each_resident([&](const ServedModel& m) { ids.push_back(m.id); });
    return ids;
}

void ModelRegistry::drain(std::chrono::milliseconds grace) {
    std::vector<std::shared_ptr<ServedModel>> models;
    {
        std::lock_guard<std::mutex> lock(mu_);
        models = resident_;
    }
    // One deadline for all: each drain gets what is left of the grace period.
    const auto end = std::chrono::steady_clock::now() + grace;
    for (const auto& m : models) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (m->scheduler) m->scheduler->drain(std::max(left, std::chrono::milliseconds(0)));
    }
}

}  // namespace sinan::api
