// Synthetic models: GGUF files with the real hyperparameters and tensor names of known models
// and random weights (fixed seed, small spread so activations stay finite). This is how tests
// get tiny models and benchmarks get full-size ones without downloading anything
// (`sinan model synth`).
//
// Weights are drawn from a uniform distribution with the given standard deviation, per tensor
// from a seed derived from (seed, tensor name), so a file is the same on every machine and
// thread count. Norm weights are drawn around 1.0, biases around 0.
// The tokenizer is copied from another GGUF (tokenizer.* keys; the vocabulary size then
// follows that file) or is a synthetic byte-level BPE vocabulary of the model's real size.
// Thread-safety: functions are independent; synth_model uses its own worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/tensor_type.h"
#include "model/type_mix.h"

namespace sinan::model {

// deepseek2 only: multi-head latent attention and the mixture of experts.
struct MlaMoeDims {
    uint32_t q_lora_rank;      // 0: one q matrix
    uint32_t kv_lora_rank;
    uint32_t qk_nope, qk_rope, v_head;
    uint32_t n_expert, n_expert_used, n_expert_shared, n_ff_exp;
    uint32_t n_layer_dense_lead;
    uint32_t n_expert_groups, n_group_used;
    bool sigmoid_gating;       // V3; V2 gates with a softmax
    float expert_weights_scale;
    bool expert_weights_norm;
    float yarn_factor;         // YaRN rope scaling (original context = n_ctx_train / factor)
    float yarn_log_mul;
};

struct SynthShape {
    std::string name;          // "r1-distill-qwen-1.5b"
    std::string arch;          // GGUF architecture: "qwen2", "llama" or "deepseek2"
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ff;
    uint32_t n_vocab;          // real vocabulary size (used when no --vocab is given)
    uint32_t n_ctx_train;
    float rope_freq_base;
    float rms_eps;
    bool tied_output;          // output.weight shared with token_embd.weight
    bool llama3_rope;          // Llama 3.1 rope scaling (rope_freqs.weight tensor)
    MlaMoeDims mla{};          // deepseek2 only (n_ff: the leading dense layers' FFN)
};

// The shapes `sinan model synth --shape` knows, in a stable order.
const std::vector<SynthShape>& synth_shapes();
// nullptr when unknown.
const SynthShape* find_synth_shape(const std::string& name);

struct SynthOptions {
    std::string arch;                    // must match the shape's architecture when given
    std::string shape = "tiny";
    TypeMix type = gguf::TensorType::F32;  // of the weight matrices: one type, or a mix such as Q4_K_M
    std::string vocab_path;              // copy the tokenizer from this GGUF; "" = synthetic
    uint64_t seed = 42;
    float weight_std = 0.02f;
    int n_threads = 0;                   // 0 = physical cores
};

// Bytes the model's tensors will take (for a progress bar and a disk-space check).
Result<uint64_t> synth_tensor_bytes(const SynthOptions& options);

// Writes the model to `path` (atomically: see gguf::Writer::write). progress(done, total) in
// bytes of tensor data. Errors: unknown shape, arch/shape mismatch, a type whose block does not
// divide the rows of this shape, an unreadable vocab file, I/O.
Status synth_model(const SynthOptions& options, const std::string& path,
                   const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace sinan::model
