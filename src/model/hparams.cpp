#include "model/hparams.h"

namespace sinan::model {

namespace {

Status need_int(const gguf::File& f, const std::string& key, int64_t* out) {
    std::optional<int64_t> v = f.get_int(key);
    if (!v) return Status::error(f.path() + ": metadata key '" + key + "' is missing or not an integer");
    if (*v <= 0) return Status::error(f.path() + ": metadata key '" + key + "' must be positive, is " + std::to_string(*v));
    *out = *v;
    return Status::ok();
}

}  // namespace

Result<Hparams> read_hparams(const gguf::File& f) {
    Hparams h;
    h.arch = std::string(f.architecture());
    if (h.arch != "llama" && h.arch != "qwen2")
        return Status::error(f.path() + ": architecture '" + h.arch +
                             "' is not supported yet (supported: llama, qwen2)");
    const std::string a = h.arch + ".";
    SINAN_RETURN_IF_ERROR(need_int(f, a + "embedding_length", &h.n_embd));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "block_count", &h.n_layer));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.head_count", &h.n_head));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "feed_forward_length", &h.n_ff));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "context_length", &h.n_ctx_train));
    h.n_head_kv = h.n_head;
    if (f.find(a + "attention.head_count_kv")) SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.head_count_kv", &h.n_head_kv));
    if (h.n_embd % h.n_head != 0)
        return Status::error(f.path() + ": embedding_length " + std::to_string(h.n_embd) +
                             " is not a multiple of attention.head_count " + std::to_string(h.n_head));
    if (h.n_head % h.n_head_kv != 0)
        return Status::error(f.path() + ": attention.head_count " + std::to_string(h.n_head) +
                             " is not a multiple of attention.head_count_kv " + std::to_string(h.n_head_kv));
    h.head_dim = h.n_embd / h.n_head;
    if (f.find(a + "attention.key_length")) SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.key_length", &h.head_dim));
    h.n_rot = h.head_dim;
    if (f.find(a + "rope.dimension_count")) SINAN_RETURN_IF_ERROR(need_int(f, a + "rope.dimension_count", &h.n_rot));
    if (h.n_rot > h.head_dim || h.n_rot % 2 != 0)
        return Status::error(f.path() + ": rope.dimension_count " + std::to_string(h.n_rot) +
                             " must be even and at most the head size " + std::to_string(h.head_dim));
    if (auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon")) h.rms_eps = static_cast<float>(*eps);
    if (auto base = f.get_float(a + "rope.freq_base")) h.rope_freq_base = static_cast<float>(*base);
    const std::string scaling(f.get_string(a + "rope.scaling.type").value_or("none"));
    if (scaling == "linear") {
        auto factor = f.get_float(a + "rope.scaling.factor");
        if (!factor || *factor <= 0)
            return Status::error(f.path() + ": rope.scaling.type is linear but rope.scaling.factor is missing");
        h.rope_freq_scale = static_cast<float>(1.0 / *factor);
    } else if (scaling != "none") {
        return Status::error(f.path() + ": rope scaling '" + scaling + "' is not supported yet");
    }
    h.rope_layout = h.arch == "qwen2" ? kernels::RopeLayout::kNeox : kernels::RopeLayout::kNormal;
    return h;
}

}  // namespace sinan::model
