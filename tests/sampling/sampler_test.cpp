#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "test_reference.h"

namespace sinan::sampling {
namespace {

Sampler make_sampler(const SamplingParams& params, int32_t n_vocab) {
    Result<Sampler> s = Sampler::create(params, n_vocab);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
}

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
}

// The full distribution as the sampler reports it, through its top alternatives (n_vocab <= 20).
std::vector<double> reported_logprobs(Sampler& sampler, const std::vector<float>& logits) {
    const TokenChoice choice = sampler.sample(logits).value();
    std::vector<double> lp(logits.size(), -std::numeric_limits<double>::infinity());
    for (const TokenLogprob& t : choice.top_logprobs()) lp[t.token] = t.logprob;
    return lp;
}

void expect_logprobs_near(const std::vector<double>& actual, const std::vector<double>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
        if (std::isinf(expected[i])) {
            EXPECT_TRUE(std::isinf(actual[i])) << "token " << i;
        } else {
            EXPECT_NEAR(actual[i], expected[i], 2e-5) << "token " << i;
        }
    }
}

TEST(Sampler, GreedyTakesTheArgmaxWithTiesToTheLowestId) {
    Sampler s = make_sampler(greedy(), 6);
    EXPECT_EQ(s.sample(std::vector<float>{0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 1.9f})->token, 1);
    EXPECT_EQ(s.sample(std::vector<float>{0.1f, 2.0f, -1.0f, 2.5f, 0.0f, 2.5f})->token, 3);
    EXPECT_EQ(s.sample(std::vector<float>{7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f})->token, 0);
}

TEST(Sampler, GreedyOnALargeVocabularyMatchesTheReference) {
    const std::vector<float> logits = test::random_logits(151936, 21);
    SamplingParams p = greedy();
    p.top_k = 40;
    p.top_p = 0.5f;
    Sampler s = make_sampler(p, 151936);
    EXPECT_EQ(s.sample(logits)->token, test::ranked_ids(logits)[0]);
}

TEST(Sampler, LogprobOfTheChosenTokenIsTheLogSoftmaxOfTheModel) {
    const std::vector<float> logits = test::random_logits(32000, 22);
    const std::vector<double> ref = test::log_softmax(logits);
    SamplingParams p;
    p.seed = 1;
    p.temperature = 0.7f;  // temperature and truncation do not change the reported logprob
    p.top_k = 50;
    Sampler s = make_sampler(p, 32000);
    for (int i = 0; i < 20; ++i) {
        const TokenChoice c = s.sample(logits).value();
        EXPECT_NEAR(c.logprob, ref[c.token], 2e-5);
        EXPECT_NEAR(c.entropy, test::entropy(logits), 1e-4);
    }
}

TEST(Sampler, TopLogprobsAreTheBestTokensSortedWithTheirLogprobs) {
    std::vector<float> logits = test::random_logits(5000, 23);
    logits[4000] = logits[17] = 20.0f;  // a tie: 17 must come first
    const std::vector<double> ref = test::log_softmax(logits);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    SamplingParams p = greedy();
    p.n_logprobs = 20;
    Sampler s = make_sampler(p, 5000);
    const TokenChoice c = s.sample(logits).value();
    ASSERT_EQ(c.n_top, 20);
    EXPECT_EQ(c.token, 17);
    for (int32_t i = 0; i < 20; ++i) {
        EXPECT_EQ(c.top[i].token, ranked[i]) << "rank " << i;
        EXPECT_NEAR(c.top[i].logprob, ref[ranked[i]], 2e-5) << "rank " << i;
    }
}

TEST(Sampler, NoLogprobsRequestedReportsNoAlternatives) {
    Sampler s = make_sampler(greedy(), 4);
    EXPECT_EQ(s.sample(std::vector<float>{1, 2, 3, 4})->n_top, 0);
}

// Pearson's chi-square of observed counts against expected probabilities.
double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
    double chi = 0.0;
    for (size_t i = 0; i < counts.size(); ++i) {
        const double e = probs[i] * n;
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

TEST(Sampler, DrawsFollowSoftmaxOfLogitsOverTemperature) {
    const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 1.5f, 0.2f};
    constexpr int kDraws = 40000;
    constexpr double kChi2Df7P001 = 24.32;  // chi-square quantile, 7 degrees of freedom, p = 0.001
    double top_share_previous = 1.0;
    for (float t : {0.5f, 1.0f, 2.0f}) {
        std::vector<float> scaled;
        for (float l : logits) scaled.push_back(l / t);
        std::vector<double> probs;
        for (double lp : test::log_softmax(scaled)) probs.push_back(std::exp(lp));

        SamplingParams p;
        p.temperature = t;
        p.seed = 1234;
        Sampler s = make_sampler(p, 8);
        std::vector<int> counts(8, 0);
        for (int i = 0; i < kDraws; ++i) ++counts[s.sample(logits)->token];
        EXPECT_LT(chi_square(counts, probs, kDraws), kChi2Df7P001) << "T " << t;
        // Higher temperature flattens: the favourite's share falls.
        const double top_share = static_cast<double>(counts[4]) / kDraws;
        EXPECT_LT(top_share, top_share_previous) << "T " << t;
        top_share_previous = top_share;
    }
}

TEST(Sampler, TruncatedDrawsFollowTheRenormalisedDistribution) {
    // top_k = 3 keeps tokens 4, 6, 0; the draw is then softmax over those three.
    const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 1.5f, 0.2f};
    SamplingParams p;
    p.top_k = 3;
    p.seed = 99;
    Sampler s = make_sampler(p, 8);
    constexpr int kDraws = 30000;
    std::vector<int> counts(8, 0);
    for (int i = 0; i < kDraws; ++i) ++counts[s.sample(logits)->token];
    const std::vector<double> lp = test::log_softmax({1.0f, 2.0f, 1.5f});
    const std::vector<int> kept = {counts[0], counts[4], counts[6]};
    EXPECT_EQ(kept[0] + kept[1] + kept[2], kDraws);
    constexpr double kChi2Df2P001 = 13.82;
    EXPECT_LT(chi_square(kept, {std::exp(lp[0]), std::exp(lp[1]), std::exp(lp[2])}, kDraws), kChi2Df2P001);
}

TEST(Sampler, DrawsStayInsideTheTopPAndMinPSets) {
    const std::vector<float> logits = test::random_logits(1000, 24, 2.0f);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    const std::vector<double> lp = test::log_softmax(logits);
    // Reference sets, from the definitions.
    std::set<int32_t> top_p_set;
    double cum = 0.0;
    for (int32_t id : ranked) {
        top_p_set.insert(id);
        cum += std::exp(lp[id]);
        if (cum >= 0.6) break;
    }
    std::set<int32_t> min_p_set;
    for (int32_t id : ranked) {
        if (std::exp(lp[id] - lp[ranked[0]]) >= 0.2) min_p_set.insert(id);
    }
    SamplingParams p;
    p.seed = 7;
    p.top_p = 0.6f;
    Sampler sp = make_sampler(p, 1000);
    p.top_p = 1.0f;
    p.min_p = 0.2f;
    Sampler sm = make_sampler(p, 1000);
    std::set<int32_t> seen_p, seen_m;
    for (int i = 0; i < 3000; ++i) {
        seen_p.insert(sp.sample(logits)->token);
        seen_m.insert(sm.sample(logits)->token);
    }
    EXPECT_EQ(seen_p, top_p_set);
    EXPECT_EQ(seen_m, min_p_set);
}

TEST(Sampler, SameSeedReproducesAndDifferentSeedsDiffer) {
    const std::vector<float> logits = test::random_logits(1000, 25, 0.5f);
    auto run = [&](uint64_t seed) {
        SamplingParams p;
        p.seed = seed;
        p.top_p = 0.95f;
        Sampler s = make_sampler(p, 1000);
        std::vector<int32_t> tokens;
        for (int i = 0; i < 50; ++i) {
            const int32_t t = s.sample(logits)->token;
            s.accept(t);
            tokens.push_back(t);
        }
        return tokens;
    };
    EXPECT_EQ(run(42), run(42));
    EXPECT_NE(run(42), run(43));
}

TEST(Sampler, BiasOfMinus100BansAToken) {
    std::vector<float> logits = {5.0f, 1.0f, 0.0f, 4.9f};
    SamplingParams p = greedy();
    p.logit_bias = {{0, -100.0f}};
    p.n_logprobs = 4;
    Sampler s = make_sampler(p, 4);
    const TokenChoice c = s.sample(logits).value();
    EXPECT_EQ(c.token, 3);
    EXPECT_EQ(c.n_top, 3);  // a banned token is not an alternative
    for (const TokenLogprob& t : c.top_logprobs()) EXPECT_NE(t.token, 0);

    p.temperature = 5.0f;  // flat: without the ban token 0 would be drawn often
    p.seed = 3;
    Sampler hot = make_sampler(p, 4);
    for (int i = 0; i < 2000; ++i) EXPECT_NE(hot.sample(logits)->token, 0);
}

TEST(Sampler, BiasIsAddedToTheLogit) {
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
    SamplingParams p = greedy();
    p.logit_bias = {{0, 3.5f}, {2, -1.0f}};
    p.n_logprobs = 3;
    Sampler s = make_sampler(p, 3);
    expect_logprobs_near(reported_logprobs(s, logits), test::log_softmax({3.5f, 1.0f, 1.0f}));
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsInTheWindow) {
    const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f};
    SamplingParams p = greedy();
    p.repetition_penalty = 1.5f;
    p.penalty_last_n = 3;
    p.n_logprobs = 5;
    Sampler s = make_sampler(p, 5);
    s.accept_prompt(std::vector<int32_t>{3, 0});
    s.accept(1);
    s.accept(1);  // window now [0, 1, 1]: token 3 fell out
    expect_logprobs_near(reported_logprobs(s, logits),
                         test::log_softmax({2.0f / 1.5f, -1.0f * 1.5f, 0.5f, 3.0f, -2.0f}));
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
    const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
    SamplingParams p = greedy();
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    p.n_logprobs = 4;
    Sampler s = make_sampler(p, 4);
    s.accept_prompt(std::vector<int32_t>{2, 2, 2});  // prompt: not counted
    s.accept(3);
    s.accept(3);
    s.accept(3);
    s.accept(1);
    // logit -= presence * (count > 0) + frequency * count
    expect_logprobs_near(reported_logprobs(s, logits),
                         test::log_softmax({2.0f, -1.0f - 0.5f - 0.25f, 0.5f, 3.0f - 0.5f - 0.75f}));
}

TEST(Sampler, APromptLongerThanTheWindowLeavesOnlyItsTailPenalised) {
    const std::vector<float> logits = {2.0f, 2.0f, 2.0f, 2.0f};
    SamplingParams p = greedy();
    p.repetition_penalty = 2.0f;
    p.penalty_last_n = 2;
    p.n_logprobs = 4;
    Sampler s = make_sampler(p, 4);
    s.accept_prompt(std::vector<int32_t>{0, 1, 2, 3, 2});  // window: [3, 2]
    expect_logprobs_near(reported_logprobs(s, logits), test::log_softmax({2.0f, 2.0f, 1.0f, 1.0f}));
}

TEST(Sampler, ALowTemperatureDrawFindsTheOnlyTokenWithWeight) {
    // At T = 0.05 every token but 1500 has weight exp(-200) = 0: blocks before and after the one
    // holding it sum to 0 and must be skipped.
    std::vector<float> logits(4000, 0.0f);
    logits[1500] = 10.0f;
    SamplingParams p;
    p.temperature = 0.05f;
    p.seed = 11;
    Sampler s = make_sampler(p, 4000);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(logits)->token, 1500);
}

TEST(Sampler, StopTokensAreFlagged) {
    SamplingParams p = greedy();
    p.stop_tokens = {2, 3};
    Sampler s = make_sampler(p, 4);
    EXPECT_TRUE(s.sample(std::vector<float>{0, 0, 0, 1})->is_stop);
    EXPECT_FALSE(s.sample(std::vector<float>{0, 1, 0, 0})->is_stop);
}

TEST(Sampler, CreateRejectsOutOfRangeParameters) {
    auto rejects = [](auto mutate) {
        SamplingParams p;
        mutate(p);
        return !Sampler::create(p, 100).ok();
    };
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.temperature = -0.1f; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.top_p = 0.0f; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.top_p = 1.5f; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.min_p = std::nanf(""); }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.top_k = -1; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.repetition_penalty = 0.0f; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.presence_penalty = 2.5f; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.n_logprobs = 21; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.logit_bias = {{100, 1.0f}}; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.logit_bias = {{5, 101.0f}}; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.stop_tokens = {-1}; }));
    EXPECT_TRUE(rejects([](SamplingParams& p) { p.stop = {""}; }));
    EXPECT_FALSE(rejects([](SamplingParams&) {}));
    const Result<Sampler> r = Sampler::create(
        [] {
            SamplingParams p;
            p.top_p = 2.0f;
            return p;
        }(),
        100);
    EXPECT_NE(r.message().find("top_p"), std::string::npos) << r.message();
}

// A sequence of 40 steps over changing logits: each step's token, logprob and entropy.
struct Trace {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs, entropies;
    bool operator==(const Trace&) const = default;
};

Trace run_sequence(Sampler& s, const std::vector<int32_t>& prompt) {
    s.accept_prompt(prompt);
    Trace trace;
    for (uint32_t step = 0; step < 40; ++step) {
        const TokenChoice c = s.sample(test::random_logits(500, 100 + step, 1.0f)).value();
        s.accept(c.token);
        trace.tokens.push_back(c.token);
        trace.logprobs.push_back(c.logprob);
        trace.entropies.push_back(c.entropy);
    }
    return trace;
}

TEST(Sampler, RestartGivesWhatANewSamplerGives) {
    // Every piece of per-sequence state differs between the two settings: seed, penalties over
    // a window and over generated counts, a bias, truncation. Restarted after a sequence of the
    // first, the sampler must run the second as a new one does: nothing of the first carries over.
    SamplingParams first;
    first.seed = 1;
    first.top_k = 50;
    first.repetition_penalty = 1.3f;
    first.penalty_last_n = 16;
    first.logit_bias = {{7, 3.0f}};
    SamplingParams second;
    second.seed = 2;
    second.top_p = 0.9f;
    second.temperature = 0.7f;
    second.presence_penalty = 1.5f;
    second.frequency_penalty = 0.5f;
    second.penalty_last_n = 4;
    second.repetition_penalty = 1.1f;
    const std::vector<int32_t> prompt = {3, 9, 9, 27};

    Sampler fresh = make_sampler(second, 500);
    const Trace expected = run_sequence(fresh, prompt);

    Sampler reused = make_sampler(first, 500);
    run_sequence(reused, {1, 2, 3});
    ASSERT_TRUE(reused.restart(second).is_ok());
    EXPECT_EQ(reused.params().seed, second.seed);
    EXPECT_EQ(run_sequence(reused, prompt), expected);
}

TEST(Sampler, SampleInPlaceChoosesAsSampleDoesWithTheBiasAndPenaltiesInTheCallersBuffer) {
    // Every modification of the model distribution at once, with truncation, a draw and logprobs:
    // the same choices step by step, whether the sampler copies the logits or writes into them.
    SamplingParams p;
    p.seed = 5;
    p.temperature = 0.7f;
    p.top_p = 0.9f;
    p.repetition_penalty = 1.3f;
    p.penalty_last_n = 8;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    p.logit_bias = {{7, 2.0f}, {11, -100.0f}};
    p.n_logprobs = 5;
    Sampler copying = make_sampler(p, 500);
    Sampler in_place = make_sampler(p, 500);
    copying.accept_prompt(std::vector<int32_t>{3, 9, 9});
    in_place.accept_prompt(std::vector<int32_t>{3, 9, 9});
    for (uint32_t step = 0; step < 40; ++step) {
        const std::vector<float> logits = test::random_logits(500, 300 + step, 1.0f);
        std::vector<float> scratch = logits;
        const TokenChoice a = copying.sample(logits).value();
        const TokenChoice b = in_place.sample_in_place(scratch).value();
        ASSERT_EQ(a.token, b.token) << "step " << step;
        EXPECT_EQ(a.logprob, b.logprob);
        EXPECT_EQ(a.entropy, b.entropy);
        ASSERT_EQ(a.n_top, b.n_top);
        for (int32_t k = 0; k < a.n_top; ++k) {
            EXPECT_EQ(a.top[k].token, b.top[k].token);
            EXPECT_EQ(a.top[k].logprob, b.top[k].logprob);
        }
        // The bias went into the caller's buffer (token 7 before any penalty can reach it).
        if (step == 0) {
            EXPECT_EQ(scratch[7], logits[7] + 2.0f);
        }
        EXPECT_EQ(scratch[11], -std::numeric_limits<float>::infinity());
        copying.accept(a.token);
        in_place.accept(b.token);
    }
}

TEST(Sampler, ARejectedRestartLeavesTheSequenceAsItWas) {
    SamplingParams p;
    p.seed = 5;
    p.presence_penalty = 1.0f;
    Sampler twin = make_sampler(p, 500);
    Sampler s = make_sampler(p, 500);
    EXPECT_EQ(run_sequence(s, {1}), run_sequence(twin, {1}));
    SamplingParams bad = p;
    bad.top_p = 2.0f;
    const Status restarted = s.restart(bad);
    EXPECT_FALSE(restarted.is_ok());
    EXPECT_NE(restarted.message().find("top_p"), std::string::npos) << restarted.message();
    EXPECT_EQ(run_sequence(s, {}), run_sequence(twin, {}));  // its RNG and counts went on untouched
}

TEST(Sampler, NanAndPositiveInfinityLogitsCountAsRuledOut) {
    // A broken model's numbers: never drawn, never listed, and the distribution is that of the
    // finite logits (as if the others were -inf), with or without a copy for the penalties.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> logits = test::random_logits(300, 9, 1.0f);
    std::vector<float> finite = logits;
    for (size_t i : {3u, 50u, 51u, 299u}) {
        logits[i] = i % 2 ? nan : inf;
        finite[i] = -inf;
    }
    for (const bool penalties : {false, true}) {
        SamplingParams p = greedy();
        p.n_logprobs = 20;
        if (penalties) p.presence_penalty = 0.5f;
        Sampler s = make_sampler(p, 300);
        Sampler reference = make_sampler(p, 300);
        if (penalties) {
            s.accept(7);
            reference.accept(7);
        }
        const TokenChoice got = s.sample(logits).value();
        const TokenChoice want = reference.sample(finite).value();
        EXPECT_EQ(got.token, want.token);
        EXPECT_EQ(got.logprob, want.logprob);
        EXPECT_EQ(got.entropy, want.entropy);
        EXPECT_TRUE(std::isfinite(got.logprob) && std::isfinite(got.entropy));
        ASSERT_EQ(got.n_top, want.n_top);
        for (int32_t k = 0; k < got.n_top; ++k) {
            EXPECT_EQ(got.top[k].token, want.top[k].token);
            EXPECT_EQ(got.top[k].logprob, want.top[k].logprob);
        }
    }
    SamplingParams hot;
    hot.seed = 4;
    hot.temperature = 3.0f;
    hot.top_p = 0.99f;
    Sampler s = make_sampler(hot, 300);
    for (int i = 0; i < 3000; ++i) {
        const int32_t t = s.sample(logits)->token;
        EXPECT_TRUE(std::isfinite(logits[t])) << "drew token " << t;
    }
}

TEST(Sampler, NoFiniteLogitIsAnErrorThatSaysSo) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (const std::vector<float>& logits :
         {std::vector<float>(50, nan), std::vector<float>(50, -inf), std::vector<float>(50, inf)}) {
        for (const float temperature : {0.0f, 0.8f}) {
            SamplingParams p;
            p.temperature = temperature;
            Sampler s = make_sampler(p, 50);
            const Result<TokenChoice> r = s.sample(logits);
            ASSERT_FALSE(r.ok()) << "logit " << logits[0];
            EXPECT_NE(r.message().find("no finite logit"), std::string::npos) << r.message();
        }
    }
}

TEST(Sampler, ScoreIsTheModelsLogSoftmaxWithoutBiasOrPenaltiesAndDrawsNothing) {
    // A prompt token is scored as the model sees it: whatever bias, penalties and temperature the
    // request samples with, and without taking a draw from the sequence's random numbers.
    std::vector<float> logits = test::random_logits(5000, 31);
    logits[4000] = logits[17] = 20.0f;  // a tie among the alternatives: 17 first
    const std::vector<double> ref = test::log_softmax(logits);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    SamplingParams p;
    p.seed = 5;
    p.temperature = 0.7f;
    p.top_p = 0.9f;
    p.n_logprobs = 5;
    p.logit_bias = {{17, -100.0f}, {123, 30.0f}};
    p.presence_penalty = 2.0f;
    p.repetition_penalty = 1.5f;
    Sampler s = make_sampler(p, 5000);
    Sampler twin = make_sampler(p, 5000);
    s.accept(4000);
    twin.accept(4000);
    for (const int32_t token : {17, 123, 4000, 2500}) {
        const TokenChoice c = s.score(logits, token).value();
        EXPECT_EQ(c.token, token);
        EXPECT_NEAR(c.logprob, ref[token], 2e-5) << "token " << token;
        EXPECT_NEAR(c.entropy, test::entropy(logits), 1e-4);
        ASSERT_EQ(c.n_top, 5);
        for (int32_t i = 0; i < 5; ++i) {
            EXPECT_EQ(c.top[i].token, ranked[i]) << "rank " << i;
            EXPECT_NEAR(c.top[i].logprob, ref[ranked[i]], 2e-5) << "rank " << i;
        }
    }
    // No draw was taken and nothing recorded: the next samples are the twin's.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(s.sample(logits)->token, twin.sample(logits)->token);
}

TEST(Sampler, ScoreCountsBrokenLogitsAsRuledOutAndFailsWithoutAFiniteOne) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> logits = test::random_logits(300, 32, 1.0f);
    std::vector<float> finite = logits;
    logits[3] = nan;
    logits[50] = inf;
    finite[3] = finite[50] = -inf;
    const std::vector<double> ref = test::log_softmax(finite);
    Sampler s = make_sampler(greedy(), 300);
    EXPECT_NEAR(s.score(logits, 7)->logprob, ref[7], 2e-5);
    EXPECT_EQ(s.score(logits, 3)->logprob, -inf);
    EXPECT_EQ(s.score(logits, 50)->logprob, -inf);
    const std::vector<float> broken(300, nan);
    const Result<TokenChoice> none = s.score(broken, 7);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.status().message().find("no finite logit"), std::string::npos) << none.status().message();
}

TEST(Sampler, BanningEveryTokenIsRejected) {
    SamplingParams p;
    p.logit_bias = {{0, -100.0f}, {1, -100.0f}};
    EXPECT_FALSE(Sampler::create(p, 2).ok());
    EXPECT_TRUE(Sampler::create(p, 3).ok());
}

}  // namespace
}  // namespace sinan::sampling
