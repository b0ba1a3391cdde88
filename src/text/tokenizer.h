// Tokenizer: text <-> token ids for a GGUF model, with the exact results of the model's original
// Hugging Face tokenizer. The public face of every tokenizer in sinan:
//   tokenizer.ggml.model "gpt2"  -> byte-level BPE (bpe.h) after a regex pre-tokenizer (pre_tokenizer.h)
//   tokenizer.ggml.model "llama" -> SentencePiece-style BPE with byte fallback (spm.h)
//   tokenizer.ggml.model "bert"  -> WordPiece (wordpiece.h)
//
// Special and added tokens (token_type 3 control, 2 unknown, 4 user-defined) are found in the text
// before the model runs, leftmost first and the longest at a position, as HF's added-token
// matcher does. User-defined tokens ("<think>") are always matched; control and unknown tokens
// ("<｜end▁of▁sentence｜>", "<s>") only with parse_special. For SentencePiece vocabs a text
// fragment gets the leading "▁" only at the start of the text or right after a special token
// (llama.cpp's rule, tokenizer.ggml.add_space_prefix).
//
// Invalid UTF-8 given to encode() is replaced by U+FFFD first. decode() returns valid UTF-8:
// bytes that do not form complete characters, and ids outside [0, n_vocab), become U+FFFD. For
// token-by-token output use StreamingDetokenizer (detokenizer.h).
//
// Lifetime and thread-safety: from_gguf() copies everything it needs (the File may be closed
// afterwards). A Tokenizer is immutable, cheap to copy (shared state) and usable from any number
// of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "text/vocab.h"

namespace sinan::text {

class Tokenizer {
  public:
    // Errors name the metadata key at fault (see vocab.h) or the unsupported pre-tokenizer.
    static Result<Tokenizer> from_gguf(const gguf::File& file);
    static Result<Tokenizer> from_vocab(Vocab vocab);

    // add_special: BOS first / EOS last as tokenizer.ggml.add_bos_token / add_eos_token say
    // (WordPiece: [CLS] first and [SEP] last). parse_special: control tokens written in the text
    // become their ids (otherwise they are encoded as plain text).
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The text of `ids`; skip_special leaves out control, unknown and unused tokens. SentencePiece
    // and WordPiece: the leading space of the first piece is removed (it stands for the added "▁").
    std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

    // The bytes one token stands for, possibly part of a UTF-8 character; control and unknown
    // tokens give their text ("" with skip_special), unused tokens "", out-of-range ids U+FFFD.
    std::string token_to_piece(int32_t id, bool skip_special = false) const;
    // The token as stored in the vocab ("Ġthe", "▁the", "<0x0A>"); requires is_valid_id(id).
    const std::string& token_text(int32_t id) const;
    // tokenizer.ggml.token_type of the token; requires is_valid_id(id).
    TokenType token_type(int32_t id) const;
    // The id of the token whose vocab text is exactly `text`, if any ("<think>").
    std::optional<int32_t> find_token(std::string_view text) const;

    bool is_valid_id(int32_t id) const { return id >= 0 && id < n_vocab(); }
    int32_t n_vocab() const;
    // -1 when the vocab has none.
    int32_t bos_id() const;
    int32_t eos_id() const;
    int32_t eot_id() const;
    int32_t unk_id() const;
    int32_t sep_id() const;
    int32_t cls_id() const;
    int32_t pad_id() const;
    bool add_bos() const;
    bool add_eos() const;
    // "byte-level BPE (deepseek-r1-qwen)", "SentencePiece BPE (llama)", "WordPiece (bert)".
    std::string_view kind() const;
    const Vocab& vocab() const;
    // End of generation: EOS, EOT, EOM and the control tokens that end a turn (<|im_end|>,
    // <|eot_id|>, <|EOT|>, <｜end▁of▁sentence｜>, <|endoftext|> ...).
    bool is_eog(int32_t id) const;
    // Whether decoding drops one leading space of the first piece (SentencePiece with
    // add_space_prefix, WordPiece).
    bool strips_leading_space() const;

  private:
    struct State;
    explicit Tokenizer(std::shared_ptr<const State> s) : s_(std::move(s)) {}
    std::shared_ptr<const State> s_;
};

}  // namespace sinan::text
