// engine/scheduler.h's context shift on a real (tiny, synthetic) model: a sequence with a token
// limit beyond its context generates past n_ctx, token for token as engine::Session with the same
// context shift (the reference tested against recomputation in tests/model/context_shift_test.cpp);
// without the shift, or without a token limit, it ends at n_ctx; a sequence sharing the shifting
// one's prefix cells gets the output it gets alone; and the prefix cache keeps only the kept start
// of a shifted sequence.
//
// Exactness as in scheduler_test.cpp: batches stay under kTiledMinQueries tokens in the scheduler
// and in the Session (n_batch 63), and a lone sequence in a cache of n_ctx cells takes the same
// cells as the Session's cache, so greedy outputs are compared exactly: tokens and log-probabilities.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "engine/generate.h"
#include "engine/scheduler.h"
#include "engine/session.h"
#include "tiny_model_fixture.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCtx = 48;

class SchedulerContextShiftTest : public TinyModelTest {
  protected:
    // Greedy (end-of-generation banned), with or without context shift.
    static GenerateOptions greedy_shift(int64_t n_predict, bool context_shift) {
        GenerateOptions o = TinyModelTest::greedy(n_predict);
        o.context_shift = context_shift;
        return o;
    }

    // The reference: the same sampling on a Session of n_ctx cells that shifts keeping n_keep
    // tokens (n_keep < 0: no shift), n_predict tokens or up to a full context.
    struct Reference {
        std::vector<int32_t> tokens;
        std::vector<float> logprobs;
        int64_t n_shifted = 0;
    };
    static Reference alone(const std::vector<int32_t>& prompt, const GenerateOptions& options, int64_t n_keep,
                           int64_t n_ctx) {
        Session session(*model_, n_ctx, /*n_batch=*/63);
        session.set_context_shift(n_keep);
        Outcome o = on_session(session, prompt, options, n_keep < 0);
        return {std::move(o.tokens), std::move(o.logprobs), session.n_shifted()};
    }
};

TEST_F(SchedulerContextShiftTest, ASequenceGoesPastTheContextAsASessionThatShifts) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = kCtx, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    const std::vector<int32_t> prompt = tokens("Once upon a time there was");
    const int64_t n_predict = 3 * kCtx;
    // -1: the prompt is kept (it is under half the context).
    for (int64_t n_keep : {int64_t{-1}, int64_t{4}}) {
        const Outcome got = run(s, request(prompt, greedy_shift(n_predict, true), n_keep));
        ASSERT_EQ(got.end.type, Event::Type::kFinished) << got.end.error.message();
        EXPECT_EQ(got.end.result.finish, FinishReason::kLength);
        EXPECT_EQ(got.end.result.n_generated, n_predict);
        const Reference ref = alone(prompt, greedy_shift(n_predict, true), n_keep >= 0 ? n_keep : prompt.size(), kCtx);
        EXPECT_GT(ref.n_shifted, 0);
        EXPECT_EQ(got.end.n_shifted, ref.n_shifted);
        EXPECT_EQ(got.tokens, ref.tokens) << "n_keep " << n_keep;
        EXPECT_EQ(got.logprobs, ref.logprobs) << "n_keep " << n_keep;
    }
}

TEST_F(SchedulerContextShiftTest, WithoutShiftOrWithoutATokenLimitTheSequenceEndsAtTheContext) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = kCtx, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    const std::vector<int32_t> prompt = tokens("Once upon a time there was");
    const int64_t at_context = kCtx - static_cast<int64_t>(prompt.size()) + 1;
    for (const GenerateOptions& o : {greedy_shift(3 * kCtx, false), greedy_shift(-1, true)}) {
        const Outcome got = run(s, request(prompt, o));
        EXPECT_EQ(got.end.result.finish, FinishReason::kContext);
        EXPECT_EQ(got.end.result.n_generated, at_context);
        EXPECT_EQ(got.end.n_shifted, 0);
        EXPECT_EQ(got.tokens, alone(prompt, o, -1, kCtx).tokens);
    }
}

TEST_F(SchedulerContextShiftTest, ASequenceSharingTheShiftedPrefixGetsItsOutputAlone) {
    // A (a long question) and B (a short one) share a system prompt; A fills the context first,
    // keeps 4 tokens, drops 62 and moves the rest down while B, still running, reads system-prompt
    // cells in both ranges (without KvCache::seq_unshare B's would move too).
    constexpr int64_t n_ctx = 128, n_keep = 4, p1 = n_keep + (n_ctx - n_keep) / 2;
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = n_ctx, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    const std::vector<int32_t> system = tokens(
        "You are a careful assistant. Think step by step, then answer in one line, and be brief about it. "
        "Never make things up.");
    std::vector<int32_t> a = system, b = system;
    for (int32_t t : tokens("What is the capital of France?")) a.push_back(t);
    b.push_back(tokens("Why")[0]);
    ASSERT_GT(static_cast<int64_t>(system.size()), p1 + 8) << "the system prompt must reach into the moved range";
    ASSERT_LT(static_cast<int64_t>(a.size()) + 8, n_ctx);
    ASSERT_GT(a.size(), b.size() + 8) << "B must run on after A's shift";
    const int64_t n_b = n_ctx - static_cast<int64_t>(b.size());  // B runs until its context is full
    auto ha = s.submit(request(a, greedy_shift(2 * n_ctx, true), n_keep)).handle;
    auto hb = s.submit(request(b, greedy_shift(n_b, false))).handle;
    ASSERT_NE(ha, nullptr);
    ASSERT_NE(hb, nullptr);
    const Outcome got_a = collect(*ha), got_b = collect(*hb);
    ASSERT_EQ(got_a.end.type, Event::Type::kFinished) << got_a.end.error.message();
    ASSERT_EQ(got_b.end.type, Event::Type::kFinished) << got_b.end.error.message();
    EXPECT_EQ(got_a.end.result.n_generated, 2 * n_ctx);
    EXPECT_GT(got_a.end.n_shifted, 0);
    EXPECT_EQ(got_b.end.n_cached, static_cast<int64_t>(system.size()));
    const Reference ref_b = alone(b, greedy_shift(n_b, false), -1, n_ctx);
    EXPECT_EQ(got_b.tokens, ref_b.tokens);
    EXPECT_EQ(got_b.logprobs, ref_b.logprobs);
}

TEST_F(SchedulerContextShiftTest, ThePrefixCacheKeepsOnlyTheKeptStartOfAShiftedSequence) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = kCtx, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    const std::vector<int32_t> prompt = tokens("Once upon a time there was");
    const int64_t n_keep = 4;
    const Outcome first = run(s, request(prompt, greedy_shift(2 * kCtx, true), n_keep));
    ASSERT_GT(first.end.n_shifted, 0);
    // The tokens the shifted sequence still held at the end: its kept start, then its newest
    // (shifted) tokens. Only the kept start may be reused by the next request.
    Session session(*model_, kCtx, 63);
    session.set_context_shift(n_keep);
    ASSERT_TRUE(session.set_prompt(prompt).is_ok());
    for (size_t i = 0; i + 1 < first.tokens.size(); ++i) ASSERT_TRUE(session.append(first.tokens[i]).is_ok());
    std::vector<int32_t> held = session.tokens();
    held.resize(std::min<size_t>(held.size(), kCtx - 8));  // room for the new request's tokens
    held.push_back(tokens("Why")[0]);
    const Outcome next = run(s, request(held, greedy_shift(2, false)));
    EXPECT_EQ(next.end.n_cached, n_keep);
    EXPECT_EQ(next.tokens, alone(held, greedy_shift(2, false), -1, kCtx).tokens);
}

}  // namespace
}  // namespace sinan::engine
