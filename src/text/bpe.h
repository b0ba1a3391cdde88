// BpeModel: byte-level BPE (GPT-2 style), the model of GGUF files whose `tokenizer.ggml.model` is
// "gpt2" (Qwen2 / DeepSeek-R1-Distill-Qwen, DeepSeek-V3/R1, Llama 3, GPT-2 ...). Private to src/text:
// the Tokenizer facade (tokenizer.h) pre-tokenizes text (pre_tokenizer.h) and handles special tokens.
//
// Vocab tokens are stored in GPT-2's byte-to-unicode alphabet (a space is "Ġ", a newline "Ċ"); this
// model maps them back to bytes once at create() and works on bytes and token ids from then on.
// Encoding one piece: each byte starts as its own token; the adjacent pair with the lowest merge
// rank (tokenizer.ggml.merges index) is merged, the leftmost one among equal ranks, until no pair
// has a merge, as Hugging Face's BPE does. Cost: O(n log n) in the piece's bytes (a heap of
// candidate pairs over a linked list of symbols).
//
// Lifetime and thread-safety: create() copies what it needs; immutable afterwards, cheap to copy
// (tables are shared), usable from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "text/vocab.h"

namespace sinan::text {

class BpeModel {
  public:
    // Errors: a byte without a single-character token, a merge that is not "left right".
    // Merges whose parts or result are not tokens are ignored (they can never fire).
    static Result<BpeModel> create(const Vocab& vocab);

    // Appends the ids of one pre-tokenized piece (any bytes). ignore_merges: when the whole piece
    // is a normal token, that token is the result (Llama 3).
    void encode_piece(std::string_view piece, bool ignore_merges, std::vector<int32_t>* out) const;

    // The bytes a normal token stands for ("Ġthe" -> " the"). Requires 0 <= id < n_vocab.
    const std::string& token_bytes(int32_t id) const;

  private:
    struct Tables;
    explicit BpeModel(std::shared_ptr<const Tables> t) : tables_(std::move(t)) {}
    std::shared_ptr<const Tables> tables_;
};

// GPT-2's byte <-> unicode alphabet: printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in order. byte_to_unicode(0x20) == U+0120 'Ġ'.
uint32_t byte_to_unicode(uint8_t b);
// The byte a code point stands for, or -1 when it is not in the alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace sinan::text
