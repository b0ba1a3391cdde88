// --kv-type, shared by the commands that run a model (run, serve, bench, perplexity): the type the
// KV cache stores keys and values in, f16 (the default) or q8_0 (about half the memory).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "gguf/tensor_type.h"
#include "model/model.h"

namespace sinan::cli {

// Adds --kv-type f16|q8_0 (case-insensitive; other values are a usage error) writing to *type.
CLI::Option* add_kv_type_option(CLI::App* cmd, gguf::TensorType* type);

// fail()s with "<model_path>: ..." when the model's cache cannot store `type` (Model::check_kv_type).
void require_kv_type(const model::Model& model, const std::string& model_path, gguf::TensorType type);

}  // namespace sinan::cli
