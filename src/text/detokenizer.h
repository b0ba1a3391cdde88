// StreamingDetokenizer: turns token ids, pushed one at a time as a model generates them, into
// text that is always complete UTF-8. A character whose bytes are split across tokens (byte-level
// BPE and SentencePiece byte tokens do this for CJK and emoji) is held back until its last byte
// arrives; bytes that can never complete a character are given out as U+FFFD at once, so output
// never stalls. SentencePiece/WordPiece: the leading space of the first piece is dropped, as
// Tokenizer::decode does, so the concatenated output equals decode() of all ids (when every
// character is complete).
//
// Lifetime: holds a reference to the Tokenizer's shared state (a copy); one per sequence. Not
// thread-safe: one producer at a time. Memory: at most 3 held-back bytes plus one token's text.
#pragma once

#include <cstdint>
#include <string>

#include "text/tokenizer.h"

namespace sinan::text {

class StreamingDetokenizer {
  public:
    // skip_special: control tokens (BOS, EOS, <|im_end|> ...) produce no text.
    // continues_text: the ids continue a text that is already there (generation after a
    // prompt), so the first piece keeps its leading space.
    explicit StreamingDetokenizer(Tokenizer tokenizer, bool skip_special = true, bool continues_text = false);

    // Adds one token; returns the text that is complete now (possibly "").
    std::string push(int32_t id);
    // Ends the stream: returns what is held back (an unfinished character becomes U+FFFD) and
    // resets the detokenizer for a new stream.
    std::string flush();

  private:
    Tokenizer tokenizer_;
    bool skip_special_;
    bool continues_text_;
    bool at_start_;
    std::string pending_;  // bytes of an unfinished character
};

}  // namespace sinan::text
