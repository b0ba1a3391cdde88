#include "model/weights.h"

#include "kernels/kernels.h"

namespace sinan::model {

namespace {

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

Status check_shape(const gguf::File& file, const std::string& name, const std::vector<uint64_t>& want,
                   const gguf::TensorInfo** out) {
    const gguf::TensorInfo* t = file.find_tensor(name);
    if (t == nullptr) return Status::error(file.path() + ": tensor '" + name + "' is missing");
    if (!kernels::is_convertible(t->type))
        return Status::error(file.path() + ": tensor '" + name + "' has type " + gguf::type_name(t->type) +
                             ", which sinan cannot compute with; requantize the model (sinan quantize)");
    if (t->shape != want)
        return Status::error(file.path() + ": tensor '" + name + "' has shape " + shape_text(t->shape) + ", expected " +
                             shape_text(want));
    *out = t;
    return Status::ok();
}

}  // namespace

Status bind_matrix(const gguf::File& file, const std::string& name, int64_t n_cols, int64_t n_rows,
                   kernels::Matrix* out) {
    const gguf::TensorInfo* t = nullptr;
    SINAN_RETURN_IF_ERROR(
        check_shape(file, name, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)}, &t));
    *out = kernels::Matrix{t->type, t->data, n_cols, n_rows};
    return Status::ok();
}

Status bind_matrices(const gguf::File& file, const std::string& name, int64_t n_cols, int64_t n_rows,
                     int64_t n_mats, std::vector<kernels::Matrix>* out) {
    const gguf::TensorInfo* t = nullptr;
    SINAN_RETURN_IF_ERROR(check_shape(
        file, name, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows), static_cast<uint64_t>(n_mats)}, &t));
    const uint64_t mat_bytes = gguf::row_bytes(t->type, static_cast<uint64_t>(n_cols)) * static_cast<uint64_t>(n_rows);
    out->clear();
    for (int64_t m = 0; m < n_mats; ++m)
        out->push_back({t->type, static_cast<const uint8_t*>(t->data) + static_cast<uint64_t>(m) * mat_bytes, n_cols, n_rows});
    return Status::ok();
}

Status bind_vector(const gguf::File& file, const std::string& name, int64_t n, std::vector<float>* out, bool optional) {
    if (optional && file.find_tensor(name) == nullptr) return Status::ok();
    const gguf::TensorInfo* t = nullptr;
    SINAN_RETURN_IF_ERROR(check_shape(file, name, {static_cast<uint64_t>(n)}, &t));
    out->resize(static_cast<size_t>(n));
    kernels::dequantize_row(t->type, t->data, out->data(), n);
    return Status::ok();
}

Status bind_input_output(const gguf::File& file, int64_t n_embd, int64_t* n_vocab, InputOutput* out) {
    const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
    if (embd == nullptr || embd->shape.size() != 2)
        return Status::error(file.path() + ": tensor 'token_embd.weight' is missing or not a matrix");
    *n_vocab = static_cast<int64_t>(embd->shape[1]);
    if (const gguf::Array* tokens = file.get_array("tokenizer.ggml.tokens");
        tokens && static_cast<int64_t>(tokens->size()) != *n_vocab)
        return Status::error(file.path() + ": token_embd.weight has " + std::to_string(*n_vocab) +
                             " rows but the vocabulary has " + std::to_string(tokens->size()) + " tokens");
    SINAN_RETURN_IF_ERROR(bind_matrix(file, "token_embd.weight", n_embd, *n_vocab, &out->tok_embd));
    if (file.find_tensor("output.weight") != nullptr) {
        SINAN_RETURN_IF_ERROR(bind_matrix(file, "output.weight", n_embd, *n_vocab, &out->output));
    } else {
        out->output = out->tok_embd;  // tied embeddings
    }
    return bind_vector(file, "output_norm.weight", n_embd, &out->output_norm);
}

void compute_logits(const InputOutput& io, const Batch& batch, const float* x, int64_t n_embd, float rms_eps,
                    std::vector<float>* rows, std::vector<float>* logits, ThreadPool& pool) {
    const int64_t n_out = batch.n_outputs();
    rows->resize(static_cast<size_t>(n_out * n_embd));
    int64_t o = 0;
    for (size_t t = 0; t < batch.size(); ++t) {
        if (!batch.want_logits[t]) continue;
        kernels::rmsnorm(x + static_cast<int64_t>(t) * n_embd, io.output_norm.data(), rows->data() + o * n_embd, n_embd,
                         rms_eps);
        ++o;
    }
    logits->resize(static_cast<size_t>(n_out * io.output.n_rows));
    kernels::matmul(io.output, rows->data(), n_out, logits->data(), pool);
}

}  // namespace sinan::model
