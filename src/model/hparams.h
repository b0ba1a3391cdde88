// Hyperparameters of a model, read only from its GGUF metadata ("<arch>.embedding_length" ...).
// A missing or inconsistent key is a load error that names the key.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"

namespace sinan::model {

struct Hparams {
    std::string arch;          // "llama", "qwen2"
    int64_t n_vocab = 0;       // rows of token_embd (= tokens in the vocabulary)
    int64_t n_ctx_train = 0;   // context length the model was trained for
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;      // n_embd / n_head unless the metadata says otherwise
    int64_t n_rot = 0;         // rotary dimensions per head (<= head_dim)
    int64_t n_ff = 0;
    float rms_eps = 1e-5f;
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
    kernels::RopeLayout rope_layout = kernels::RopeLayout::kNormal;

    int64_t n_embd_kv() const { return head_dim * n_head_kv; }
};

// Reads and checks the hyperparameters of a llama or qwen2 model.
Result<Hparams> read_hparams(const gguf::File& file);

}  // namespace sinan::model
