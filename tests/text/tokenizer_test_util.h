// Shared helpers of the tokenizer tests: the llama.cpp vocab test vectors and cached tokenizers.
#pragma once

#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace sinan::text::test {

struct VocabCase {
    std::string text;
    std::vector<int32_t> ids;  // from the original Hugging Face tokenizer, no special tokens added
};

// The GGUF holding the vocab for a test-vector name ("qwen2" -> the deepseek-r1-qwen vocab), or ""
// when it is not in ../shared.
std::string vocab_gguf_path(const std::string& name);

// Reads ggml-vocab-<name>.gguf.inp/.out: strings separated by "\n__ggml_vocab_test__\n" (the
// separator's newlines are not part of the strings, as in llama.cpp's test-tokenizer-0), one line
// of ids per string. Empty when the files are absent.
std::vector<VocabCase> read_vocab_cases(const std::string& name);

// The tokenizer of a GGUF, loaded once per process; nullptr when the file is absent. Aborts the
// test (ADD_FAILURE) when the file exists but does not load.
const Tokenizer* cached_tokenizer(const std::string& gguf_path);

}  // namespace sinan::text::test
