// WordPieceModel: BERT's WordPiece, the tokenizer of GGUF files whose `tokenizer.ggml.model` is
// "bert". Private to src/text: the Tokenizer facade (tokenizer.h) builds one and adds [CLS]/[SEP].
//
// The vocabulary is the one llama.cpp's converter writes: a word-initial piece "foo" is stored as
// "▁foo" (U+2581) and a continuation piece "##bar" as "bar".
//
// Encoding follows llama.cpp's WPM tokenizer (its reference for BERT models):
//  1. Each code point is replaced by the first code point of its canonical decomposition (NFD):
//     "é" -> "e", so accents of precomposed letters are dropped; combining marks that are already
//     separate code points in the input stay.
//  2. White space (categories Z*, \t \n \v \f \r, U+0085) ends a word; NUL, U+FFFD and controls
//     (categories Cc, Cf, Cs, Co) are dropped; everything else is lowercased (simple case mapping).
//  3. Punctuation (P*), ASCII symbols (S* below U+007F) and CJK ideographs are words of their own.
//  4. Each word is split greedily, longest match first, into "▁"+word-start and continuation
//     pieces; a word that cannot be split completely becomes the unknown token.
// Unicode data (decomposition, categories, case) comes from utf8proc. Invalid UTF-8 bytes are dropped.
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

class WordPieceModel {
  public:
    // tokens: tokenizer.ggml.tokens (one entry per id); unk_id: tokenizer.ggml.unknown_token_id.
    // Errors: no tokens, or unk_id not a token id (WordPiece needs an unknown token).
    static Result<WordPieceModel> create(std::span<const std::string_view> tokens, int32_t unk_id);

    // Normalises `text` and appends its WordPiece ids to `out` (no [CLS]/[SEP]).
    void encode(std::string_view text, std::vector<int32_t>* out) const;

    // "▁foo" -> " foo", "bar" -> "bar" (the caller strips a leading space at the start of a text).
    // Requires 0 <= id < n_tokens().
    std::string decode_token(int32_t id) const;

    int32_t n_tokens() const;

  private:
    struct Tables;
    explicit WordPieceModel(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}

    std::shared_ptr<const Tables> tables_;
};

}  // namespace sinan::text
