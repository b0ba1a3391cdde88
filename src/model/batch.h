// Batch: the tokens one forward pass processes. They may belong to several sequences (the
// serving engine puts every running sequence's next token, plus chunks of new prompts, into one
// batch), so each token carries its position and sequence id, and whether its logits are wanted.
// All vectors have the same length; tokens of one sequence appear in position order.
#pragma once

#include <cstdint>
#include <vector>

namespace sinan::model {

struct Batch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> positions;
    std::vector<int32_t> seq_ids;
    std::vector<uint8_t> want_logits;  // 1: produce this token's logits

    size_t size() const { return tokens.size(); }
    void clear() {
        tokens.clear();
        positions.clear();
        seq_ids.clear();
        want_logits.clear();
    }
    void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
        tokens.push_back(token);
        positions.push_back(pos);
        seq_ids.push_back(seq);
        want_logits.push_back(logits ? 1 : 0);
    }
    int64_t n_outputs() const {
        int64_t n = 0;
        for (uint8_t w : want_logits) n += w;
        return n;
    }
};

}  // namespace sinan::model
