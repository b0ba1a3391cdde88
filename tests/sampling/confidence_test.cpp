#include "sampling/confidence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sampling/sampler.h"
#include "test_reference.h"

namespace sinan::sampling {
namespace {

constexpr int32_t kVocab = 4096;

// Confidence of an answer of n tokens sampled (with a seed) from the same logits every step.
Confidence answer_confidence(const std::vector<float>& logits, int n) {
    SamplingParams p;
    p.seed = 5;
    Result<Sampler> s = Sampler::create(p, kVocab);
    EXPECT_TRUE(s.ok());
    ConfidenceTracker tracker(kVocab);
    for (int i = 0; i < n; ++i) tracker.add(s->sample(logits).value());
    return tracker.confidence();
}

void expect_in_unit_interval(const Confidence& c) {
    for (double v : {c.geometric_mean_prob, c.min_prob, c.certainty, c.score}) {
        EXPECT_GE(v, 0.0);
        EXPECT_LE(v, 1.0);
    }
}

TEST(ConfidenceTracker, APeakedDistributionScoresHigherThanAForcedGuess) {
    std::vector<float> peaked = test::random_logits(kVocab, 31, 1.0f);
    peaked[7] = 20.0f;                                                      // the model knows the answer
    const std::vector<float> flat = test::random_logits(kVocab, 32, 0.1f);  // it has to guess
    const Confidence sure = answer_confidence(peaked, 30);
    const Confidence guess = answer_confidence(flat, 30);
    expect_in_unit_interval(sure);
    expect_in_unit_interval(guess);
    EXPECT_GT(sure.score, 0.9);
    EXPECT_LT(guess.score, 0.1);
    EXPECT_GT(sure.geometric_mean_prob, guess.geometric_mean_prob);
    EXPECT_GT(sure.min_prob, guess.min_prob);
    EXPECT_GT(sure.certainty, guess.certainty);
}

TEST(ConfidenceTracker, PartsFollowTheirDefinitions) {
    ConfidenceTracker tracker(kVocab);
    const std::vector<double> logprobs = {-0.1, -0.7, -0.02, -1.5};
    const std::vector<double> entropies = {0.5, 2.0, 0.1, 3.0};
    for (size_t i = 0; i < logprobs.size(); ++i) {
        tracker.add(static_cast<float>(logprobs[i]), static_cast<float>(entropies[i]));
    }
    const Confidence c = tracker.confidence();
    const double mean_lp = (-0.1 - 0.7 - 0.02 - 1.5) / 4;
    const double certainty = 1.0 - (0.5 + 2.0 + 0.1 + 3.0) / 4 / std::log(double{kVocab});
    EXPECT_EQ(c.n_tokens, 4);
    EXPECT_NEAR(c.mean_logprob, mean_lp, 1e-6);
    EXPECT_NEAR(c.geometric_mean_prob, std::exp(mean_lp), 1e-6);
    EXPECT_NEAR(c.min_prob, std::exp(-1.5), 1e-6);
    EXPECT_NEAR(c.certainty, certainty, 1e-6);
    EXPECT_NEAR(c.score, std::pow(std::exp(mean_lp), 0.5) * std::pow(certainty, 0.25) * std::pow(std::exp(-1.5), 0.25),
                1e-6);
}

TEST(ConfidenceTracker, AUniformDistributionHasNoCertainty) {
    const std::vector<float> uniform(kVocab, 0.25f);
    const Confidence c = answer_confidence(uniform, 5);
    EXPECT_NEAR(c.certainty, 0.0, 1e-5);
    EXPECT_NEAR(c.geometric_mean_prob, 1.0 / kVocab, 1e-7);
    EXPECT_NEAR(c.score, 0.0, 1e-3);
}

TEST(ConfidenceTracker, NoTokensMeansNoConfidenceAndResetForgets) {
    ConfidenceTracker tracker(kVocab);
    EXPECT_EQ(tracker.confidence().score, 0.0);
    tracker.add(-0.01f, 0.01f);
    EXPECT_GT(tracker.confidence().score, 0.5);
    tracker.reset();
    EXPECT_EQ(tracker.confidence().n_tokens, 0);
    EXPECT_EQ(tracker.confidence().score, 0.0);
}

}  // namespace
}  // namespace sinan::sampling
