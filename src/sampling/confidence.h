// ConfidenceTracker: a confidence score in [0, 1] for a whole answer, from the per-token numbers
// the Sampler already computes (TokenChoice::logprob and ::entropy), so it costs O(1) per token.
// Feed it the tokens of the answer (for a reasoning model, the tokens after the thinking block)
// as they are accepted; read `confidence()` at any time. docs/sampling.md gives the definitions.
//
//   geometric_mean_prob = exp(mean logprob)                 how likely the model found its own answer
//   min_prob            = min_i p(token_i)                  the weakest single step (one guessed digit)
//   certainty           = 1 - mean_i H_i / log(n_vocab)     how concentrated each step's distribution was
//   score               = geometric_mean_prob^0.5 * certainty^0.25 * min_prob^0.25
//
// A weighted geometric mean: each part is in [0, 1], the score is 1 only when every step was
// certain, and any one part near 0 pulls it near 0 (an answer is as trustworthy as its weakest
// signal); the likelihood gets half the weight because it is the measure that is calibrated
// against correctness in the literature, the other two guard against what an average hides.
// With no tokens every field is 0: no evidence, no confidence.
// Plain value type; not thread-safe (one per answer).
#pragma once

#include <cstdint>

#include "sampling/sampler.h"

namespace sinan::sampling {

struct Confidence {
    int64_t n_tokens = 0;
    double mean_logprob = 0.0;         // nats, <= 0
    double geometric_mean_prob = 0.0;  // exp(mean_logprob), in [0, 1]
    double min_prob = 0.0;             // in [0, 1]
    double certainty = 0.0;            // 1 - mean normalised entropy, in [0, 1]
    double score = 0.0;                // combined, in [0, 1]
};

class ConfidenceTracker {
  public:
    explicit ConfidenceTracker(int32_t n_vocab);

    // logprob: natural log of the chosen token's probability; entropy: of that step's
    // distribution, in nats.
    void add(float logprob, float entropy);
    void add(const TokenChoice& choice) { add(choice.logprob, choice.entropy); }
    void reset();

    Confidence confidence() const;

  private:
    double log_n_vocab_;
    int64_t n_tokens_ = 0;
    double sum_logprob_ = 0.0;
    double min_logprob_ = 0.0;
    double sum_normalised_entropy_ = 0.0;
};

}  // namespace sinan::sampling
