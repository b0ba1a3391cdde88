// SpmModel: SentencePiece-style BPE with byte fallback, the tokenizer of GGUF files whose
// `tokenizer.ggml.model` is "llama" (Llama 1/2, Mistral, TinyStories ...). Private to src/text: the
// Tokenizer facade (tokenizer.h) builds one and handles special tokens, BOS/EOS and streaming decode.
//
// Encoding, as SentencePiece's BPE mode and llama.cpp's SPM tokenizer do it: spaces become U+2581
// ("▁"), the text is split into UTF-8 characters, and the adjacent pair whose concatenation is a
// vocabulary token with the highest score is merged, again and again (ties: the leftmost pair),
// until no pair forms a token. Each remaining symbol is its token; a symbol that is not in the
// vocabulary (a character the vocabulary lacks) becomes one `<0xAB>` byte token per UTF-8 byte, or
// the unknown token when the vocabulary has no byte token for that byte. Cost: O(n log n) in the
// number of characters.
//
// Lifetime and thread-safety: create() copies what it needs; a model is immutable afterwards, cheap
// to copy (the tables are shared), and may be used from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sinan::text {

class SpmModel {
  public:
    // tokens, scores: tokenizer.ggml.tokens / tokenizer.ggml.scores; types: tokenizer.ggml.token_type
    // (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte "<0xAB>"); unk_id:
    // tokenizer.ggml.unknown_token_id or -1. All three spans have one entry per token id.
    // Errors: sizes differ, no tokens, unk_id out of range, or a byte that has neither a "<0xAB>"
    // token nor an unknown token to fall back to.
    static Result<SpmModel> create(std::span<const std::string_view> tokens, std::span<const float> scores,
                                   std::span<const int32_t> types, int32_t unk_id);

    // Appends the ids of plain `text` (no special tokens in it) to `out`. Spaces become U+2581; when
    // add_space_prefix, one U+2581 is prepended first (the caller decides per fragment, as
    // llama.cpp does). Empty text appends nothing, even with add_space_prefix (as llama.cpp).
    // Invalid UTF-8 is not an error: a stray byte is a one-byte symbol and falls back to its byte token.
    void encode(std::string_view text, bool add_space_prefix, std::vector<int32_t>* out) const;

    // The bytes token `id` stands for in decoded text: normal tokens with U+2581 -> ' ', byte tokens
    // "<0xAB>" -> the single byte 0xAB, the unknown token -> U+2585 "▅" (as llama.cpp shows it),
    // unused tokens -> "", control and user-defined tokens -> their text unchanged (whether to show
    // them is the caller's choice). Requires 0 <= id < n_tokens().
    std::string decode_token(int32_t id) const;

    int32_t n_tokens() const;

  private:
    struct Tables;
    explicit SpmModel(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}

    std::shared_ptr<const Tables> tables_;
};

}  // namespace sinan::text
