// Quantizing a model file: every 2-D weight matrix of an F32/F16/BF16 GGUF is converted to the
// target type (as llama.cpp's quantize does with --pure: one type for all matrices, no
// importance matrix), vectors (norms, biases) stay as they are, metadata is copied with
// general.file_type updated. With GGML's reference quantizers (kernels::quantize_row) the
// output is byte-identical to llama.cpp's.
// A matrix whose rows are not a multiple of the target's block is kept in its type (and named
// in `kept`). Quantizing an already quantized matrix is refused: quality would drop twice.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/tensor_type.h"

namespace sinan::model {

struct QuantizeOptions {
    gguf::TensorType type = gguf::TensorType::Q8_0;
    int n_threads = 0;  // 0 = physical cores
};

struct QuantizeReport {
    uint64_t bytes_in = 0, bytes_out = 0;  // tensor data
    int n_quantized = 0;
    std::vector<std::string> kept;          // matrices left in their type (row length)
};

Result<QuantizeReport> quantize_model(const std::string& in_path, const std::string& out_path,
                                      const QuantizeOptions& options,
                                      const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace sinan::model
