// CandidateList: the tokens still in the running while a Sampler truncates the distribution, and
// the truncation steps themselves (top-k, top-p, min-p). Public so each step can be tested alone
// against a reference and reused by other samplers; a Sampler owns one and calls them in order.
//
// Order: "sorted" means by logit descending, ties to the lower token id (a strict total order, so
// the kept set and its order are the same on every standard library). Probabilities inside the
// steps are softmax(logits) over the current candidates at temperature 1, as in llama.cpp.
// Memory: `reset` sizes the buffer to n_vocab once; later resets with the same n_vocab do not
// allocate, nor does any step. Not thread-safe: one list per sampler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sinan::sampling {

struct Candidate {
    float logit;
    int32_t token;
};

// True when a ranks before b: higher logit, or equal logit and lower token id.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

class CandidateList {
  public:
    // All tokens whose logit is not -inf (banned), in id order. logits: [n_vocab].
    void reset(std::span<const float> logits);

    // Keeps the k best (sorted afterwards). k <= 0 or k >= size(): no change.
    void keep_top_k(int32_t k);
    // Keeps the shortest most-likely-first prefix whose probability mass is >= p (at least one
    // token). p >= 1: no change. A sorted list stays sorted; an unsorted one (the whole vocabulary)
    // is left in an order of its own, the same on every platform. O(n) plus a sort of the tokens
    // within 1/8 nat of the cut.
    void keep_top_p(float p);
    // Keeps tokens with p_i >= min_p * p_max, i.e. logit_i >= max_logit + log(min_p); order kept.
    // min_p <= 0: no change.
    void keep_min_p(float min_p);

    // exp((logit - max_logit()) / temperature) of each candidate in list order: [size()] in a
    // buffer the list owns, valid until the list next changes. temperature > 0.
    std::span<const float> weights(float temperature);

    float max_logit() const;  // size() > 0
    size_t size() const { return size_; }
    bool sorted() const { return sorted_; }
    std::span<const Candidate> items() const { return {items_.data(), size_}; }

  private:
    std::vector<Candidate> items_;  // [n_vocab] capacity; the first size_ are live
    std::vector<float> weights_;    // [n_vocab] capacity; see weights()
    size_t size_ = 0;
    float max_ = 0.0f;  // the best logit: set by reset, kept by every step
    bool sorted_ = false;
};

}  // namespace sinan::sampling
