// Session: one conversation's state on a model: the tokens in its KV cache, kept across turns,
// so each new turn computes only what is new (the longest common prefix with the previous
// prompt is reused). The serving engine's scheduler generalises this to many sequences; this is
// the single-sequence building block used by `sinan run`, `sinan perplexity` and `sinan bench`.
// With sliding-window attention (Hparams::n_swa = W) the cache holds only W + n_batch cells, and
// cells that no later token can see (positions <= last - W) are freed after every step, so memory
// stays constant however long the sequence runs; n_ctx then only bounds the positions.
// Not thread-safe; owns its cache; the model must outlive it.
#pragma once

#include <span>
#include <vector>

#include "base/status.h"
#include "model/model.h"

namespace sinan::engine {

class Session {
public:
    // n_ctx: most tokens in the session (prompt + generation); the cache holds that many, or only
    // the window (above). K and V are stored as kv_type (F16 or Q8_0, which model.check_kv_type
    // must have accepted).
    Session(model::Model& model, int64_t n_ctx, int64_t n_batch = 512, gguf::TensorType kv_type = gguf::TensorType::F16);

    // The cells such a session's cache holds: n_ctx, or with a window min(n_ctx, window + n_batch).
    static int64_t cache_cells(const model::Model& model, int64_t n_ctx, int64_t n_batch);

    // Makes the cache hold exactly `tokens`: keeps the common prefix with what is there,
    // computes the rest in batches of n_batch, and leaves the logits of the last token in
    // logits() (the prompt must be non-empty and at most n_ctx tokens; at least one token is
    // always recomputed so its logits exist).
    Status set_prompt(std::span<const int32_t> tokens);
    // Appends one token and computes its logits. Errors when the context is full, unless context
    // shift is on (set_context_shift).
    Status append(int32_t token);

    // Context shift: when append() finds the context full, the first `n_keep` tokens (a system
    // prompt) stay, the older half of the rest is dropped, and the newer half moves down to follow
    // them (its keys re-rotated by Model::shift_keys), instead of failing. n_keep < 0: off (the
    // default). n_shifted() counts the tokens dropped so far.
    void set_context_shift(int64_t n_keep) { n_keep_ = n_keep; }
    int64_t n_shifted() const { return n_shifted_; }

    // Logits of the last token: [n_vocab].
    std::span<const float> logits() const { return logits_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int64_t n_ctx() const { return n_ctx_; }
    const model::KvCache& cache() const { return cache_; }
    int64_t n_reused() const { return n_reused_; }  // prefix tokens the last set_prompt kept
    model::Model& model() { return model_; }

private:
    // Frees the cells the window has left behind (no-op without a window).
    void drop_outside_window();
    // Drops the older half of the tokens after n_keep_ (see set_context_shift).
    Status shift_context();

    model::Model& model_;
    int64_t n_ctx_;
    model::KvCache cache_;
    int64_t n_batch_;
    std::vector<int32_t> tokens_;
    std::vector<float> logits_;
    int64_t n_reused_ = 0;
    int64_t n_keep_ = -1;
    int64_t n_shifted_ = 0;
    model::Batch batch_;
};

}  // namespace sinan::engine
