// engine/scheduler.h on a real (tiny, synthetic) model: batched outputs equal lone runs, chunked
// prefill, the prefix cache, eviction, cancellation, deadlines, back-pressure, bad requests,
// drain, the reasoning budget and stop strings.
//
// Exactness: the forward pass computes each token's logits with the same operations whatever
// else is in the batch (matmul rows are independent; see the ForwardBatch test), except
// attention, whose numerics follow the batch size (model/attention.h: batches of
// kTiledMinQueries tokens or more use the tiled path, and its tiles follow cell indices). So
// every batch here stays under kTiledMinQueries tokens (n_batch < 64) and the lone reference
// (generate() on a Session) also runs small batches: then greedy outputs are compared token for
// token, not approximately.
#include "engine/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include "engine/generate.h"
#include "engine/session.h"
#include "model/attention.h"
#include "tiny_model_fixture.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SchedulerTest : public TinyModelTest {
  protected:
    // The reference: the same request alone, through generate() on its own Session.
    static Outcome alone(const std::vector<int32_t>& prompt, const GenerateOptions& options, int64_t n_ctx = 512) {
        Session session(*model_, n_ctx, /*n_batch=*/63);
        Outcome o;
        Result<GenerateResult> r =
            generate(session, *tokenizer_, prompt, options, [&](TextKind, std::string_view text) { o.text += text; });
        EXPECT_TRUE(r.ok()) << r.message();
        o.end.result = *r;
        return o;
    }
    // The tokens of kPrompts[first] .. kPrompts[end - 1], one after another.
    static std::vector<int32_t> joined_prompts(int first, int end);
};

const char* const kPrompts[] = {
    "The quick brown fox",
    "jumps over the lazy dog",
    "Once upon a time there was",
    "In the beginning",
    "What is the capital of",
    "1 2 3 4 5 6 7",
    "Hello, world!",
    "zebra yak xylophone",
    "The quick brown cat",
    "A long time ago in a galaxy",
    "to be or not to be",
    "sinan serves models",
    "prime numbers: 2, 3, 5",
    "The weather today is",
    "def main():",
    "private AI platform",
};

std::vector<int32_t> SchedulerTest::joined_prompts(int first, int end) {
    std::vector<int32_t> prompt;
    for (int i = first; i < end; ++i) {
        std::vector<int32_t> t = tokens(kPrompts[i]);
        prompt.insert(prompt.end(), t.begin(), t.end());
    }
    return prompt;
}

// Each token's logits come out the same whether its sequence is alone in the batch or shares it
// with others (for batches under kTiledMinQueries tokens; see the file comment).
TEST_F(SchedulerTest, ForwardBatchOfManySequencesGivesEachTheLogitsItGetsAlone) {
    const std::vector<std::vector<int32_t>> prompts = {tokens(kPrompts[0]), tokens(kPrompts[2]), tokens(kPrompts[5])};
    const int64_t n_vocab = model_->hparams().n_vocab;
    std::vector<std::vector<float>> lone;
    for (const std::vector<int32_t>& p : prompts) {
        model::KvCache cache = model_->make_cache(256);
        model::Batch b;
        for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), 0, true);
        std::vector<float> out;
        ASSERT_TRUE(model_->forward(b, cache, &out).is_ok());
        lone.push_back(out);
    }
    model::KvCache cache = model_->make_cache(256);
    model::Batch b;
    for (size_t s = 0; s < prompts.size(); ++s)
        for (size_t i = 0; i < prompts[s].size(); ++i)
            b.add(prompts[s][i], static_cast<int32_t>(i), static_cast<int32_t>(s + 3), true);
    ASSERT_LT(static_cast<int64_t>(b.size()), model::kTiledMinQueries);
    std::vector<float> out;
    ASSERT_TRUE(model_->forward(b, cache, &out).is_ok());
    size_t row = 0;
    for (size_t s = 0; s < prompts.size(); ++s)
        for (size_t i = 0; i < prompts[s].size(); ++i, ++row)
            for (int64_t v = 0; v < n_vocab; ++v)
                ASSERT_EQ(out[row * n_vocab + v], lone[s][i * n_vocab + v])
                    << "sequence " << s << " token " << i << " logit " << v;
}

TEST_F(SchedulerTest, SixteenConcurrentGreedyRequestsEachEqualTheSameRequestAlone) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 8, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 16});
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (const char* p : kPrompts) handles.push_back(submit(s, request(tokens(p), greedy(12))));
    std::vector<Outcome> outcomes;
    for (auto& h : handles) outcomes.push_back(collect(*h));
    // (the references only now: the model runs one forward pass at a time)
    for (size_t i = 0; i < handles.size(); ++i) {
        const Outcome& got = outcomes[i];
        const Outcome want = alone(tokens(kPrompts[i]), greedy(12));
        ASSERT_EQ(got.end.type, Event::Type::kFinished) << got.end.error.message();
        EXPECT_EQ(got.tokens.size(), 12u);
        EXPECT_EQ(got.text, want.text) << kPrompts[i];
        EXPECT_EQ(got.end.result.text, want.text);
        EXPECT_EQ(got.end.result.finish, FinishReason::kLength);
        EXPECT_EQ(got.end.result.n_generated, 12);
        EXPECT_EQ(got.end.result.n_prompt + got.end.n_cached, static_cast<int64_t>(tokens(kPrompts[i]).size()));
        EXPECT_DOUBLE_EQ(got.end.result.confidence.score, want.end.result.confidence.score);
        EXPECT_GT(got.end.first_token_seconds, 0.0);
    }
    const SchedulerStats st = s.stats();
    EXPECT_EQ(st.generated_tokens, 16u * 12u);
    EXPECT_EQ(st.running, 0);
    EXPECT_EQ(st.waiting, 0);
}

// The engine restarts the samplers of ended requests for new ones (sampling/sampler.h):
// requests that follow others in the same slots, each with its own seed and penalties, draw
// what they draw alone.
TEST_F(SchedulerTest, SampledRequestsAfterOthersDrawWhatTheyDrawAlone) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 16});
    std::vector<GenerateOptions> options;
    for (uint64_t i = 0; i < 6; ++i) {
        GenerateOptions o = greedy(10);  // its ban of end-of-generation tokens, then sampling
        o.sampling.temperature = 0.8f + 0.1f * static_cast<float>(i);
        o.sampling.seed = 100 + i;
        o.sampling.top_p = i % 2 ? 0.9f : 1.0f;
        o.sampling.presence_penalty = i % 3 == 0 ? 1.5f : 0.0f;
        o.sampling.repetition_penalty = i % 3 == 1 ? 1.3f : 1.0f;
        options.push_back(o);
    }
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (size_t i = 0; i < options.size(); ++i) handles.push_back(submit(s, request(tokens(kPrompts[i]), options[i])));
    std::vector<Outcome> outcomes;
    for (auto& h : handles) outcomes.push_back(collect(*h));
    for (size_t i = 0; i < handles.size(); ++i) {
        ASSERT_EQ(outcomes[i].end.type, Event::Type::kFinished) << outcomes[i].end.error.message();
        EXPECT_EQ(outcomes[i].text, alone(tokens(kPrompts[i]), options[i]).text) << kPrompts[i];
    }
}

// Every slot's sampler is made with the scheduler, so admission makes none: the first requests of
// all slots at once, and later ones, find one to restart (a new sampler's pages faulted in on the
// engine thread delayed a first burst; bench/NOTES.md, 2026-12-04).
TEST_F(SchedulerTest, EverySlotsSamplerIsMadeAtStartAndNoneAtAdmission) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 3, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 16});
    EXPECT_EQ(s.stats().samplers, 3u);
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (size_t i = 0; i < 6; ++i) {
        GenerateOptions o = greedy(6);
        o.sampling.temperature = 0.7f;
        o.sampling.seed = 7 + i;
        handles.push_back(submit(s, request(tokens(kPrompts[i]), o)));
    }
    for (auto& h : handles) ASSERT_EQ(collect(*h).end.type, Event::Type::kFinished);
    EXPECT_EQ(s.stats().samplers, 3u);
}

// SchedulerStats splits the engine's steps into forward passes and sampling; both are parts of
// the wall time the requests took, and both grow with every step.
TEST_F(SchedulerTest, StatsSplitTheStepsIntoForwardPassesAndSampling) {
    const auto t0 = std::chrono::steady_clock::now();
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 16});
    EXPECT_EQ(s.stats().forward_seconds, 0.0);
    EXPECT_EQ(s.stats().sampling_seconds, 0.0);
    auto run = [&](size_t i) {
        GenerateOptions o = greedy(8);
        o.sampling.temperature = 0.7f;
        o.sampling.seed = 3 + i;
        ASSERT_EQ(collect(*submit(s, request(tokens(kPrompts[i]), o))).end.type, Event::Type::kFinished);
    };
    run(0);
    const SchedulerStats first = s.stats();
    EXPECT_GT(first.forward_seconds, 0.0);
    EXPECT_GT(first.sampling_seconds, 0.0);
    run(1);
    const SchedulerStats second = s.stats();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GT(second.forward_seconds, first.forward_seconds);
    EXPECT_GT(second.sampling_seconds, first.sampling_seconds);
    EXPECT_LE(second.forward_seconds + second.sampling_seconds, wall);
}

// Request::score_prompt: every prompt token after the first gets log-softmax of the logits one
// forward pass over the whole prompt gives at the position before it (the reference below, in
// double), across prompt chunks of several steps, and the prefix cache is not taken.
TEST_F(SchedulerTest, AScoredPromptGetsEveryTokensLogprobAndTakesNoCachedPrefix) {
    const std::vector<int32_t> prompt = joined_prompts(2, 6);
    ASSERT_GT(prompt.size(), 12u);
    ASSERT_LT(prompt.size(), static_cast<size_t>(model::kTiledMinQueries));  // one attention path
    const int64_t n_vocab = model_->hparams().n_vocab;
    model::KvCache cache = model_->make_cache(128);
    model::Batch batch;
    for (size_t j = 0; j < prompt.size(); ++j) batch.add(prompt[j], static_cast<int32_t>(j), 0, true);
    std::vector<float> logits;
    ASSERT_TRUE(model_->forward(batch, cache, &logits).is_ok());

    // n_batch 5: the prompt spans several steps. A first, unscored request leaves the same prompt
    // in an idle slot for the prefix cache.
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 5, .max_queue = 4});
    const Outcome plain = collect(*submit(s, request(prompt, greedy(2))));
    ASSERT_EQ(plain.end.type, Event::Type::kFinished);
    GenerateOptions o = greedy(2);
    o.sampling.n_logprobs = 3;
    Request r = request(prompt, o);
    r.score_prompt = true;
    const Outcome scored = collect(*submit(s, std::move(r)));
    ASSERT_EQ(scored.end.type, Event::Type::kFinished) << scored.end.error.message();
    EXPECT_EQ(scored.end.n_cached, 0);
    EXPECT_EQ(scored.end.result.n_prompt, static_cast<int64_t>(prompt.size()));
    EXPECT_EQ(scored.text, plain.text);
    ASSERT_FALSE(scored.texts.empty());
    const std::vector<sampling::TokenChoice>& scores = scored.texts[0].prompt_scores;
    ASSERT_EQ(scores.size(), prompt.size() - 1);
    for (size_t j = 0; j + 1 < prompt.size(); ++j) {
        const float* row = logits.data() + j * static_cast<size_t>(n_vocab);
        double max = row[0], z = 0;
        for (int64_t v = 0; v < n_vocab; ++v) max = std::max<double>(max, row[v]);
        for (int64_t v = 0; v < n_vocab; ++v) z += std::exp(row[v] - max);
        const double log_z = max + std::log(z);
        EXPECT_EQ(scores[j].token, prompt[j + 1]) << "position " << j;
        EXPECT_NEAR(scores[j].logprob, row[prompt[j + 1]] - log_z, 2e-5) << "position " << j;
        ASSERT_EQ(scores[j].n_top, 3);
        const int32_t best = static_cast<int32_t>(std::max_element(row, row + n_vocab) - row);
        EXPECT_EQ(scores[j].top[0].token, best) << "position " << j;
        EXPECT_NEAR(scores[j].top[0].logprob, row[best] - log_z, 2e-5) << "position " << j;
    }
    for (size_t k = 1; k < scored.texts.size(); ++k) EXPECT_TRUE(scored.texts[k].prompt_scores.empty());
    // Without score_prompt nothing is scored.
    EXPECT_TRUE(plain.texts[0].prompt_scores.empty());
}

TEST_F(SchedulerTest, ChunkedPrefillGivesTheSameOutputAsOneChunk) {
    const std::vector<int32_t> prompt = joined_prompts(0, 3);
    ASSERT_GT(prompt.size(), 16u);
    ASSERT_LE(prompt.size(), 63u);  // one chunk at n_batch 63, under kTiledMinQueries
    const Outcome want = alone(prompt, greedy(10));
    for (int64_t n_batch : {5, 8, 63}) {
        Scheduler s(*model_, *tokenizer_,
                    {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = n_batch, .max_queue = 4});
        const Outcome got = collect(*submit(s, request(prompt, greedy(10))));
        EXPECT_EQ(got.text, want.text) << "n_batch " << n_batch;
        EXPECT_EQ(got.end.result.n_prompt, static_cast<int64_t>(prompt.size()));
        // ceil(prompt / n_batch) prefill steps, then one per generated token but the last.
        const uint64_t n_prefill_steps =
            (prompt.size() + static_cast<size_t>(n_batch) - 1) / static_cast<size_t>(n_batch);
        EXPECT_EQ(s.stats().steps, n_prefill_steps + 9) << "n_batch " << n_batch;
    }
}

TEST_F(SchedulerTest, ALongPromptIsPrefilledInChunksWhileRunningSequencesKeepDecoding) {
    // n_batch 4: a decoding sequence takes one token of every step, a 60-token prompt gets the
    // other three, so its prefill spans 20 steps; the decoding sequence gets a token in each.
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 4096, .n_cells = 0, .n_batch = 4, .max_queue = 2});
    const std::vector<int32_t> short_prompt = {tokens(kPrompts[0])[0], tokens(kPrompts[0])[1]};
    std::shared_ptr<RequestHandle> decoding = submit(s, request(short_prompt, greedy(-1)));
    Event e;
    ASSERT_TRUE(decoding->next(&e, 120s));  // prefilled in one step, now decoding
    std::vector<int32_t> long_prompt;
    while (long_prompt.size() < 60)
        for (int32_t t : tokens(kPrompts[1 + long_prompt.size() % 15])) long_prompt.push_back(t);
    long_prompt.resize(60);
    const Outcome prefilled = collect(*submit(s, request(long_prompt, greedy(1))));
    EXPECT_EQ(prefilled.end.result.n_prompt, 60);
    decoding->cancel();
    const Outcome d = collect(*decoding);
    // Its first token came from its prefill step; every later step decoded it once: no step
    // went to the long prompt alone.
    EXPECT_EQ(static_cast<uint64_t>(d.end.result.n_generated), s.stats().steps);
    EXPECT_GE(s.stats().steps, 21u);
}

// While sequences decode, a step's prompt tokens are what the engine computes in about
// prompt_step_seconds, never fewer than kMinPromptChunk nor more than n_batch allows; with nothing
// decoding, or no time measured yet, or the budget off, the step fills to n_batch.
TEST(PromptChunk, WhileSequencesDecodeAStepTakesThePromptTokensOfItsTimeBudget) {
    const SchedulerOptions o{.n_batch = 512, .prompt_step_seconds = 0.25};
    EXPECT_EQ(prompt_chunk(o, 3, 0.25 / 100), 100);  // 100 tokens in 0.25 s
    EXPECT_EQ(prompt_chunk(o, 3, 0.25 / 1000), 509) << "at most n_batch with the decode tokens";
    EXPECT_EQ(prompt_chunk(o, 3, 1.0), kMinPromptChunk) << "a slow machine still takes whole chunks";
    EXPECT_EQ(prompt_chunk(o, 3, 1e-30), 509) << "a tiny time per token does not overflow";
    EXPECT_EQ(prompt_chunk(o, 0, 1.0), 512) << "nothing decodes: nobody waits";
    EXPECT_EQ(prompt_chunk(o, 3, 0.0), 509) << "no step measured yet";
    SchedulerOptions off = o;
    off.prompt_step_seconds = 0;
    EXPECT_EQ(prompt_chunk(off, 3, 1.0), 509);
    const SchedulerOptions small{.n_batch = 40};
    EXPECT_EQ(prompt_chunk(small, 3, 1.0), 37) << "kMinPromptChunk never goes past n_batch";
}

TEST_F(SchedulerTest, WhileASequenceDecodesALongPromptGoesInChunksOfItsTimeBudget) {
    // A budget no step can meet: once a step has measured the time per token, a prompt read while
    // another sequence decodes takes kMinPromptChunk tokens a step, where n_batch would take it in
    // one.
    Scheduler s(*model_, *tokenizer_,
                {.n_parallel = 2, .n_ctx = 1024, .n_batch = 512, .max_queue = 2, .prompt_step_seconds = 1e-9});
    std::vector<int32_t> long_prompt;
    while (long_prompt.size() < 300)
        for (int32_t t : tokens(kPrompts[1 + long_prompt.size() % 15])) long_prompt.push_back(t);
    long_prompt.resize(300);
    const std::vector<int32_t> measured(long_prompt.rbegin(), long_prompt.rbegin() + 100);  // no shared prefix
    ASSERT_NE(measured[0], long_prompt[0]);
    collect(*submit(s, request(measured, greedy(1))));  // alone: one step of 100, timed
    std::shared_ptr<RequestHandle> decoding = submit(s, request({tokens(kPrompts[0])[0]}, greedy(-1)));
    Event e;
    ASSERT_TRUE(decoding->next(&e, 120s));  // prefilled, now decoding until cancelled
    const uint64_t before = s.stats().prompt_steps;
    const Outcome prefilled = collect(*submit(s, request(long_prompt, greedy(1))));
    EXPECT_EQ(prefilled.end.result.n_prompt, 300);
    decoding->cancel();
    collect(*decoding);
    EXPECT_EQ(before, 2u);
    EXPECT_EQ(s.stats().prompt_steps - before, (300 + kMinPromptChunk - 1) / kMinPromptChunk);
}

TEST_F(SchedulerTest, PrefixCacheReusesASharedPrefixAndGivesTheSameOutput) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 4});
    const std::vector<int32_t> system = tokens("You are a helpful assistant. Answer briefly.");
    std::vector<int32_t> a = system, b = system;
    for (int32_t t : tokens(kPrompts[0])) a.push_back(t);
    for (int32_t t : tokens(kPrompts[1])) b.push_back(t);
    ASSERT_NE(a[system.size()], b[system.size()]);

    const Outcome first = collect(*submit(s, request(a, greedy(6))));
    EXPECT_EQ(first.end.n_cached, 0);
    const Outcome second = collect(*submit(s, request(b, greedy(6))));
    EXPECT_EQ(second.end.n_cached, static_cast<int64_t>(system.size()));
    EXPECT_EQ(second.end.result.n_prompt, static_cast<int64_t>(b.size() - system.size()));
    EXPECT_EQ(second.text, alone(b, greedy(6)).text);
    // The same prompt again: everything but the last token is reused (its logits are needed).
    const Outcome again = collect(*submit(s, request(b, greedy(6))));
    EXPECT_EQ(again.end.n_cached, static_cast<int64_t>(b.size()) - 1);
    EXPECT_EQ(again.end.result.n_prompt, 1);
    EXPECT_EQ(again.text, second.text);
    EXPECT_EQ(s.stats().cached_tokens, system.size() + b.size() - 1);
}

TEST_F(SchedulerTest, RequestsArrivingTogetherComputeTheirSharedPrefixOnce) {
    // One system prompt, four questions at once: whichever request is admitted first computes
    // the system prompt; the others share it (waiting for it if it is still being prefilled).
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 4, .n_ctx = 128, .n_cells = 0, .n_batch = 8, .max_queue = 4});
    const std::vector<int32_t> system =
        tokens("You are a careful assistant. Think step by step, then answer in one line.");
    ASSERT_GT(system.size(), 16u);
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (int i = 0; i < 4; ++i) {
        prompts.push_back(system);
        for (int32_t t : tokens(kPrompts[i])) prompts.back().push_back(t);
        handles.push_back(submit(s, request(prompts.back(), greedy(6))));
    }
    std::vector<Outcome> got;
    for (auto& h : handles) got.push_back(collect(*h));
    int64_t n_cached = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].end.n_cached, i == 0 ? 0 : static_cast<int64_t>(system.size())) << i;
        EXPECT_EQ(got[i].end.result.n_prompt + got[i].end.n_cached, static_cast<int64_t>(prompts[i].size()));
        EXPECT_EQ(got[i].text, alone(prompts[i], greedy(6)).text) << i;
        n_cached += got[i].end.n_cached;
    }
    EXPECT_EQ(s.stats().cached_tokens, static_cast<uint64_t>(n_cached));
    EXPECT_EQ(s.stats().prompt_tokens, prompts[0].size() + (prompts[1].size() - system.size()) +
                                           (prompts[2].size() - system.size()) + (prompts[3].size() - system.size()));
}

TEST_F(SchedulerTest, IdleSlotsAreEvictedWhenAdmissionNeedsTheirCells) {
    // Room for two sequences' reservations: every admission after the second evicts idle slots.
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 40, .n_cells = 80, .n_batch = 32, .max_queue = 4});
    for (int i = 0; i < 6; ++i) {
        const std::vector<int32_t> prompt = tokens(kPrompts[i]);
        const Outcome got = collect(*submit(s, request(prompt, greedy(-1))));
        ASSERT_EQ(got.end.type, Event::Type::kFinished) << got.end.error.message();
        EXPECT_EQ(got.end.result.finish, FinishReason::kContext);
        EXPECT_EQ(got.end.result.n_generated, 40 - static_cast<int64_t>(prompt.size()) + 1);
        EXPECT_EQ(got.text, alone(prompt, greedy(-1), 40).text) << kPrompts[i];
        EXPECT_LE(s.stats().kv_cells_used, 80);
    }
}

TEST_F(SchedulerTest, ATokenLimitBeyondTheContextEndsAtTheContext) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 40, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    const std::vector<int32_t> prompt = tokens(kPrompts[4]);
    const Outcome got = collect(*submit(s, request(prompt, greedy(std::numeric_limits<int64_t>::max()))));
    EXPECT_EQ(got.end.result.finish, FinishReason::kContext);
    EXPECT_EQ(got.end.result.n_generated, 40 - static_cast<int64_t>(prompt.size()) + 1);
}

TEST_F(SchedulerTest, CancellingARunningRequestFreesItsSlotForAQueuedOne) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 4});
    std::shared_ptr<RequestHandle> endless = submit(s, request(tokens(kPrompts[0]), greedy(-1)));
    Event e;
    ASSERT_TRUE(endless->next(&e, 120s));  // it is running
    std::shared_ptr<RequestHandle> queued = submit(s, request(tokens(kPrompts[1]), greedy(4)));
    endless->cancel();
    const Outcome cancelled = collect(*endless);
    EXPECT_EQ(cancelled.end.result.finish, FinishReason::kCancelled);
    EXPECT_LT(cancelled.end.result.n_generated, 4096 - 10);
    const Outcome next = collect(*queued);
    EXPECT_EQ(next.end.result.finish, FinishReason::kLength);
    EXPECT_EQ(next.text, alone(tokens(kPrompts[1]), greedy(4)).text);
}

// A consumer that needs only the whole result (a response that is not streamed) is not woken
// per token: next() waits for the end, then hands out every event in order without waiting.
TEST_F(SchedulerTest, WithoutTextWakeupsNextWaitsForTheEndThenHandsOutEveryEvent) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    std::shared_ptr<RequestHandle> h = submit(s, request(tokens(kPrompts[2]), greedy(-1)));
    h->set_text_wakeups(false);
    std::atomic<bool> ending{false};
    std::thread ender([&] {
        std::this_thread::sleep_for(100ms);  // tokens go on arriving meanwhile
        ending = true;
        h->cancel();
    });
    std::this_thread::sleep_for(20ms);  // some are waiting already when next() is called
    Event e;
    const bool woken = h->next(&e, 120s);
    EXPECT_TRUE(ending.load()) << "next() returned while the request was still running";
    ender.join();
    ASSERT_TRUE(woken);
    std::vector<Event> events{e};
    while (h->next(&e, 0ms)) events.push_back(e);
    ASSERT_EQ(events.back().type, Event::Type::kFinished);
    const GenerateResult& end = events.back().result;
    EXPECT_EQ(end.finish, FinishReason::kCancelled);
    std::string text;
    int64_t n_tokens = 0;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        text += events[i].text;
        n_tokens += static_cast<int64_t>(events[i].tokens.size());
    }
    EXPECT_GT(n_tokens, 1);
    EXPECT_EQ(n_tokens, end.n_generated);
    EXPECT_EQ(text, end.text);
}

// A streaming consumer of a fast model is woken at most once per text interval: the tokens that
// arrive meanwhile wait for the interval's end and go out together, none lost, in order.
TEST_F(SchedulerTest, WithATextIntervalAWaitingConsumerIsWokenOncePerInterval) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    std::shared_ptr<RequestHandle> h = submit(s, request(tokens(kPrompts[2]), greedy(-1)));
    constexpr auto kInterval = 100ms;
    h->set_text_interval(kInterval);
    std::vector<std::chrono::steady_clock::time_point> wakes;  // when a waiting next() handed out text
    std::vector<Event> events;
    std::thread ender([&] {
        std::this_thread::sleep_for(650ms);
        h->cancel();
    });
    Event e;
    bool ended = false;
    while (!ended && h->next(&e, 120s)) {
        wakes.push_back(std::chrono::steady_clock::now());
        for (;;) {  // the rest of what the wake-up found
            ended = e.type != Event::Type::kText;
            events.push_back(std::move(e));
            if (ended || !h->next(&e, 0ms)) break;
        }
        // A wait shorter than the interval ends with nothing: the text that came meanwhile is held.
        if (wakes.size() == 1 && !ended) {
            EXPECT_FALSE(h->next(&e, 20ms)) << "held text went out within the interval";
        }
    }
    ender.join();
    wakes.pop_back();  // the end's, which comes at once
    ASSERT_FALSE(events.empty());
    ASSERT_EQ(events.back().type, Event::Type::kFinished);
    const GenerateResult& end = events.back().result;
    std::string text;
    int64_t n_tokens = 0;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        text += events[i].text;
        n_tokens += static_cast<int64_t>(events[i].tokens.size());
    }
    EXPECT_EQ(n_tokens, end.n_generated);
    EXPECT_EQ(text, end.text);
    ASSERT_GE(wakes.size(), 3u);
    // (wakes[i - 1] is taken just after the hand-out that starts the interval: a hair later.)
    for (size_t i = 1; i < wakes.size(); ++i)
        EXPECT_GE(wakes[i] - wakes[i - 1], kInterval - 1ms) << "wake-up " << i << " came early";
    EXPECT_GT(n_tokens, static_cast<int64_t>(2 * wakes.size())) << "the tokens did not wait to go out together";
}

// The end is not held to the interval: a request that ends during it is handed out at once.
TEST_F(SchedulerTest, WithATextIntervalTheEndWakesAtOnce) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 1});
    std::shared_ptr<RequestHandle> h = submit(s, request(tokens(kPrompts[1]), greedy(16)));
    h->set_text_interval(10s);
    const auto start = std::chrono::steady_clock::now();
    const Outcome out = collect(*h);
    EXPECT_EQ(out.end.result.finish, FinishReason::kLength);
    EXPECT_EQ(out.end.result.n_generated, 16);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "the end waited for the interval";
}

// Requests queued for cache cells all start when the cells come free: the next step computes
// every prompt, and from then on they decode in lockstep (bench_batched_decode starts its requests
// this way, so that its decode period has no prefill in it).
TEST_F(SchedulerTest, RequestsQueuedForCellsStartTogetherWhenTheCellsFree) {
    const std::vector<std::vector<int32_t>> prompts = {tokens(kPrompts[1]), tokens(kPrompts[3]), tokens(kPrompts[6])};
    constexpr int64_t kPredict = 5, kBatch = 48;  // under kTiledMinQueries (see the file comment)
    int64_t n_cells = 0, n_prompt = 0;
    for (const std::vector<int32_t>& p : prompts) {
        n_cells += static_cast<int64_t>(p.size()) + kPredict - 1;  // what each reserves
        n_prompt += static_cast<int64_t>(p.size());
    }
    ASSERT_LE(n_prompt, kBatch);  // one step holds all three prompts
    Scheduler s(*model_, *tokenizer_,
                {.n_parallel = 3, .n_ctx = n_cells, .n_cells = n_cells, .n_batch = kBatch, .max_queue = 3});
    // A token limit past n_ctx reserves n_ctx, every cell, so the others queue behind it; with
    // context shift it runs until cancelled (without, it could fill its cells and end by itself
    // before the three are queued, on a loaded machine).
    GenerateOptions endless = greedy(std::numeric_limits<int64_t>::max());
    endless.context_shift = true;
    std::shared_ptr<RequestHandle> holder = submit(s, request({tokens(kPrompts[0])[0]}, endless));
    Event e;
    ASSERT_TRUE(holder->next(&e, 120s));  // it is running
    std::vector<std::shared_ptr<RequestHandle>> queued;
    for (const std::vector<int32_t>& p : prompts) queued.push_back(submit(s, request(p, greedy(kPredict))));
    EXPECT_EQ(s.stats().waiting, 3);
    holder->cancel();
    const Outcome held = collect(*holder);
    ASSERT_EQ(held.end.result.finish, FinishReason::kCancelled);
    std::vector<Outcome> got;
    for (auto& h : queued) got.push_back(collect(*h));
    // The holder took one token from each of its steps; then one step computed the three prompts
    // (each request's first token) and kPredict - 1 steps decoded all three.
    EXPECT_EQ(s.stats().steps, static_cast<uint64_t>(held.end.result.n_generated + kPredict));
    // (the references only now: the model runs one forward pass at a time)
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].end.result.finish, FinishReason::kLength) << i;
        EXPECT_EQ(got[i].text, alone(prompts[i], greedy(kPredict)).text) << i;
    }
}

TEST_F(SchedulerTest, ARequestPastItsDeadlineEndsWithDeadline) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 4});
    Request r = request(tokens(kPrompts[0]), greedy(-1));
    r.deadline = Clock::now() + 100ms;
    std::shared_ptr<RequestHandle> running = submit(s, std::move(r));
    Request late = request(tokens(kPrompts[1]), greedy(4));
    late.deadline = Clock::now();  // already passed when the engine looks at it
    std::shared_ptr<RequestHandle> queued = submit(s, std::move(late));
    const Outcome a = collect(*running);
    EXPECT_EQ(a.end.result.finish, FinishReason::kDeadline);
    const Outcome b = collect(*queued);
    EXPECT_EQ(b.end.result.finish, FinishReason::kDeadline);
    EXPECT_EQ(b.end.result.n_generated, 0);
}

TEST_F(SchedulerTest, AFullQueueRefusesWithQueueFull) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    std::shared_ptr<RequestHandle> running = submit(s, request(tokens(kPrompts[0]), greedy(-1)));
    Event e;
    ASSERT_TRUE(running->next(&e, 120s));
    std::shared_ptr<RequestHandle> q1 = submit(s, request(tokens(kPrompts[1]), greedy(2)));
    std::shared_ptr<RequestHandle> q2 = submit(s, request(tokens(kPrompts[2]), greedy(2)));
    Scheduler::Submitted refused = s.submit(request(tokens(kPrompts[3]), greedy(2)));
    EXPECT_EQ(refused.handle, nullptr);
    EXPECT_EQ(refused.error, Scheduler::SubmitError::kQueueFull);
    EXPECT_NE(refused.message.find("queue is full"), std::string::npos) << refused.message;
    EXPECT_EQ(s.stats().waiting, 2);
    running->cancel();
    EXPECT_EQ(collect(*q1).end.result.finish, FinishReason::kLength);
    EXPECT_EQ(collect(*q2).end.result.finish, FinishReason::kLength);
}

TEST_F(SchedulerTest, InvalidRequestsAreRefusedWithAMessageNamingTheField) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 64, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    auto refuse = [&](Request r, const std::string& field) {
        Scheduler::Submitted sub = s.submit(std::move(r));
        EXPECT_EQ(sub.handle, nullptr) << field;
        EXPECT_EQ(sub.error, Scheduler::SubmitError::kInvalid) << field;
        EXPECT_NE(sub.message.find(field), std::string::npos) << sub.message;
    };
    refuse(request({}, greedy(4)), "prompt");
    refuse(request(std::vector<int32_t>(64, tokens("a")[0]), greedy(4)), "prompt");
    refuse(request({tokenizer_->n_vocab()}, greedy(4)), "prompt");
    GenerateOptions hot = greedy(4);
    hot.sampling.temperature = -1.0f;
    refuse(request(tokens("hi"), hot), "temperature");
    GenerateOptions top = greedy(4);
    top.sampling.top_p = 1.5f;
    refuse(request(tokens("hi"), top), "top_p");
    refuse(request(tokens("hi"), greedy(0)), "n_predict");
    EXPECT_EQ(s.stats().waiting, 0);
}

TEST_F(SchedulerTest, DrainFinishesWhatRunsAndRefusesNewRequests) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 8});
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (int i = 0; i < 4; ++i) handles.push_back(submit(s, request(tokens(kPrompts[i]), greedy(8))));
    s.drain(600s);
    Scheduler::Submitted refused = s.submit(request(tokens(kPrompts[5]), greedy(2)));
    EXPECT_EQ(refused.error, Scheduler::SubmitError::kShuttingDown);
    for (auto& h : handles) {
        const Outcome o = collect(*h);
        EXPECT_EQ(o.end.result.finish, FinishReason::kLength);
        EXPECT_EQ(o.end.result.n_generated, 8);
    }
}

TEST_F(SchedulerTest, DrainCancelsWhatIsLeftAfterTheGrace) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 8});
    std::shared_ptr<RequestHandle> running = submit(s, request(tokens(kPrompts[0]), greedy(-1)));
    std::shared_ptr<RequestHandle> queued = submit(s, request(tokens(kPrompts[1]), greedy(-1)));
    s.drain(0ms);
    EXPECT_EQ(collect(*running).end.result.finish, FinishReason::kCancelled);
    EXPECT_EQ(collect(*queued).end.result.finish, FinishReason::kCancelled);
}

TEST_F(SchedulerTest, DestroyingTheSchedulerFailsWhatIsLeft) {
    std::shared_ptr<RequestHandle> running, queued;
    {
        Scheduler s(*model_, *tokenizer_,
                    {.n_parallel = 1, .n_ctx = 4096, .n_cells = 0, .n_batch = 32, .max_queue = 8});
        running = submit(s, request(tokens(kPrompts[0]), greedy(-1)));
        queued = submit(s, request(tokens(kPrompts[1]), greedy(-1)));
        Event e;
        ASSERT_TRUE(running->next(&e, 120s));
    }
    const Outcome a = collect(*running), b = collect(*queued);
    EXPECT_EQ(a.end.type, Event::Type::kFailed);
    EXPECT_NE(a.end.error.message().find("shutting down"), std::string::npos);
    EXPECT_EQ(b.end.type, Event::Type::kFailed);
}

TEST_F(SchedulerTest, ReasoningBudgetForcesTheEndOfThinking) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    const int32_t open = *tokenizer_->find_token("<think>"), close = *tokenizer_->find_token("</think>");
    std::vector<int32_t> prompt = tokens("Why is the sky blue?");
    prompt.push_back(open);  // as R1 templates end: generation starts inside the reasoning
    prompt.push_back(tokens("\n")[0]);
    GenerateOptions o = greedy(10);
    o.sampling.logit_bias[open] = sampling::kBanBias;
    o.sampling.logit_bias[close] = sampling::kBanBias;  // only the budget can end the thinking
    Request r = request(prompt, o);
    r.max_reasoning_tokens = 3;
    const Outcome got = collect(*submit(s, std::move(r)));
    std::vector<TokenInfo> infos;
    for (const Event& e : got.texts) infos.insert(infos.end(), e.tokens.begin(), e.tokens.end());
    ASSERT_EQ(infos.size(), 10u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(infos[i].kind, TextKind::kReasoning) << i;
        EXPECT_FALSE(infos[i].forced);
    }
    EXPECT_EQ(infos[3].token, close);
    EXPECT_TRUE(infos[3].forced);
    for (size_t i = 4; i < infos.size(); ++i) EXPECT_EQ(infos[i].kind, TextKind::kAnswer) << i;
    std::string reasoning, answer;
    for (const Event& e : got.texts) (e.kind == TextKind::kReasoning ? reasoning : answer) += e.text;
    EXPECT_EQ(got.end.result.answer, answer);
    EXPECT_EQ(got.end.result.text, reasoning + answer);
    EXPECT_EQ(got.end.result.confidence.n_tokens, 6);  // the answer's tokens only
}

TEST_F(SchedulerTest, AStopStringEndsTheOutputBeforeIt) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 2, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    const std::vector<int32_t> prompt = tokens(kPrompts[6]);
    const Outcome full = collect(*submit(s, request(prompt, greedy(24))));
    ASSERT_GE(full.text.size(), 12u);
    // A stop string from the middle of the text, cut where it first occurs.
    const std::string stop = full.text.substr(full.text.size() / 2, 3);
    const size_t at = full.text.find(stop);
    GenerateOptions o = greedy(24);
    o.sampling.stop = {stop};
    const Outcome cut = collect(*submit(s, request(prompt, o)));
    EXPECT_EQ(cut.text, full.text.substr(0, at));
    EXPECT_EQ(cut.end.result.finish, FinishReason::kStop);
    EXPECT_EQ(cut.text, alone(prompt, o).text);
}

TEST_F(SchedulerTest, AnEndOfGenerationTokenStops) {
    Scheduler s(*model_, *tokenizer_, {.n_parallel = 1, .n_ctx = 128, .n_cells = 0, .n_batch = 32, .max_queue = 2});
    GenerateOptions o = greedy(8, /*ban_eog=*/false);
    o.sampling.logit_bias[tokenizer_->eos_id()] = 100.0f;  // the model now ends at once
    const Outcome got = collect(*submit(s, request(tokens(kPrompts[3]), o)));
    EXPECT_EQ(got.end.result.finish, FinishReason::kStop);
    EXPECT_EQ(got.end.result.n_generated, 1);
    EXPECT_EQ(got.text, "");
}

}  // namespace
}  // namespace sinan::engine
