// Parity of sinan's tokenizers with the original Hugging Face tokenizers, on llama.cpp's vocab
// test vectors (../shared/data/llamacpp-vocab-tests: ids produced by HF `encode(text,
// add_special_tokens=False)`), plus the facade's behaviour around special tokens and decoding.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer_test_util.h"

namespace sinan::text {
namespace {

using test::cached_tokenizer;
using test::read_vocab_cases;
using test::vocab_gguf_path;

std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string out;
    for (int32_t id : ids) out += " " + std::to_string(id);
    return out;
}

class VocabParity : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabParity, EveryCaseMatchesTheHuggingFaceIds) {
    const std::string name = GetParam();
    const std::vector<test::VocabCase> cases = read_vocab_cases(name);
    if (cases.empty()) GTEST_SKIP() << "no test vectors for " << name << " under " SINAN_SHARED_DIR;
    const std::string path = vocab_gguf_path(name);
    if (path.empty()) GTEST_SKIP() << "no vocab GGUF for " << name << " in " SINAN_SHARED_DIR " (llama.cpp ships none)";
    const Tokenizer* tok = cached_tokenizer(path);
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(cases.size(), 46u);
    for (const test::VocabCase& c : cases) {
        EXPECT_EQ(ids_str(tok->encode(c.text, /*add_special=*/false, /*parse_special=*/false)), ids_str(c.ids))
            << name << ": '" << escaped(c.text) << "'";
    }
}

TEST_P(VocabParity, DecodeOfTheReferenceIdsGivesTheTextBack) {
    const std::string name = GetParam();
    const std::vector<test::VocabCase> cases = read_vocab_cases(name);
    const std::string path = vocab_gguf_path(name);
    if (cases.empty() || path.empty()) GTEST_SKIP() << "no vectors or vocab for " << name;
    const Tokenizer* tok = cached_tokenizer(path);
    ASSERT_NE(tok, nullptr);
    if (tok->vocab().kind != VocabKind::kBpe) GTEST_SKIP() << "round trip is exact for byte-level BPE only";
    for (const test::VocabCase& c : cases) {
        EXPECT_EQ(escaped(tok->decode(c.ids)), escaped(c.text)) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(LlamaCppVectors, VocabParity,
                         ::testing::Values("deepseek-r1-qwen", "qwen2", "deepseek-v3", "deepseek-llm", "deepseek-coder",
                                           "gpt-2", "llama-bpe", "llama-spm"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n) {
                                 if (ch == '-') ch = '_';
                             }
                             return n;
                         });

}  // namespace
}  // namespace sinan::text
