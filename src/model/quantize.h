// Quantizing a model file: the weight matrices of an F32/F16/BF16 GGUF (the tensors llama.cpp's
// quantize converts: model/type_mix.h) are converted to a pure type (one type for all, as
// llama.cpp's --pure) or a mix such as Q4_K_M (llama.cpp's choice per tensor, no importance
// matrix); vectors (norms, biases) and the MoE router stay as they are, metadata is copied with
// general.file_type updated. With GGML's reference quantizers (kernels::quantize_row) the output
// is byte-identical to llama.cpp's.
// With a pure type, a matrix whose rows are not a multiple of the type's block is kept in its
// type (and named in `kept`); a mix falls back to a type that fits, as llama.cpp does.
// Quantizing an already quantized matrix is refused: quality would drop twice.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/tensor_type.h"
#include "model/type_mix.h"

namespace sinan::model {

struct QuantizeOptions {
    TypeMix type = gguf::TensorType::Q8_0;
    int n_threads = 0;  // 0 = physical cores
};

struct QuantizeReport {
    uint64_t bytes_in = 0, bytes_out = 0;  // tensor data
    int n_quantized = 0;
    std::map<gguf::TensorType, int> n_of_type;  // matrices written in each type
    std::vector<std::string> kept;          // matrices left in their type (row length)
};

Result<QuantizeReport> quantize_model(const std::string& in_path, const std::string& out_path,
                                      const QuantizeOptions& options,
                                      const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace sinan::model
