#include "engine/session.h"

#include <algorithm>

namespace sinan::engine {

int64_t Session::cache_cells(const model::Model& model, int64_t n_ctx, int64_t n_batch) {
    const int64_t window = model.hparams().n_swa;
    return window > 0 ? std::min(n_ctx, window + n_batch) : n_ctx;
}

Session::Session(model::Model& model, int64_t n_ctx, int64_t n_batch, gguf::TensorType kv_type)
    : model_(model), n_ctx_(n_ctx), cache_(model.make_cache(cache_cells(model, n_ctx, n_batch), kv_type)),
      n_batch_(n_batch) {}

void Session::drop_outside_window() {
    const int64_t window = model_.hparams().n_swa;
    const int32_t last = cache_.seq_pos_max(0);
    if (window > 0 && last - window >= 0) cache_.seq_rm(0, 0, static_cast<int32_t>(last - window + 1));
}

Status Session::set_prompt(std::span<const int32_t> tokens) {
    if (tokens.empty()) return Status::error("the prompt is empty");
    if (static_cast<int64_t>(tokens.size()) > n_ctx())
        return Status::error("the prompt has " + std::to_string(tokens.size()) + " tokens but the context holds " +
                             std::to_string(n_ctx()) + "; raise the context size (-c) or shorten the prompt");
    size_t keep = 0;
    while (keep < tokens_.size() && keep < tokens.size() && tokens_[keep] == tokens[keep]) ++keep;
    keep = std::min(keep, tokens.size() - 1);  // the last token is recomputed for its logits
    // With a window, the tokens after the kept prefix need its last W positions, which may be gone.
    const int64_t window = model_.hparams().n_swa;
    if (window > 0 && keep > 0 && cache_.seq_pos_min(0) > std::max<int64_t>(0, static_cast<int64_t>(keep) - window + 1))
        keep = 0;
    cache_.seq_rm(0, static_cast<int32_t>(keep), -1);
    tokens_.assign(tokens.begin(), tokens.begin() + static_cast<long>(keep));
    n_reused_ = static_cast<int64_t>(keep);
    std::vector<float> out;
    for (size_t i = keep; i < tokens.size(); i += static_cast<size_t>(n_batch_)) {
        const size_t end = std::min(tokens.size(), i + static_cast<size_t>(n_batch_));
        batch_.clear();
        for (size_t j = i; j < end; ++j) batch_.add(tokens[j], static_cast<int32_t>(j), 0, j + 1 == tokens.size());
        Status s = model_.forward(batch_, cache_, &out);
        if (!s.is_ok()) return s;
        drop_outside_window();
        tokens_.insert(tokens_.end(), tokens.begin() + static_cast<long>(i), tokens.begin() + static_cast<long>(end));
    }
    logits_ = std::move(out);
    return Status::ok();
}

Status Session::shift_context() {
    const int64_t n_past = static_cast<int64_t>(tokens_.size());
    const int64_t n_keep = std::min(n_keep_, n_past - 2);
    const int64_t n_discard = (n_past - n_keep) / 2;
    const int32_t p0 = static_cast<int32_t>(n_keep), p1 = static_cast<int32_t>(n_keep + n_discard);
    cache_.seq_rm(0, p0, p1);
    const std::vector<int32_t> moved = cache_.seq_shift(0, p1, -1, -static_cast<int32_t>(n_discard));
    SINAN_RETURN_IF_ERROR(model_.shift_keys(cache_, moved, -static_cast<int32_t>(n_discard)));
    tokens_.erase(tokens_.begin() + n_keep, tokens_.begin() + n_keep + n_discard);
    n_shifted_ += n_discard;
    return Status::ok();
}

Status Session::append(int32_t token) {
    if (static_cast<int64_t>(tokens_.size()) >= n_ctx()) {
        if (n_keep_ < 0)
            return Status::error("the context is full (" + std::to_string(n_ctx()) +
                                 " tokens); raise it with -c, or let old tokens go with --context-shift");
        SINAN_RETURN_IF_ERROR(shift_context());
    }
    batch_.clear();
    batch_.add(token, static_cast<int32_t>(tokens_.size()), 0, true);
    SINAN_RETURN_IF_ERROR(model_.forward(batch_, cache_, &logits_));
    drop_outside_window();
    tokens_.push_back(token);
    return Status::ok();
}

}  // namespace sinan::engine
