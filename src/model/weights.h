// Binding a model's tensors by name, with shape checks: the loaders of every architecture use
// these, so a missing or misshapen tensor is always the same clear error naming the file, the
// tensor, its shape and the expected one. Also the decoder's input and output layers, which
// every architecture shares.
// Matrices stay in place in the mapped file (the File must outlive them); vectors are copied to
// floats. Thread-safety: pure functions of the (immutable) file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"
#include "model/batch.h"

namespace sinan::model {

// A 2-D tensor of GGUF shape [n_cols, n_rows].
Status bind_matrix(const gguf::File& file, const std::string& name, int64_t n_cols, int64_t n_rows,
                   kernels::Matrix* out);

// A 3-D tensor of GGUF shape [n_cols, n_rows, n_mats] (per-expert or per-head matrices, stored
// one after the other): out gets one Matrix per slice.
Status bind_matrices(const gguf::File& file, const std::string& name, int64_t n_cols, int64_t n_rows,
                     int64_t n_mats, std::vector<kernels::Matrix>* out);

// A 1-D tensor of n values, converted to floats. optional: a missing tensor leaves out empty.
Status bind_vector(const gguf::File& file, const std::string& name, int64_t n, std::vector<float>* out,
                   bool optional = false);

// The tensors every decoder has outside its blocks: token_embd (its rows set h->n_vocab, which
// must match the tokenizer's vocabulary when the file has one), output (or token_embd again
// when the embeddings are tied) and output_norm.
struct InputOutput {
    kernels::Matrix tok_embd, output;
    std::vector<float> output_norm;
};
Status bind_input_output(const gguf::File& file, int64_t n_embd, int64_t* n_vocab, InputOutput* out);

// The output head: for each batch row t with want_logits, in order,
//   logits[o, :] = output · (rmsnorm(x[t]) * output_norm)
// x: [batch.size(), n_embd]; rows: scratch; logits: resized to [batch.n_outputs(), output.n_rows].
void compute_logits(const InputOutput& io, const Batch& batch, const float* x, int64_t n_embd, float rms_eps,
                    std::vector<float>* rows, std::vector<float>* logits, ThreadPool& pool);

}  // namespace sinan::model
