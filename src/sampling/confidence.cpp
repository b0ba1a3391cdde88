#include "sampling/confidence.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace sinan::sampling {

ConfidenceTracker::ConfidenceTracker(int32_t n_vocab) : log_n_vocab_(std::log(static_cast<double>(n_vocab))) {
    SINAN_CHECK(n_vocab > 0, "ConfidenceTracker: n_vocab must be positive");
}

void ConfidenceTracker::add(float logprob, float entropy) {
    const double lp = std::min(0.0, static_cast<double>(logprob));  // float rounding can give +1e-7
    min_logprob_ = n_tokens_ == 0 ? lp : std::min(min_logprob_, lp);
    sum_logprob_ += lp;
    // A one-token vocabulary has no uncertainty to normalise: count it as fully certain.
    const double h = log_n_vocab_ > 0.0 ? static_cast<double>(entropy) / log_n_vocab_ : 0.0;
    sum_normalised_entropy_ += std::clamp(h, 0.0, 1.0);
    ++n_tokens_;
}

void ConfidenceTracker::reset() {
    n_tokens_ = 0;
    sum_logprob_ = 0.0;
    min_logprob_ = 0.0;
    sum_normalised_entropy_ = 0.0;
}

Confidence ConfidenceTracker::confidence() const {
    Confidence c;
    if (n_tokens_ == 0) return c;
    const double n = static_cast<double>(n_tokens_);
    c.n_tokens = n_tokens_;
    c.mean_logprob = sum_logprob_ / n;
    c.geometric_mean_prob = std::exp(c.mean_logprob);
    c.min_prob = std::exp(min_logprob_);
    c.certainty = std::clamp(1.0 - sum_normalised_entropy_ / n, 0.0, 1.0);
    c.score = std::pow(c.geometric_mean_prob, 0.5) * std::pow(c.certainty, 0.25) * std::pow(c.min_prob, 0.25);
    return c;
}

}  // namespace sinan::sampling
