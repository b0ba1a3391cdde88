// ModelRegistry: the models one `sinan serve` offers and the ones it holds in memory.
//
// The offer is fixed at start-up: the -m model and every *.gguf in --models-dir (id = the file
// name without .gguf). A model is loaded on first use (or at start with preload()), each with its
// own tokenizer and either a chat template and engine::Scheduler (generative models), an
// engine::Embedder (embedding models, architecture bert) or an engine::Reranker (cross-encoder
// rerankers: bert with pooling_type rank); at most `max_resident` stay loaded, and
// loading one more unloads the least recently used model that has no request in flight (never
// one that has). When every resident model is busy a load is refused with 503 and Retry-After.
//
// A request names the kind of model it needs: asking a generation route for an embedding model
// (or /v1/embeddings for a generative one, /v1/rerank for anything but a reranker) is a 400 that
// names the model and what it serves.
//
// acquire() hands out a ModelLease that counts as "in flight" until it is destroyed: a route
// holds it for the whole request, streaming included.
//
// Thread-safety: every method may be called from any thread. Loads are serialised (one at a
// time); requests for models already resident do not wait for a load.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/api_error.h"
#include "base/status.h"
#include "engine/embedder.h"
#include "engine/reranker.h"
#include "engine/scheduler.h"
#include "model/embedding_model.h"
#include "model/model.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace sinan::api {

enum class ModelKind {
    kGenerative,  // chat and text completions: model, chat_template, scheduler
    kEmbedding,   // /v1/embeddings: embedding_model, embedder
    kReranker,    // /v1/rerank: embedding_model (rank pooling), reranker
};

struct ModelFile {
    std::string id;  // file name without .gguf
    std::string path;
    // From the file's header, read once when the registry is made (the offer is fixed then);
    // empty, 0 and generative where the header cannot be read (loading the model then says why).
    std::string architecture = {};            // general.architecture
    std::string file_type = {};               // "Q4_K_M", as llama.cpp names general.file_type
    uint64_t n_params = 0;                    // values in all tensors
    ModelKind kind = ModelKind::kGenerative;  // from the architecture and pooling type
    std::string error = {};                   // why the header cannot be read; "" when it can
};

// A loaded model with everything a request needs. Members are immutable after load except the
// scheduler's and embedder's internal state (thread-safe) and the in-flight count.
struct ServedModel {
    std::string id, path;
    ModelKind kind = ModelKind::kGenerative;
    std::unique_ptr<model::Model> model;                     // kGenerative, else null
    std::unique_ptr<model::EmbeddingModel> embedding_model;  // kEmbedding and kReranker, else null
    text::Tokenizer tokenizer;
    std::optional<text::ChatTemplate> chat_template;  // absent: only /v1/completions works
    bool reasoning = false;  // a thinking model (<think> in its template or vocab): R1 sampling defaults
    std::unique_ptr<engine::Scheduler> scheduler;   // kGenerative, else null
    std::unique_ptr<engine::Embedder> embedder;     // kEmbedding, else null
    std::unique_ptr<engine::Reranker> reranker;     // kReranker, else null
    std::atomic<int32_t> in_flight{0};
    uint64_t last_used = 0;  // registry clock; guarded by the registry's mutex
    std::chrono::system_clock::time_point loaded_at;

    ServedModel(std::string id, std::string path, std::unique_ptr<model::Model> model, text::Tokenizer tokenizer)
        : id(std::move(id)), path(std::move(path)), model(std::move(model)), tokenizer(std::move(tokenizer)) {}
    ServedModel(std::string id, std::string path, std::unique_ptr<model::EmbeddingModel> model,
                text::Tokenizer tokenizer)
        : id(std::move(id)),
          path(std::move(path)),
          kind(ModelKind::kEmbedding),
          embedding_model(std::move(model)),
          tokenizer(std::move(tokenizer)) {}
    ~ServedModel();  // stops the scheduler before the model it uses goes away
};

// Keeps a ServedModel loaded and counted in flight while it lives. Movable.
class ModelLease {
  public:
    ModelLease() = default;
    explicit ModelLease(std::shared_ptr<ServedModel> m) : m_(std::move(m)) {}
    ModelLease(ModelLease&& o) noexcept = default;
    ModelLease& operator=(ModelLease&& o) noexcept {
        release();
        m_ = std::move(o.m_);
        return *this;
    }
    ~ModelLease() { release(); }
    ServedModel* operator->() const { return m_.get(); }
    ServedModel& operator*() const { return *m_; }

  private:
    void release() {
        if (m_) m_->in_flight.fetch_sub(1);
        m_.reset();
    }
    std::shared_ptr<ServedModel> m_;
};

struct RegistryOptions {
    engine::SchedulerOptions scheduler;  // n_ctx is capped at each model's training context
    uint64_t kv_memory_bytes = 0;        // KV cache per model; sets scheduler.n_cells from the model's bytes
                                         // per token (0: n_ctx x n_parallel cells)
    int n_threads = 0;                   // forward-pass threads per model, 0 = physical cores
    int64_t swa_window = -1;             // LoadOptions::swa_window for every model: -1 = each model's own
    size_t max_resident = 1;
    std::string default_reranker;  // the id /v1/rerank uses when a request names no model ("": the default)
};

class ModelRegistry {
  public:
    // Every *.gguf directly in `dir`, sorted by id. Error when the directory cannot be read.
    static Result<std::vector<ModelFile>> scan_dir(const std::string& dir);

    // `files` must have unique ids; `default_id` is "" or one of them.
    ModelRegistry(std::vector<ModelFile> files, std::string default_id, RegistryOptions options);
    ~ModelRegistry();

    const std::vector<ModelFile>& files() const { return files_; }
    bool empty() const { return files_.empty(); }
    const std::string& default_id() const { return default_id_; }
    const RegistryOptions& options() const { return options_; }

    // The id a request's `model` field names ("" = the default), or the error for it: no model at
    // all (503 with how to get one), no id with no default (400), unknown id (404
    // model_not_found, listing the ids).
    std::variant<std::string, ApiError> resolve(const std::string& requested) const;

    // The model `id` ("" = the default; for kReranker options().default_reranker when set), loaded
    // if needed. Errors: unknown id (404
    // model_not_found, listing the ids), no id with no default (400), no model at all (503 with
    // how to get one), a model of the other kind (400 wrong_model_kind; the file's architecture is
    // read before anything is loaded or unloaded), load failure (500), every resident model busy
    // (503 + Retry-After).
    std::variant<ModelLease, ApiError> acquire(const std::string& id, ModelKind kind = ModelKind::kGenerative);

    // Loads `id` now (at start-up), whatever its kind, so the first request does not wait.
    Status preload(const std::string& id);

    // Calls fn for each resident model (under the registry's mutex: keep it short).
    void for_each_resident(const std::function<void(const ServedModel&)>& fn) const;
    std::vector<std::string> resident_ids() const;

    // Stops every resident scheduler from admitting and waits up to `grace` for their requests.
    void drain(std::chrono::milliseconds grace);

    // "a, b, c": the ids, for error messages.
    std::string ids_text() const;

  private:
    Result<std::shared_ptr<ServedModel>> load(const ModelFile& file) const;
    Result<std::shared_ptr<ServedModel>> load_embedding(const ModelFile& file) const;
    const ModelFile* find(const std::string& id) const;

    const std::vector<ModelFile> files_;
    const std::string default_id_;
    const RegistryOptions options_;
    mutable std::mutex mu_;  // resident_, clock_
    std::mutex load_mu_;     // one load at a time
    std::vector<std::shared_ptr<ServedModel>> resident_;
    uint64_t clock_ = 0;
};

// The 503 message when the server has no model file at all: says how to get one.
std::string no_model_message();

}  // namespace sinan::api
