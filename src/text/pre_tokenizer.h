// PreTokenizer: splits text into the pieces a byte-level BPE model encodes one by one, exactly as
// the Hugging Face tokenizer that a GGUF's `tokenizer.ggml.pre` names does it. Private to src/text.
//
// Each variant is the original tokenizer.json regex (or Sequence of Split regexes, applied in turn
// to every piece the previous one produced, "Isolated": matches and the gaps between them both
// become pieces), run with PCRE2 (UTF + UCP, JIT-compiled):
//   gpt-2, default           GPT-2's ByteLevel regex
//   llama-bpe (llama3)       Llama 3's regex; the BPE model ignores merges for whole-vocab words
//   qwen2, deepseek-r1-qwen  Qwen2's regex (single digits); text is NFC-normalised first (Qwen2's
//                            tokenizer.json has an NFC normalizer)
//   deepseek-llm, deepseek-coder, deepseek-v3   DeepSeek's Sequences of Splits
// One engine difference is removed: HF's Oniguruma takes \s as Unicode White_Space, PCRE2's UCP \s
// also matches U+180E; patterns are rewritten to use the explicit White_Space set. Input must be
// valid UTF-8 (the facade sanitises it).
//
// Thread-safety: immutable after create(); split() may run on many threads at once (match state
// is per thread). Copies share the compiled patterns.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sinan::text {

class PreTokenizer {
  public:
    // `name`: tokenizer.ggml.pre. Unknown names are an error listing the supported ones.
    static Result<PreTokenizer> create(std::string_view name);
    // The names create() accepts.
    static std::vector<std::string_view> supported_names();

    // Appends the pieces of `text` (valid UTF-8) to `out`, in order, as views into `text`; their
    // concatenation is `text`. No piece is empty.
    void split(std::string_view text, std::vector<std::string_view>* out) const;

    const std::string& name() const { return name_; }
    // Llama 3: a piece that is itself a vocab token is encoded whole, without merges.
    bool ignore_merges() const { return ignore_merges_; }
    // Qwen2: NFC-normalise each text fragment before splitting.
    bool nfc() const { return nfc_; }

    // The PCRE2 patterns in application order (after the \s rewrite), for tests and docs.
    std::vector<std::string> patterns() const;

  private:
    struct Regex;
    PreTokenizer() = default;

    std::string name_;
    std::vector<std::shared_ptr<const Regex>> regexes_;
    bool ignore_merges_ = false;
    bool nfc_ = false;
};

// Rewrites \s and \S of a pattern into the Unicode White_Space set (see above).
std::string expand_white_space_classes(std::string_view pattern);

}  // namespace sinan::text
