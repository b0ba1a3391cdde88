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

// An optional key: *out keeps its default when the key is absent; present, it must be valid.
Status optional_int(const gguf::File& f, const std::string& key, int64_t* out) {
    if (!f.find(key)) return Status::ok();
    return need_int(f, key, out);
}

// An optional count that may be 0 (no q LoRA, no leading dense layer).
Status optional_count(const gguf::File& f, const std::string& key, int64_t* out) {
    if (!f.find(key)) return Status::ok();
    std::optional<int64_t> v = f.get_int(key);
    if (!v || *v < 0) return Status::error(f.path() + ": metadata key '" + key + "' must be a non-negative integer");
    *out = *v;
    return Status::ok();
}

Status positive_float(const gguf::File& f, const std::string& key, float* out) {
    if (!f.find(key)) return Status::ok();
    std::optional<double> v = f.get_float(key);
    if (!v || !(*v > 0)) return Status::error(f.path() + ": metadata key '" + key + "' must be a positive number");
    *out = static_cast<float>(*v);
    return Status::ok();
}

Status read_rope_scaling(const gguf::File& f, const std::string& a, Hparams* h) {
    const std::string scaling(f.get_string(a + "rope.scaling.type").value_or("none"));
    if (scaling == "none") return Status::ok();
    if (scaling != "linear" && scaling != "yarn")
        return Status::error(f.path() + ": rope scaling '" + scaling + "' is not supported (supported: none, linear, yarn)");
    auto factor = f.get_float(a + "rope.scaling.factor");
    if (!factor || !(*factor > 0))
        return Status::error(f.path() + ": rope.scaling.type is " + scaling + " but rope.scaling.factor is missing");
    h->rope_freq_scale = 1.0f / static_cast<float>(*factor);
    SINAN_RETURN_IF_ERROR(positive_float(f, a + "rope.scaling.attn_factor", &h->rope_attn_factor));
    if (scaling == "linear") return Status::ok();
    h->rope_yarn = true;
    h->n_ctx_orig_yarn = h->n_ctx_train;
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "rope.scaling.original_context_length", &h->n_ctx_orig_yarn));
    SINAN_RETURN_IF_ERROR(positive_float(f, a + "rope.scaling.yarn_beta_fast", &h->yarn_beta_fast));
    SINAN_RETURN_IF_ERROR(positive_float(f, a + "rope.scaling.yarn_beta_slow", &h->yarn_beta_slow));
    if (auto m = f.get_float(a + "rope.scaling.yarn_log_multiplier")) h->yarn_log_mul = static_cast<float>(*m);
    return Status::ok();
}

// deepseek2: the latent-attention sizes and the mixture of experts.
Status read_deepseek2(const gguf::File& f, const std::string& a, Hparams* h) {
    SINAN_RETURN_IF_ERROR(optional_count(f, a + "attention.q_lora_rank", &h->n_lora_q));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.kv_lora_rank", &h->n_lora_kv));
    // Files converted for the absorbed form give the per-head sizes as *_mla and the cache row
    // sizes (latent + rope, latent) as key_length / value_length; older files give the per-head
    // sizes as key_length / value_length.
    const bool mla_keys = f.find(a + "attention.key_length_mla") != nullptr;
    SINAN_RETURN_IF_ERROR(need_int(f, a + (mla_keys ? "attention.key_length_mla" : "attention.key_length"), &h->head_dim));
    SINAN_RETURN_IF_ERROR(
        need_int(f, a + (mla_keys ? "attention.value_length_mla" : "attention.value_length"), &h->n_embd_head_v));
    if (mla_keys) {
        int64_t k_len = 0, v_len = 0;
        SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.key_length", &k_len));
        SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.value_length", &v_len));
        if (k_len != h->n_lora_kv + h->n_rot || v_len != h->n_lora_kv)
            return Status::error(f.path() + ": attention.key_length " + std::to_string(k_len) + " / value_length " +
                                 std::to_string(v_len) + " should be kv_lora_rank + rope.dimension_count / kv_lora_rank");
    }
    if (h->n_rot >= h->head_dim)
        return Status::error(f.path() + ": rope.dimension_count " + std::to_string(h->n_rot) +
                             " must be smaller than the key head size " + std::to_string(h->head_dim));
    SINAN_RETURN_IF_ERROR(optional_count(f, a + "leading_dense_block_count", &h->n_layer_dense_lead));
    SINAN_RETURN_IF_ERROR(optional_count(f, a + "expert_shared_count", &h->n_expert_shared));
    if (h->n_layer_dense_lead >= h->n_layer) return Status::ok();  // no MoE layer: expert keys unused
    SINAN_RETURN_IF_ERROR(need_int(f, a + "expert_count", &h->n_expert));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "expert_used_count", &h->n_expert_used));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "expert_feed_forward_length", &h->n_ff_exp));
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "expert_group_count", &h->n_expert_groups));
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "expert_group_used_count", &h->n_group_used));
    if (h->n_expert_used > h->n_expert || h->n_expert % h->n_expert_groups != 0 || h->n_group_used > h->n_expert_groups ||
        h->n_expert_used > h->n_group_used * (h->n_expert / h->n_expert_groups))
        return Status::error(f.path() + ": expert counts are inconsistent (expert_count " + std::to_string(h->n_expert) +
                             ", expert_used_count " + std::to_string(h->n_expert_used) + ", expert_group_count " +
                             std::to_string(h->n_expert_groups) + ", expert_group_used_count " +
                             std::to_string(h->n_group_used) + ")");
    // Files without the key are DeepSeek-V2 / V2.5, which gate with a softmax.
    const int64_t gating = f.get_int(a + "expert_gating_func").value_or(1);
    if (gating != 1 && gating != 2)
        return Status::error(f.path() + ": expert_gating_func " + std::to_string(gating) +
                             " is not supported (1: softmax, 2: sigmoid)");
    h->expert_gating = gating == 2 ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
    SINAN_RETURN_IF_ERROR(positive_float(f, a + "expert_weights_scale", &h->expert_weights_scale));
    h->expert_weights_norm = f.get_bool(a + "expert_weights_norm").value_or(false);
    return Status::ok();
}

}  // namespace

kernels::RopeParams Hparams::rope_params(const float* factors) const {
    kernels::RopeParams p;
    p.n_rot = n_rot;
    p.freq_base = rope_freq_base;
    p.freq_scale = rope_freq_scale;
    p.factors = factors;
    p.layout = rope_layout;
    p.attn_factor = rope_attn_factor;
    if (rope_yarn) {
        p.ext_factor = 1.0f;
        kernels::yarn_corr_dims(n_rot, n_ctx_orig_yarn, rope_freq_base, yarn_beta_fast, yarn_beta_slow, &p.corr_low,
                                &p.corr_high);
    }
    return p;
}

Result<Hparams> read_hparams(const gguf::File& f) {
    Hparams h;
    h.arch = std::string(f.architecture());
    if (h.arch != "llama" && h.arch != "qwen2" && h.arch != "deepseek2")
        return Status::error(f.path() + ": architecture '" + h.arch +
                             "' is not supported yet (supported: llama, qwen2, deepseek2)");
    const bool deepseek2 = h.arch == "deepseek2";
    const std::string a = h.arch + ".";
    SINAN_RETURN_IF_ERROR(need_int(f, a + "embedding_length", &h.n_embd));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "block_count", &h.n_layer));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "attention.head_count", &h.n_head));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "feed_forward_length", &h.n_ff));
    SINAN_RETURN_IF_ERROR(need_int(f, a + "context_length", &h.n_ctx_train));
    h.n_head_kv = h.n_head;
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "attention.head_count_kv", &h.n_head_kv));
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "attention.sliding_window", &h.n_swa));
    if (h.n_swa < 0) return Status::error(f.path() + ": attention.sliding_window must not be negative");
    if (h.n_head % h.n_head_kv != 0)
        return Status::error(f.path() + ": attention.head_count " + std::to_string(h.n_head) +
                             " is not a multiple of attention.head_count_kv " + std::to_string(h.n_head_kv));
    if (auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon")) h.rms_eps = static_cast<float>(*eps);
    if (auto base = f.get_float(a + "rope.freq_base")) h.rope_freq_base = static_cast<float>(*base);
    SINAN_RETURN_IF_ERROR(read_rope_scaling(f, a, &h));
    h.rope_layout = h.arch == "qwen2" ? kernels::RopeLayout::kNeox : kernels::RopeLayout::kNormal;
    if (deepseek2) {
        SINAN_RETURN_IF_ERROR(need_int(f, a + "rope.dimension_count", &h.n_rot));
        if (h.n_rot % 2 != 0)
            return Status::error(f.path() + ": rope.dimension_count " + std::to_string(h.n_rot) + " must be even");
        SINAN_RETURN_IF_ERROR(read_deepseek2(f, a, &h));
        return h;
    }
    if (h.n_embd % h.n_head != 0)
        return Status::error(f.path() + ": embedding_length " + std::to_string(h.n_embd) +
                             " is not a multiple of attention.head_count " + std::to_string(h.n_head));
    h.head_dim = h.n_embd / h.n_head;
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "attention.key_length", &h.head_dim));
    h.n_rot = h.head_dim;
    SINAN_RETURN_IF_ERROR(optional_int(f, a + "rope.dimension_count", &h.n_rot));
    if (h.n_rot > h.head_dim || h.n_rot % 2 != 0)
        return Status::error(f.path() + ": rope.dimension_count " + std::to_string(h.n_rot) +
                             " must be even and at most the head size " + std::to_string(h.head_dim));
    return h;
}

}  // namespace sinan::model
