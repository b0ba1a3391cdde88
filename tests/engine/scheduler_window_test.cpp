// engine/scheduler.h with sliding-window attention, on a real (tiny, synthetic) model loaded with a
// window of kWindow positions: the cache is sized for the window, not the context; a lone sequence
// runs far past its cells token for token as an engine::Session with the same window (which
// tests/engine/session_test.cpp checks against a cache that keeps everything); two sequences run
// at once in two windows' cells and each gets what a Session gives it; a follow-up reuses a
// finished conversation's window, and one whose shared prefix has left the window computes it again.
//
// A lone sequence takes the same cells as the Session's cache (same size, same batches), so it is
// compared exactly. Sequences that share the cache take other cells, and the small-batch
// attention adds a window's cells in cell order (F16 running sums): those are compared by feeding
// the scheduler's tokens to a Session and checking each was its greedy choice, up to a near tie.
#include <gtest/gtest.h>

#include <string>

#include "engine/scheduler.h"
#include "engine/session.h"
#include "tiny_model_fixture.h"

namespace sinan::engine {
namespace {

constexpr int64_t kWindow = 16;
constexpr int64_t kBatch = 8;
constexpr int64_t kCells = kWindow + kBatch;  // one sequence's most cells
constexpr int64_t kCtx = 512;                 // positions, far more than the cells

class SchedulerWindowTest : public TinyModelTest {
  protected:
    static void SetUpTestSuite() {
        TinyModelTest::SetUpTestSuite();
        Result<std::unique_ptr<model::Model>> m =
            model::Model::load(path_->string(), {.n_threads = 2, .swa_window = kWindow});
        ASSERT_TRUE(m.ok()) << m.message();
        windowed_ = std::move(m).value().release();
    }
    static void TearDownTestSuite() {
        delete windowed_;
        TinyModelTest::TearDownTestSuite();
    }

    static SchedulerOptions options(int32_t n_parallel) {
        return {.n_parallel = n_parallel, .n_ctx = kCtx, .n_cells = 0, .n_batch = kBatch, .max_queue = 4};
    }

    static Request request(const std::vector<int32_t>& prompt, int64_t n_predict) {
        return TinyModelTest::request(prompt, greedy(n_predict));
    }

    // The reference: `r` alone on a windowed Session (kCells cells, batches of kBatch).
    static Outcome alone(const Request& r) {
        Session session(*windowed_, kCtx, kBatch);
        EXPECT_EQ(session.cache().n_cells(), kCells);
        return on_session(session, r.prompt, r.options, false);
    }

    // Feeds `got`'s tokens to a windowed Session after `r.prompt`: each must be the Session's greedy
    // choice with its log-probability, or lose to it by a near tie (cell order apart, see above).
    static void expect_greedy_along(const Request& r, const Outcome& got) {
        Session session(*windowed_, kCtx, kBatch);
        Result<sampling::Sampler> sampler = sampling::Sampler::create(r.options.sampling, tokenizer_->n_vocab());
        ASSERT_TRUE(sampler.ok()) << sampler.message();
        ASSERT_TRUE(session.set_prompt(r.prompt).is_ok());
        for (size_t i = 0; i < got.tokens.size(); ++i) {
            const sampling::TokenChoice c = sampler->sample(session.logits()).value();
            if (c.token == got.tokens[i]) {
                EXPECT_NEAR(c.logprob, got.logprobs[i], 3e-3) << "token " << i;
            } else {
                EXPECT_LT(session.logits()[c.token] - session.logits()[got.tokens[i]], 3e-3)
                    << "token " << i << ": " << got.tokens[i] << " where the Session chooses " << c.token;
            }
            if (i + 1 == got.tokens.size()) break;
            ASSERT_TRUE(session.append(got.tokens[i]).is_ok());
        }
    }

    static inline model::Model* windowed_ = nullptr;
};

TEST_F(SchedulerWindowTest, TheCacheIsSizedByTheWindowNotTheContext) {
    Scheduler three(*windowed_, *tokenizer_, options(3));
    EXPECT_EQ(three.options().n_cells, 3 * kCells);
    EXPECT_EQ(three.options().n_ctx, kCtx);
    EXPECT_EQ(three.stats().kv_cells, 3 * kCells);
    // A budget below one sequence's cells limits its positions, as without a window.
    SchedulerOptions small = options(1);
    small.n_cells = kCells - 4;
    Scheduler cut(*windowed_, *tokenizer_, small);
    EXPECT_EQ(cut.options().n_ctx, kCells - 4);
    // Without a window the cache holds every sequence's whole context.
    Scheduler full(*model_, *tokenizer_, options(3));
    EXPECT_EQ(full.options().n_cells, 3 * kCtx);
}

TEST_F(SchedulerWindowTest, ALoneSequenceRunsFarPastItsCellsAsAWindowedSession) {
    Scheduler s(*windowed_, *tokenizer_, options(1));
    const Request r = request(tokens("Once upon a time there was a little fox who lived at the edge of a very old "
                                     "forest, far from the village and its noisy market."),
                              200);
    ASSERT_GT(static_cast<int64_t>(r.prompt.size()), kCells) << "the prompt alone must outgrow the cells";
    const Outcome got = run(s, r);
    ASSERT_EQ(got.end.type, Event::Type::kFinished) << got.end.error.message();
    EXPECT_EQ(got.end.result.finish, FinishReason::kLength);
    EXPECT_EQ(got.end.result.n_generated, 200);
    const Outcome ref = alone(r);
    EXPECT_EQ(got.tokens, ref.tokens);
    EXPECT_EQ(got.logprobs, ref.logprobs);
    EXPECT_LE(s.stats().kv_cells_used, kWindow);  // the idle slot keeps its window only
}

TEST_F(SchedulerWindowTest, TwoSequencesRunTogetherInTwoWindowsOfCells) {
    Scheduler s(*windowed_, *tokenizer_, options(2));
    ASSERT_EQ(s.options().n_cells, 2 * kCells);
    const Request a =
        request(tokens("The river ran down from the hills to the sea, carrying leaves and stories."), 120);
    const Request b = request(tokens("Why is the sky blue?"), 90);
    auto ha = s.submit(a).handle;
    auto hb = s.submit(b).handle;
    ASSERT_NE(ha, nullptr);
    ASSERT_NE(hb, nullptr);
    const Outcome got_a = collect(*ha), got_b = collect(*hb);
    EXPECT_EQ(got_a.end.result.n_generated, 120);
    EXPECT_EQ(got_b.end.result.n_generated, 90);
    expect_greedy_along(a, got_a);
    expect_greedy_along(b, got_b);
}

TEST_F(SchedulerWindowTest, AFollowUpReusesTheWindowOnlyWhenItStillHoldsThePrefix) {
    Scheduler s(*windowed_, *tokenizer_, options(1));
    const Request first = request(tokens("Tell me about the moon and the tides it pulls across the ocean."), 40);
    const Outcome one = run(s, first);
    ASSERT_EQ(one.end.result.n_generated, 40);
    // The conversation so far (the last sampled token was never fed), then a new question: its
    // shared prefix ends where the idle slot's window does.
    std::vector<int32_t> held = first.prompt;
    held.insert(held.end(), one.tokens.begin(), one.tokens.end() - 1);
    std::vector<int32_t> next_prompt = held;
    for (int32_t t : tokens(" And the sun?")) next_prompt.push_back(t);
    const Request next = request(next_prompt, 30);
    const Outcome two = run(s, next);
    EXPECT_EQ(two.end.n_cached, static_cast<int64_t>(held.size()));
    expect_greedy_along(next, two);
    // Sharing only the first prompt's start: those positions left the window long ago.
    std::vector<int32_t> other(first.prompt.begin(), first.prompt.begin() + 6);
    for (int32_t t : tokens(" stars at night, and the planets between them")) other.push_back(t);
    const Request third = request(other, 30);
    const Outcome three = run(s, third);
    EXPECT_EQ(three.end.n_cached, 0);
    EXPECT_EQ(three.end.result.n_generated, 30);
    expect_greedy_along(third, three);
}

}  // namespace
}  // namespace sinan::engine
