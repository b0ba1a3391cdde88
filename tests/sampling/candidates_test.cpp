#include "sampling/candidates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sampling/fast_exp.h"
#include "test_reference.h"

namespace sinan::sampling {
namespace {

std::vector<int32_t> ids_of(const CandidateList& list) {
    std::vector<int32_t> ids;
    for (const Candidate& c : list.items()) ids.push_back(c.token);
    return ids;
}

std::vector<int32_t> sorted(std::vector<int32_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

// Reference top-p: the shortest prefix of the ranked distribution whose mass reaches p.
std::vector<int32_t> reference_top_p(const std::vector<float>& logits, const std::vector<int32_t>& allowed, double p) {
    std::vector<float> sub;
    for (int32_t id : allowed) sub.push_back(logits[id]);
    const std::vector<double> lp = test::log_softmax(sub);
    std::vector<int32_t> kept;
    double cum = 0.0;
    for (size_t i = 0; i < allowed.size(); ++i) {  // `allowed` is already ranked
        kept.push_back(allowed[i]);
        cum += std::exp(lp[i]);
        if (cum >= p) break;
    }
    return kept;
}

// The draw over the whole vocabulary as candidates.h defines it, spelled out: weights
// w_i = exp((logit_i - max) / T) (the passes' exp) of the kept tokens, summed per block of 256 in
// 16 float lanes added as a tree, the blocks in double; the block where u * total falls, then the
// first token in it whose cumulative weight passes u * total (the block's last token with weight
// when the in-block sum rounds short of it). The same u must give this token exactly.
std::vector<float> reference_weights(const CandidateList& list, size_t n_vocab, float temperature) {
    const float inv_t = 1.0f / temperature;
    std::vector<float> w(n_vocab, 0.0f);
    for (const Candidate& c : list.items()) w[c.token] = detail::fast_exp((c.logit - list.max_logit()) * inv_t);
    return w;
}

int32_t reference_draw(const std::vector<float>& w, double u) {
    constexpr size_t kBlock = 256;
    const size_t n = w.size();
    std::vector<float> sums;
    for (size_t b = 0; b < n; b += kBlock) {
        float lanes[16] = {};
        for (size_t i = b; i < std::min(n, b + kBlock); ++i) lanes[(i - b) % 16] += w[i];
        for (size_t width = 8; width > 0; width /= 2) {
            for (size_t j = 0; j < width; ++j) lanes[j] += lanes[j + width];
        }
        sums.push_back(lanes[0]);
    }
    double total = 0.0;
    for (float s : sums) total += s;
    const double target = u * total;
    double cum = 0.0;
    for (size_t b = 0; b < sums.size(); ++b) {
        if (sums[b] == 0.0f) continue;
        if (target >= cum + sums[b] && b + 1 < sums.size()) {
            cum += sums[b];
            continue;
        }
        int32_t last = -1;
        for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
            if (w[i] == 0.0f) continue;
            cum += w[i];
            last = static_cast<int32_t>(i);
            if (target < cum) return last;
        }
        return last;
    }
    for (size_t i = n; i-- > 0;) {
        if (w[i] > 0.0f) return static_cast<int32_t>(i);
    }
    return -1;
}

TEST(CandidateList, ResetKeepsEveryTokenButBannedOnesInIdOrder) {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> logits = {1.0f, -inf, 3.0f, -2.0f, -inf};
    CandidateList list;
    list.reset(logits);
    EXPECT_EQ(ids_of(list), (std::vector<int32_t>{0, 2, 3}));
    EXPECT_FALSE(list.sorted());
    EXPECT_EQ(list.max_logit(), 3.0f);
}

TEST(CandidateList, TopKKeepsTheKBestSortedWithTiesToLowerIds) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        std::vector<float> logits = test::random_logits(1000, seed);
        logits[10] = logits[500] = logits[900] = 9.0f;  // a three-way tie at the top
        const std::vector<int32_t> ranked = test::ranked_ids(logits);
        for (int32_t k : {1, 2, 5, 50, 999}) {
            CandidateList list;
            list.reset(logits);
            list.keep_top_k(k);
            EXPECT_EQ(ids_of(list), std::vector<int32_t>(ranked.begin(), ranked.begin() + k))
                << "seed " << seed << " k " << k;
            EXPECT_TRUE(list.sorted());
        }
    }
}

TEST(CandidateList, TopKOffOrLargerThanTheListChangesNothing) {
    const std::vector<float> logits = test::random_logits(10, 4);
    for (int32_t k : {0, 10, 20}) {
        CandidateList list;
        list.reset(logits);
        list.keep_top_k(k);
        EXPECT_EQ(list.size(), 10u);
    }
}

TEST(CandidateList, TopPKeepsTheShortestPrefixReachingP) {
    for (uint32_t seed : {5u, 6u, 7u, 8u}) {
        // Narrow to wide: from many tokens per histogram bucket to tokens beyond its 32-nat range.
        const float scale = seed == 5 ? 0.3f : seed == 6 ? 3.0f : 15.0f;
        const std::vector<float> logits = test::random_logits(2000, seed, scale);
        const std::vector<int32_t> ranked = test::ranked_ids(logits);
        for (float p : {0.01f, 0.3f, 0.7f, 0.9f, 0.95f, 0.999f}) {
            CandidateList list;
            list.reset(logits);
            list.keep_top_p(p);
            // Unsorted input: the kept set is what matters, its order is the sampler's own.
            EXPECT_EQ(sorted(ids_of(list)), sorted(reference_top_p(logits, ranked, p)))
                << "seed " << seed << " p " << p;
        }
    }
}

TEST(CandidateList, TopPOnAFlatDistributionKeepsMostOfIt) {
    // Nearly uniform over 50000 tokens: p = 0.9 needs about 45000 of them, all in the first
    // bucket of the mass histogram.
    const std::vector<float> logits = test::random_logits(50000, 9, 0.05f);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    CandidateList list;
    list.reset(logits);
    list.keep_top_p(0.9f);
    const std::vector<int32_t> expected = reference_top_p(logits, ranked, 0.9);
    EXPECT_GT(expected.size(), 40000u);
    EXPECT_EQ(sorted(ids_of(list)), sorted(expected));
}

TEST(CandidateList, TopPOnAFullSizeVocabularyWithFavouritesKeepsTheShortestPrefix) {
    // Qwen2's vocabulary size, a broad body and eight favourites at ids keep_top_p's sample (every
    // 32nd token) does not see. Small p cut among the favourites; large ones deep in the body,
    // where the cut must still match a double-precision reference (sums of the mass from the best
    // token in float put it 1 and 44 tokens off at p = 0.999 and 0.99999).
    std::vector<float> logits = test::random_logits(151936, 11, 2.5f);
    for (int k = 0; k < 8; ++k) logits[1000 * static_cast<size_t>(k) + 7] = 14.0f + static_cast<float>(k) * 0.25f;
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    for (float p : {0.05f, 0.5f, 0.9f, 0.95f, 0.999f, 0.99999f}) {
        CandidateList list;
        list.reset(logits);
        list.keep_top_p(p);
        const std::vector<int32_t> expected = reference_top_p(logits, ranked, p);
        EXPECT_EQ(list.size(), expected.size()) << "p " << p;
        EXPECT_EQ(sorted(ids_of(list)), sorted(expected)) << "p " << p;
    }
}

TEST(CandidateList, TopPAlwaysKeepsAtLeastOneToken) {
    const std::vector<float> logits = {0.0f, 50.0f, 1.0f};
    CandidateList list;
    list.reset(logits);
    list.keep_top_p(1e-6f);
    EXPECT_EQ(ids_of(list), (std::vector<int32_t>{1}));
}

TEST(CandidateList, TopPAfterTopKMeasuresMassWithinTheTopK) {
    const std::vector<float> logits = test::random_logits(500, 10, 1.0f);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    const std::vector<int32_t> top20(ranked.begin(), ranked.begin() + 20);
    CandidateList list;
    list.reset(logits);
    list.keep_top_k(20);
    list.keep_top_p(0.5f);
    EXPECT_EQ(ids_of(list), reference_top_p(logits, top20, 0.5));
}

TEST(CandidateList, MinPKeepsTokensWithAtLeastMinPTimesTheTopProbability) {
    for (uint32_t seed : {11u, 12u}) {
        const std::vector<float> logits = test::random_logits(3000, seed);
        const std::vector<double> lp = test::log_softmax(logits);
        const double lp_max = *std::max_element(lp.begin(), lp.end());
        for (float min_p : {0.001f, 0.05f, 0.3f, 1.0f}) {
            std::vector<int32_t> expected;
            for (size_t i = 0; i < logits.size(); ++i) {
                if (std::exp(lp[i]) >= min_p * std::exp(lp_max)) expected.push_back(static_cast<int32_t>(i));
            }
            CandidateList list;
            list.reset(logits);
            list.keep_min_p(min_p);
            EXPECT_EQ(ids_of(list), expected) << "seed " << seed << " min_p " << min_p;
        }
    }
}

TEST(CandidateList, TopPAndMinPInEitherOrderKeepWhatTheirReferencesKeep) {
    // Top-p over the whole vocabulary leaves its cut pending (its crossing bucket unsearched);
    // min-p after it must see the settled cut. Top-p after min-p measures the mass of min-p's
    // set only (its total is not the softmax sum: the search measures it).
    const std::vector<float> logits = test::random_logits(151936, 14, 2.0f);
    const std::vector<int32_t> ranked = test::ranked_ids(logits);
    const float best = logits[static_cast<size_t>(ranked[0])];
    for (float p : {0.5f, 0.95f}) {
        for (float min_p : {0.02f, 0.2f}) {
            const float threshold = best + std::log(min_p);
            std::vector<int32_t> min_p_set;
            for (int32_t id : ranked)
                if (logits[static_cast<size_t>(id)] >= threshold) min_p_set.push_back(id);
            const std::vector<int32_t> top_p_set = reference_top_p(logits, ranked, p);
            std::vector<int32_t> both;
            for (int32_t id : top_p_set)
                if (logits[static_cast<size_t>(id)] >= threshold) both.push_back(id);
            CandidateList list;
            list.reset(logits);
            list.keep_top_p(p);
            list.keep_min_p(min_p);
            EXPECT_EQ(sorted(ids_of(list)), sorted(both)) << "top-p " << p << " then min-p " << min_p;
            list.reset(logits);
            list.keep_min_p(min_p);
            list.keep_top_p(p);
            EXPECT_EQ(sorted(ids_of(list)), sorted(reference_top_p(logits, min_p_set, p)))
                << "min-p " << min_p << " then top-p " << p;
        }
    }
}

TEST(CandidateList, MinPOffChangesNothing) {
    const std::vector<float> logits = test::random_logits(100, 13);
    CandidateList list;
    list.reset(logits);
    list.keep_min_p(0.0f);
    EXPECT_EQ(list.size(), 100u);
}

TEST(CandidateList, DrawOverTheVocabularyPicksTheTokenOfItsDefinition) {
    // Flat and peaked logits, with bans; every token, a top-p cut, a min-p cut; u spread over
    // [0, 1), at the boundaries between blocks and just either side of them.
    for (float scale : {0.5f, 3.0f}) {
        std::vector<float> logits = test::random_logits(151936 + 37, 30, scale);
        for (size_t i = 0; i < logits.size(); i += 97) logits[i] = -std::numeric_limits<float>::infinity();
        for (int step = 0; step < 3; ++step) {
            CandidateList list;
            list.reset(logits);
            if (step == 1) list.keep_top_p(0.9f);
            if (step == 2) list.keep_min_p(0.3f);
            for (float t : {0.6f, 1.0f}) {
                std::vector<double> us;
                for (int k = 0; k < 200; ++k) us.push_back(k / 200.0);
                us.push_back(std::nextafter(1.0, 0.0));
                const std::vector<float> w = reference_weights(list, logits.size(), t);
                double total = 0.0;
                for (float v : w) total += v;
                for (size_t token : {size_t{1024}, size_t{40000}, size_t{151808}}) {  // u at a block's start
                    double cum = 0.0;
                    for (size_t i = 0; i < token; ++i) cum += w[i];
                    for (double d : {-1e-12, 0.0, 1e-12}) us.push_back(std::clamp(cum / total + d, 0.0, 0.999999));
                }
                for (double u : us) {
                    ASSERT_EQ(list.draw(t, u), reference_draw(w, u))
                        << "scale " << scale << " step " << step << " t " << t << " u " << u;
                }
            }
        }
    }
}

using Uniforms = std::array<double, CandidateList::kDrawUniforms>;

Uniforms random_uniforms(std::mt19937_64& gen) {
    Uniforms u;
    for (double& v : u) v = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    return u;
}

TEST(CandidateList, ProposedDrawAtTemperatureOneIsTheDrawOfItsFirstNumber) {
    // At temperature 1 with every token kept, the first proposal is accepted (its factor is
    // exp(0) = 1), and it is drawn with the same weights and sums as draw(1, u[0]).
    for (float scale : {0.5f, 3.0f}) {
        std::vector<float> logits = test::random_logits(151936 + 37, 31, scale);
        for (size_t i = 0; i < logits.size(); i += 89) logits[i] = -std::numeric_limits<float>::infinity();
        CandidateList list;
        list.reset(logits);
        std::mt19937_64 gen(5);
        for (int k = 0; k < 300; ++k) {
            const Uniforms u = random_uniforms(gen);
            ASSERT_EQ(list.draw_proposed(1.0f, u), list.draw(1.0f, u[0])) << "scale " << scale << " u " << u[0];
        }
    }
}

TEST(CandidateList, ProposedDrawFallsBackToTheExactDrawWhenEveryProposalIsRejected) {
    // Token 0 is the best (factor 1); the other 999 lie 1 nat below it (factor exp(-1) at
    // temperature 0.5). Proposals land past token 0's share of the weights (u[2k] >= 0.01 > 1 /
    // (1 + 999 / e)), and u[2k + 1] = 0.99 rejects them all: the last number's exact draw.
    std::vector<float> logits(1000, -1.0f);
    logits[0] = 0.0f;
    CandidateList list;
    list.reset(logits);
    std::mt19937_64 gen(6);
    int differed = 0;
    for (int k = 0; k < 200; ++k) {
        Uniforms u = random_uniforms(gen);
        for (size_t j = 0; j + 1 < u.size(); j += 2) {
            u[j] = 0.01 + 0.98 * u[j];
            u[j + 1] = 0.99;
        }
        const int32_t drawn = list.draw_proposed(0.5f, u);
        ASSERT_EQ(drawn, list.draw(0.5f, u.back())) << "u " << u.back();
        differed += drawn != list.draw(0.5f, u[0]);
    }
    EXPECT_GT(differed, 100);  // the proposals' numbers were not the ones used
}

TEST(CandidateList, ProposalsBeforeTheTopPCutIsSettledDrawWhatTheSettledCutWould) {
    // After top-p a draw by proposals places a proposal by its bucket and settles the cut only for
    // one in the crossing bucket; a list whose cut was settled first (by an exact draw) must give
    // the same token for the same numbers. Random logits, flat and peaked (p 0.5: thousands of
    // tokens in the crossing bucket, split into sub-buckets), and ties: 1,000 tokens 2 nats above
    // the rest, whose 95% of the mass is one bucket where the cut falls by id (most proposals land
    // there, half of them past the cut).
    std::vector<float> ties(151936 + 37, 0.0f);
    for (size_t i = 0; i < ties.size(); i += 151) ties[i] = 2.0f;
    const std::vector<std::vector<float>> cases = {test::random_logits(151936 + 37, 33, 0.5f),
                                                   test::random_logits(151936 + 37, 34, 3.0f), ties};
    for (size_t which = 0; which < cases.size(); ++which) {
        std::vector<float> logits = cases[which];
        for (size_t i = 1; i < logits.size(); i += 101) logits[i] = -std::numeric_limits<float>::infinity();
        for (float p : {0.5f, 0.95f}) {
            CandidateList settled;
            settled.reset(logits);
            settled.keep_top_p(p);
            settled.draw(1.0f, 0.5);  // settles the cut
            std::mt19937_64 gen(8);
            CandidateList lazy;
            for (int k = 0; k < 40; ++k) {
                const Uniforms u = random_uniforms(gen);
                for (float t : {0.6f, 0.95f}) {
                    lazy.reset(logits);
                    lazy.keep_top_p(p);
                    ASSERT_EQ(lazy.draw_proposed(t, u), settled.draw_proposed(t, u))
                        << "case " << which << " p " << p << " t " << t << " draw " << k;
                }
            }
        }
    }
}

TEST(CandidateList, ProposedDrawsAfterAResetWithoutTheirBlockSumsDrawTheSameTokens) {
    // reset(logits, false) leaves the proposals' block sums out of the softmax pass (for a top-k
    // list); a draw by proposals over the whole vocabulary then sums them itself. A list reset
    // before on other logits must not draw from that reset's sums.
    const std::vector<float> logits = test::random_logits(151936 + 37, 35, 2.0f);
    const std::vector<float> other = test::random_logits(151936 + 37, 36, 2.0f);
    for (float p : {1.0f, 0.9f}) {
        std::mt19937_64 gen(9);
        CandidateList with, without;
        for (int k = 0; k < 20; ++k) {
            const Uniforms u = random_uniforms(gen);
            without.reset(other);
            without.draw_proposed(0.7f, u);
            with.reset(logits);
            without.reset(logits, false);
            with.keep_top_p(p);
            without.keep_top_p(p);
            ASSERT_EQ(without.draw_proposed(0.7f, u), with.draw_proposed(0.7f, u)) << "p " << p << " draw " << k;
        }
    }
}

TEST(CandidateList, ProposedDrawsFollowTheTruncatedDistributionAtTheTemperature) {
    // 40 tokens; every token, a top-p cut and a min-p cut; temperatures where the proposals are
    // mostly taken (0.8), mostly rejected (0.25: the exact draw often ends it) and above 1 (the
    // exact draw alone). The counts against the reference probabilities: exp(logit / T) over the
    // kept set, renormalised.
    constexpr size_t kVocab = 40;
    constexpr int kDraws = 40000;
    const std::vector<float> logits = test::random_logits(kVocab, 32, 1.5f);
    std::mt19937_64 gen(7);
    for (int step = 0; step < 3; ++step) {
        for (float t : {0.8f, 0.25f, 1.5f}) {
            CandidateList list;
            list.reset(logits);
            if (step == 1) list.keep_top_p(0.8f);
            if (step == 2) list.keep_min_p(0.1f);
            std::vector<double> probs(kVocab, 0.0);
            double total = 0.0;
            for (const Candidate& c : list.items()) {
                probs[c.token] = std::exp((static_cast<double>(c.logit) - list.max_logit()) / t);
                total += probs[c.token];
            }
            std::vector<int> counts(kVocab, 0);
            for (int k = 0; k < kDraws; ++k) ++counts[list.draw_proposed(t, random_uniforms(gen))];
            double chi = 0.0;
            size_t kept = 0;
            for (size_t i = 0; i < kVocab; ++i) {
                if (probs[i] == 0.0) {
                    ASSERT_EQ(counts[i], 0) << "token " << i << " is not kept: step " << step << " t " << t;
                    continue;
                }
                const double e = probs[i] / total * kDraws;
                chi += (counts[i] - e) * (counts[i] - e) / e;
                ++kept;
            }
            ASSERT_GT(kept, 5u);
            // The chi-square quantile at p = 0.001 for kept - 1 degrees of freedom (Wilson-Hilferty).
            const double df = static_cast<double>(kept - 1);
            const double quantile = df * std::pow(1.0 - 2.0 / (9.0 * df) + 3.09 * std::sqrt(2.0 / (9.0 * df)), 3.0);
            EXPECT_LT(chi, quantile) << "step " << step << " t " << t << " kept " << kept;
        }
    }
}

TEST(CandidateList, ResetForSumsOnlyGivesResetsMaxAndSumsAndRefusesWhatNeedsTheWeights) {
    std::vector<float> logits = test::random_logits(151936 + 5, 41, 3.0f);
    logits[7] = -std::numeric_limits<float>::infinity();
    CandidateList full, sums_only;
    full.reset(logits);
    sums_only.reset_sums_only(logits);
    EXPECT_EQ(sums_only.max_logit(), full.max_logit());
    EXPECT_EQ(std::memcmp(&sums_only.softmax(), &full.softmax(), sizeof(SoftmaxSums)), 0);
    EXPECT_EQ(sums_only.size(), full.size());  // the same candidates, without their weights
    EXPECT_DEATH(sums_only.keep_top_p(0.9f), "keep_top_p after reset_sums_only");
    Uniforms u{};
    EXPECT_DEATH(sums_only.draw_proposed(0.6f, u), "draw_proposed after reset_sums_only");
    sums_only.reset(logits);  // a full reset brings them back
    full.keep_top_p(0.9f);
    sums_only.keep_top_p(0.9f);
    EXPECT_EQ(sums_only.size(), full.size());
}

}  // namespace
}  // namespace sinan::sampling
