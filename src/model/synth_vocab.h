// A synthetic byte-level BPE vocabulary (GPT-2 style, as DeepSeek-R1 distills use) of a given
// size, for synthetic models: the 256 byte symbols, deterministic merges of earlier tokens up to
// the requested size, then the DeepSeek-R1 special tokens. It is a valid vocabulary (every merge
// result is a token; every text encodes), not a trained one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinan::model {

struct SynthVocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> token_types;  // 1 normal, 3 control
    std::vector<std::string> merges;   // "left right", by rank
    int32_t bos_id = -1;
    int32_t eos_id = -1;
    int32_t pad_id = -1;
    std::string chat_template;         // DeepSeek-R1 conversation format, written for sinan
};

// n_vocab >= 256 + number of special tokens (12). Same output for the same arguments.
SynthVocab make_synth_vocab(uint32_t n_vocab, uint64_t seed);

}  // namespace sinan::model
