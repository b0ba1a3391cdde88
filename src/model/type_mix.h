// Which type each weight matrix of a quantized model gets. A pure type ("q8_0", "q4_k") gives
// every matrix the one type, as llama.cpp's quantize does with --pure; a mix ("q4_k_m") gives
// most matrices its base type and the sensitive ones more bits, with llama.cpp's own choice
// (llama_tensor_get_type, no importance matrix) for the architectures sinan runs (qwen2, llama,
// deepseek2), so a file sinan writes has the tensor types, size and bytes per token of the file
// llama.cpp writes, and benchmarks compare like for like with published Q4_K_M figures.
//
// The mixes, for N layers, more_bits(i) = i < N/8 || i >= 7N/8 || (i - N/8) % 3 == 2:
//   Q4_K_M / Q5_K_M  base Q4_K / Q5_K; attn_v and every ffn_down* of the more_bits layers Q6_K
//   Q4_K_S           base Q4_K; attn_v of layers 0-3 and ffn_down* of layers < N/8 Q5_K
//   Q5_K_S           base Q5_K
// In every mix the output matrix (token_embd when the model has no output.weight) is Q6_K (Q8_0
// when its rows are not whole 256-value blocks); a 70B model (llama or qwen2 with 80 layers
// and grouped-query attention) takes Q5_K for a Q4_K attn_v; a model of exactly 8 experts takes
// Q8_0 for attn_k and attn_v, and Q5_K for attn_output in Q4_K_S/M (DeepSeek's 64 and 256 experts
// are not affected). A matrix whose rows are not whole
// blocks of its type falls back as llama.cpp does: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then
// F16 when even those do not fit.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gguf/tensor_type.h"

namespace sinan::model {

enum class Mix : uint8_t { kPure, kQ4_K_S, kQ4_K_M, kQ5_K_S, kQ5_K_M };

struct TypeMix {
    gguf::TensorType base = gguf::TensorType::F32;
    Mix mix = Mix::kPure;

    // A plain type is the pure mix of it.
    constexpr TypeMix(gguf::TensorType type = gguf::TensorType::F32, Mix m = Mix::kPure) : base(type), mix(m) {}
    bool operator==(const TypeMix&) const = default;
};

// "q8_0", "F16", "q4_k_m" (any case); nullopt for an unknown name or a type sinan cannot write.
std::optional<TypeMix> type_mix_from_name(std::string_view name);
// "Q8_0", "Q4_K_M": GGML's spelling.
std::string type_mix_name(const TypeMix& mix);
// "F32, F16, ..., Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M": for help texts and errors.
std::string type_mix_names();
// llama.cpp's general.file_type (LLAMA_FTYPE_*) of a file written with this mix.
uint32_t mix_file_type(const TypeMix& mix);
// The name llama.cpp gives a general.file_type ("Q4_K_M" for 15, "F16" for 1, "all F32" for 0);
// "file type N" for an id it does not know. A file quantized with llama.cpp's --pure says Q4_K_M
// (or Q5_K_M, Q3_K_M) too: the id names the mix the matrices were asked for, not what they hold.
std::string file_type_label(uint32_t file_type);

// What the choice depends on besides the tensor itself.
struct MixModel {
    std::string arch;  // general.architecture
    uint32_t n_layer = 0;
    uint32_t n_head = 0, n_head_kv = 0;
    uint32_t n_expert = 0;   // routed experts per MoE layer; 0 for a dense model
    bool has_output = true;  // an output.weight of its own (else token_embd is the output matrix)
};

// Whether llama.cpp's quantize converts this tensor at all: a matrix (2 or 3 dimensions) whose
// name ends in "weight", other than norms, the MoE router (ffn_gate_inp) and BERT's position
// and token-type embeddings.
bool is_quantized_matrix(std::string_view name, size_t n_dims);

// The type of matrix `name` (a tensor is_quantized_matrix accepts) whose rows hold `n_cols`
// values. For a pure mix: the base type, whatever the rows (callers check the blocks).
gguf::TensorType matrix_type(const TypeMix& mix, const MixModel& model, std::string_view name, uint64_t n_cols);

}  // namespace sinan::model
