// CandidateList: the tokens still in the running while a Sampler truncates the distribution, the
// truncation steps themselves (top-k, top-p, min-p) and the final draw. Public so each step can be
// tested alone against a reference and reused by other samplers; a Sampler owns one and calls
// them in order.
//
// Order: "ranked" means by logit descending, ties to the lower token id (a strict total order, so
// the kept set and its order are the same on every standard library). Probabilities inside the
// steps are softmax(logits) over the current candidates at temperature 1, as in llama.cpp.
//
// Two forms, which differ only in cost:
//   - the whole vocabulary (after reset, and after top-p and min-p without top-k): the candidates
//     are the tokens of the logits that rank at or before a cut token, in id order. Nothing is
//     copied; each step moves the cut with passes over the logits (vector_passes.h). Top-p finds
//     its cut with sums of the mass by distance below the best logit and sorts only the tokens
//     of the bucket where the mass crosses p.
//   - a list (after top-k): the k best, ranked; later steps shorten it.
// Memory: `reserve` or the first `reset` sizes the buffers to n_vocab; later resets with the same
// n_vocab do not allocate, nor does any step or draw. Not thread-safe: one list per sampler.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/vector_passes.h"

namespace sinan::sampling {

// True when a ranks before b: higher logit, or equal logit and lower token id.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

class CandidateList {
  public:
    // All tokens whose logit is not -inf (banned). logits: [n_vocab], not copied: they must stay
    // alive and unchanged until the next reset. Summarises the distribution in the same pass (one
    // exp per token, kept for the steps): softmax().
    void reset(std::span<const float> logits);
    // Sizes the buffers for n_vocab logits now, so that no reset with that many allocates.
    void reserve(size_t n_vocab);

    // Keeps the k best (a ranked list afterwards). k <= 0 or k >= size(): no change.
    void keep_top_k(int32_t k);
    // Keeps the shortest most-likely-first prefix whose probability mass is >= p (at least one
    // token). p >= 1: no change.
    void keep_top_p(float p);
    // Keeps tokens with p_i >= min_p * p_max, i.e. logit_i >= max_logit + log(min_p). min_p <= 0:
    // no change.
    void keep_min_p(float min_p);

    // Draws one candidate with weight exp((logit - max_logit()) / temperature): the first whose
    // cumulative weight, in list order (id order for the whole vocabulary), passes u * total
    // weight. u in [0, 1), temperature > 0. Weights are summed per block of 256 in float lanes,
    // the blocks in double: the same token on every platform for the same u.
    int32_t draw(float temperature, double u);

    float max_logit() const { return max_; }  // -inf when every token is banned
    // Of the logits given to reset, with d_i = logit_i - max_logit(): z = sum exp(d_i), s = sum
    // exp(d_i) d_i (what log-probabilities and the entropy need).
    const SoftmaxSums& softmax() const { return softmax_; }
    // Whether the candidates are a ranked list (after top-k) rather than the vocabulary in id order.
    bool sorted() const { return listed_; }
    // The candidates in their order. For the whole vocabulary this lists them (O(n_vocab), may
    // allocate): for inspection; the steps and the draw never need it.
    std::span<const Candidate> items() const;
    size_t size() const { return items().size(); }

  private:
    // keep_top_p's crossing bucket c (T(c) > rest_target >= T(c + 1)), with T(c) in *rest and
    // (1 - p) * T(0) in *rest_target.
    int32_t find_crossing_bucket(float p, float scale, double* rest, double* rest_target) const;
    // Its first guess of the bucket where the mass crosses p (vector_passes.h's buckets
    // at `scale` per nat), from a sample of the tokens; mass: the estimated mass of each bucket.
    int32_t guess_crossing_bucket(float p, float scale, std::array<double, kMassBuckets>& mass) const;

    std::span<const float> logits_;
    Candidate cut_ = kKeepAll;  // the whole vocabulary: the last token kept
    bool listed_ = false;
    size_t size_ = 0;                       // a list: its length in items_
    std::vector<Candidate> items_;          // [n_vocab] capacity: a list, or a crossing bucket
    mutable std::vector<Candidate> shown_;  // items() of the whole vocabulary
    std::vector<float> unit_weights_;       // [n_vocab]: exp(logit - max) of every token
    std::vector<float> weights_;            // [n_vocab]: draw (a list's weights, or one block's)
    std::vector<float> block_sums_;         // [n_vocab / 256 + 1]: draw
    float max_ = 0.0f;                      // the best logit: set by reset, kept by every step
    float min_ = 0.0f;                      // the smallest logit that is not -inf
    SoftmaxSums softmax_{};
};

}  // namespace sinan::sampling
