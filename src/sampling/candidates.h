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
//     of the bucket where the mass crosses p. Both wait until something needs them: a draw by
//     proposals asks only on which side of that bucket its proposal lies (one pass), and sorts
//     only when a proposal lands in it.
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
    // exp per token, kept for the steps): softmax(). The same pass sums the weights per block for
    // draw_proposed; proposal_sums false leaves that out (a top-k list follows, whose draw does not
    // read them; draw_proposed over the whole vocabulary then sums them itself, a pass of adds).
    void reset(std::span<const float> logits, bool proposal_sums = true);
    // reset for a greedy pick or a score, which read only max_logit() and softmax(): the same pass
    // without storing the weights (608 KB at 152k tokens, written where nothing reads them), so
    // keep_top_p and draw_proposed must not follow until the next reset.
    void reset_sums_only(std::span<const float> logits);
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
    // the blocks in double: the same token on every platform for the same u. One exp pass over
    // the vocabulary (its block sums), then the exps of the block where the draw lands.
    int32_t draw(float temperature, double u);
    // Draws from the same distribution as draw(temperature, ...) (to float rounding), not the
    // same token for the same numbers, usually without an exp pass: with the whole vocabulary as
    // candidates and temperature <= 1, a proposal is drawn with reset()'s weights exp(logit -
    // max) and their block sums (u[2k], as draw() does at temperature 1 with every token kept)
    // and taken when u[2k + 1] < exp((logit - max) (1 / temperature - 1)) and the cut keeps it
    // (rejection sampling: the product is the weight at the temperature, and the factor is <= 1;
    // a pending top-p cut is asked about taken proposals only, one pass of two masked sums:
    // kept_by_proposal_draw). At temperature 0.6 and
    // top-p 0.95 about 1 proposal in 3.5 is taken on a flat 152k-token distribution (a random-
    // weight model's), 4 in 5 on a peaked one (bench_sampling's). After kProposals rejected, or
    // for a list, or above temperature 1: draw(temperature, u.back()), which keeps the
    // distribution exact (what is drawn after rejections still follows it). Every u in [0, 1).
    static constexpr size_t kProposals = 16;
    static constexpr size_t kDrawUniforms = 2 * kProposals + 1;
    int32_t draw_proposed(float temperature, const std::array<double, kDrawUniforms>& u);

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
    // reset's work, with or without storing the unit weights.
    void start(std::span<const float> logits, bool unit_weights, bool proposal_sums);
    // Top-p's cut before it is settled: the bucket where the mass crosses p (kNone: none pending,
    // cut_ is the whole story; kUnsearched: not searched yet, which keep_top_p leaves over the
    // whole vocabulary, where T(0) is softmax().z), with keep_top_p's p and scale, T(bucket) and
    // rest_target = (1 - p) T(0).
    struct Crossing {
        static constexpr int32_t kNone = -1, kUnsearched = -2;
        int32_t bucket = kNone;
        float p = 1.0f;
        float scale = 0.0f;
        double rest = 0.0;
        double rest_target = 0.0;
    };
    // The cut inside crossing's bucket (searched): its tokens collected into scratch (room for
    // n_vocab), sorted by rank only in the sub-bucket where the mass crosses.
    Candidate cut_in_crossing(const Crossing& crossing, Candidate* scratch) const;
    // crossing with its bucket searched (find_crossing_bucket) if it was not.
    Crossing searched(Crossing crossing) const;
    // Moves a pending top-p cut into cut_ (passes over the vocabulary to find the crossing bucket
    // if it was not, and a sort of part of that bucket). Every step that reads cut_ settles it
    // first, but a draw by proposals only when a proposal it takes lands in the crossing bucket.
    void settle_cut();
    // Whether token c (of the whole vocabulary) is a candidate.
    bool kept(Candidate c);
    // Whether a proposal the draw would take is a candidate, asking top-p's cut about its bucket
    // only while the crossing is unsearched: T at the bucket and the next, from one pass of
    // masses_beyond with two limits (t: the T measured in this draw, NaN where not).
    bool kept_by_proposal_draw(Candidate c, std::array<double, kMassBuckets + 1>& t);
    // keep_top_p's crossing bucket c (T(c) > rest_target >= T(c + 1)), with T(c) in *rest and
    // (1 - p) * T(0) in *rest_target; total: T(0) when known (softmax().z for the whole
    // vocabulary), else negative and measured.
    int32_t find_crossing_bucket(float p, float scale, double total, double* rest, double* rest_target) const;
    // The bucket of a logit at `scale` buckets per nat (vector_passes.h: the passes' own test).
    int32_t bucket_of(float logit, float scale) const;
    // Its first guess of the bucket where the mass crosses p (vector_passes.h's buckets
    // at `scale` per nat), from a sample of the tokens; mass: the estimated mass of each bucket.
    int32_t guess_crossing_bucket(float p, float scale, std::array<double, kMassBuckets>& mass) const;

    std::span<const float> logits_;
    Candidate cut_ = kKeepAll;  // the whole vocabulary: the last token kept (with crossing_, a bound)
    Crossing crossing_;         // a top-p cut not settled yet
    bool listed_ = false;
    size_t size_ = 0;                       // a list: its length in items_
    std::vector<Candidate> items_;          // [n_vocab] capacity: a list, or a crossing bucket
    mutable std::vector<Candidate> shown_;  // items() of the whole vocabulary
    std::vector<float> unit_weights_;       // [n_vocab]: exp(logit - max) of every token
    bool has_unit_weights_ = false;         // they are logits_' (reset, not reset_sums_only)
    std::vector<float> weights_;            // [n_vocab]: draw (a list's weights, or one block's)
    std::vector<float> block_sums_;         // [n_vocab / kDrawBlock + 1]: draw
    std::vector<float> unit_block_sums_;    // [n_vocab / kDrawBlock + 1]: the unit weights'
    bool has_unit_block_sums_ = false;      // they are unit_weights_' (reset, or draw_proposed)
    float max_ = 0.0f;                      // the best logit: set by reset, kept by every step
    float min_ = 0.0f;                      // the smallest logit that is not -inf
    SoftmaxSums softmax_{};
};

}  // namespace sinan::sampling
