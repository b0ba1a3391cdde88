// Hyperparameters of a model, read only from its GGUF metadata ("<arch>.embedding_length" ...).
// A missing or inconsistent key is a load error that names the key.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"

namespace sinan::model {

// How a mixture-of-experts layer turns router logits into expert weights.
enum class ExpertGating {
    kSoftmax,  // DeepSeek-V2: softmax over all experts
    kSigmoid,  // DeepSeek-V3/R1: independent sigmoids, plus a per-expert bias for selection only
};

struct Hparams {
    std::string arch;          // "llama", "qwen2", "deepseek2"
    int64_t n_vocab = 0;       // rows of token_embd (= tokens in the vocabulary)
    int64_t n_ctx_train = 0;   // context length the model was trained for
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;      // n_embd / n_head unless the metadata says otherwise (deepseek2: q/k head)
    int64_t n_rot = 0;         // rotary dimensions per head (<= head_dim)
    int64_t n_ff = 0;          // FFN width of the dense layers
    float rms_eps = 1e-5f;
    // Sliding-window attention (attention.sliding_window, or LoadOptions::swa_window): a token at
    // position p attends to positions p - n_swa + 1 .. p only; 0 = to every earlier position.
    int64_t n_swa = 0;

    // Rotary embedding, rope.scaling.type none / linear / yarn.
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1 / scaling factor
    kernels::RopeLayout rope_layout = kernels::RopeLayout::kNormal;
    bool rope_yarn = false;
    float rope_attn_factor = 1.0f;     // rope.scaling.attn_factor
    float yarn_beta_fast = 32.0f;
    float yarn_beta_slow = 1.0f;
    int64_t n_ctx_orig_yarn = 0;       // rope.scaling.original_context_length (default n_ctx_train)
    float yarn_log_mul = 0.0f;         // rope.scaling.yarn_log_multiplier (DeepSeek's mscale_all_dim * 0.1)

    // deepseek2: multi-head latent attention. head_dim = n_embd_head_qk_nope + n_rot.
    int64_t n_lora_q = 0;              // 0: q is one matrix (attn_q), else attn_q_a -> norm -> attn_q_b
    int64_t n_lora_kv = 0;             // the latent the cache stores
    int64_t n_embd_head_v = 0;         // value head size after decompression through attn_v_b

    // deepseek2: mixture of experts (layers from n_layer_dense_lead on).
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_expert_groups = 1;
    int64_t n_group_used = 1;
    int64_t n_expert_shared = 0;
    int64_t n_ff_exp = 0;              // FFN width of one expert
    int64_t n_layer_dense_lead = 0;
    ExpertGating expert_gating = ExpertGating::kSoftmax;
    float expert_weights_scale = 1.0f;
    bool expert_weights_norm = false;

    int64_t n_embd_kv() const { return head_dim * n_head_kv; }
    // Values per token per layer in the KV cache: K and V rows. MLA keeps one K row (the latent
    // and the rotated part) and no V row (values are read from the latent).
    int64_t n_embd_k_cache() const { return n_lora_kv > 0 ? n_lora_kv + n_rot : n_embd_kv(); }
    int64_t n_embd_v_cache() const { return n_lora_kv > 0 ? 0 : n_embd_kv(); }

    // The rope kernel's parameters for this model (factors: Llama 3 rope_freqs, or null).
    kernels::RopeParams rope_params(const float* factors = nullptr) const;
};

// Reads and checks the hyperparameters of a llama, qwen2 or deepseek2 model.
Result<Hparams> read_hparams(const gguf::File& file);

}  // namespace sinan::model
