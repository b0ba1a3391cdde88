// TokenCounts: how many times each token occurs in a window of a sequence, as a vector of
// (token, count) sorted by token. Private to src/sampling. The sampler's penalties visit only the
// distinct tokens seen (a few hundred), never the whole vocabulary, and a sequence does not carry
// an n_vocab-sized table. add/remove are O(distinct) (a memmove); the vector grows by doubling
// from the capacity reserved at construction, so steady-state generation does not allocate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "base/check.h"

namespace sinan::sampling::detail {

struct TokenCount {
    int32_t token;
    int32_t count;
};

class TokenCounts {
  public:
    explicit TokenCounts(size_t reserve = 0) { entries_.reserve(reserve); }

    void add(int32_t token) {
        auto it = find(token);
        if (it != entries_.end() && it->token == token) {
            ++it->count;
        } else {
            entries_.insert(it, {token, 1});
        }
    }

    void remove(int32_t token) {
        auto it = find(token);
        SINAN_CHECK(it != entries_.end() && it->token == token, "TokenCounts::remove of a token never added");
        if (--it->count == 0) entries_.erase(it);
    }

    std::span<const TokenCount> entries() const { return entries_; }

  private:
    std::vector<TokenCount>::iterator find(int32_t token) {
        return std::lower_bound(entries_.begin(), entries_.end(), token,
                                [](const TokenCount& e, int32_t t) { return e.token < t; });
    }

    std::vector<TokenCount> entries_;
};

}  // namespace sinan::sampling::detail
