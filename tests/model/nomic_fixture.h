// Test fixture: a tiny nomic-bert encoder (GGUF architecture "nomic-bert", as llama.cpp's
// converter writes nomic-embed-text), made at test time from ../shared/models/bert-tiny-f32.gguf:
// its metadata with the "bert." keys renamed "nomic-bert.", pooling_type 1 (mean) and
// rope.freq_base 1000 (nomic-embed-text's); its token_embd, token_types, LayerNorms, attn_output,
// ffn_up and ffn_down weights copied (no biases, no position_embd); and per layer, with fixed
// pseudo-random F32 values:
//   blk.N.attn_qkv.weight [64 x 192]   scale 0.3: attention logits around 1, so positions matter
//   blk.N.ffn_gate.weight [64 x 128]
// Not thread-safe (writes files).
#pragma once

#include <string>

namespace sinan::test {

// Writes the fixture to `out_path`, leaving out the tensor named `omit` when given (a broken file,
// for load tests). "" on success, else why it failed (bert-tiny missing, I/O).
std::string write_nomic_fixture(const std::string& out_path, const std::string& omit = "");

}  // namespace sinan::test
