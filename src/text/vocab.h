// Vocab: everything a tokenizer reads from a GGUF file's `tokenizer.ggml.*` metadata, checked and
// copied out of the file (a Vocab does not reference the gguf::File afterwards).
//
// Keys read (GGUF spelling kept, including llama.cpp's "seperator"):
//   model (required: "gpt2" byte-level BPE, "llama" SentencePiece BPE, "bert" WordPiece),
//   pre (pre-tokenizer name, default "default"), tokens (required), token_type, scores
//   (required for "llama"), merges (required for "gpt2"), bos/eos/eot/eom/unknown/seperator/
//   padding/cls/mask_token_id, add_bos_token, add_eos_token, add_space_prefix.
// A missing required key, an array of the wrong type or length, or a token id outside the vocab
// is an error whose message names the key. An id stored as 0xFFFFFFFF (or -1) means "none".
// Thread-safety: a plain value; immutable after load_vocab.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace sinan::text {

enum class VocabKind { kBpe, kSpm, kWordPiece };

// tokenizer.ggml.token_type values.
enum TokenType : int32_t {
    kTokenNormal = 1,
    kTokenUnknown = 2,
    kTokenControl = 3,
    kTokenUserDefined = 4,
    kTokenUnused = 5,
    kTokenByte = 6,
};

struct Vocab {
    VocabKind kind = VocabKind::kBpe;
    std::string model;  // tokenizer.ggml.model as written
    std::string pre;    // tokenizer.ggml.pre, "default" when absent

    std::vector<std::string> tokens;  // [n_vocab]
    std::vector<int32_t> types;       // [n_vocab] TokenType; all kTokenNormal when the key is absent
    std::vector<float> scores;        // [n_vocab] or empty
    std::vector<std::string> merges;  // "left right", rank = index; BPE only

    // -1 when the file names none.
    int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, unk_id = -1;
    int32_t sep_id = -1, pad_id = -1, cls_id = -1, mask_id = -1;

    bool add_bos = false;  // default: true for "llama", false otherwise
    bool add_eos = false;
    bool add_space_prefix = false;  // SPM only; default true for "llama"

    int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
};

Result<Vocab> load_vocab(const gguf::File& file);

}  // namespace sinan::text
