// Test fixture: a tiny cross-encoder reranker, made at test time from
// ../shared/models/bert-tiny-f32.gguf (a random bert encoder with the bge WordPiece vocab and two
// token types): every tensor and metadata key copied, bert.pooling_type set to 4 (rank), and a
// classifier head added with fixed pseudo-random values, as llama.cpp's converter names it:
//   cls.weight [64 x 64], cls.bias [64], cls.output.weight [64 x 1], cls.output.bias [1]   (F32)
// Shared by the model, engine, API and CLI tests (and, for its random-weight helpers, the nomic-bert
// fixture). Not thread-safe (writes files).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace sinan::test {

// n values uniform in [-scale, scale) from splitmix64 seeded with `seed`: the same on every platform.
std::vector<float> pseudo_random(size_t n, uint64_t seed, float scale);

// Adds an F32 tensor (shape in GGML order) to a fixture being written.
void add_f32(gguf::Writer& w, const char* name, std::vector<uint64_t> shape, const std::vector<float>& values);

// ../shared/models/bert-tiny-f32.gguf; tests skip with a message when it is absent.
std::string bert_tiny_path();

// Writes the reranker to `out_path`. with_head false writes the rank pooling type without the
// cls tensors (a broken file, for load tests). "" on success, else why it failed.
std::string write_reranker_fixture(const std::string& out_path, bool with_head = true);

// The fixture in a per-process temp directory (removed at exit), written on first call; "" when
// bert-tiny is absent (a failure to write it aborts the test binary: that is a broken test setup).
std::string reranker_fixture();

// Runs a numpy reference script of tests/golden-gen (`python3 SCRIPT MODEL < input > output`,
// Debian's /usr/bin/python3 where python3-numpy installs, else python3 on PATH), the files beside
// MODEL. Its parsed JSON output; nullopt with *skip set when python3 or numpy (exit 77) is missing,
// or with *error set when the script failed.
std::optional<nlohmann::json> run_python_reference(const std::string& script, const std::string& model,
                                                   const nlohmann::json& input, std::string* skip, std::string* error);

}  // namespace sinan::test
