// sample() must not allocate after the first call: a serving engine samples every sequence every
// step. This executable replaces the global operator new to count allocations.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "sampling/sampler.h"
#include "test_reference.h"

namespace {
std::atomic<long> g_allocations{0};
std::atomic<long> g_bytes{0};
}  // namespace

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(static_cast<long>(size), std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sinan::sampling {
namespace {

TEST(SamplerAllocations, SampleAllocatesNothingAfterCreation) {
    constexpr int32_t kVocab = 32000;
    const std::vector<float> logits = test::random_logits(kVocab, 41);
    std::vector<SamplingParams> settings(6);
    settings[0].temperature = 0.0f;
    settings[1].top_k = 40;
    settings[1].top_p = 0.95f;
    settings[1].min_p = 0.05f;
    settings[2].top_p = 0.9f;
    settings[3].repetition_penalty = 1.1f;
    settings[3].presence_penalty = 0.5f;
    settings[3].frequency_penalty = 0.5f;
    settings[3].logit_bias = {{5, -100.0f}, {6, 2.0f}};
    settings[4].n_logprobs = 20;
    settings[5].temperature = 1.3f;
    for (size_t k = 0; k < settings.size(); ++k) {
        settings[k].seed = k;
        Result<Sampler> s = Sampler::create(settings[k], kVocab);
        ASSERT_TRUE(s.ok());
        for (int step = 0; step < 50; ++step) {
            const long before = g_allocations.load();
            const TokenChoice c = s->sample(logits).value();
            EXPECT_EQ(g_allocations.load(), before) << "settings " << k << " step " << step;
            s->accept(c.token);  // accept may grow its count table; it is not the per-token hot path
        }
    }
}

TEST(SamplerAllocations, RestartKeepsTheVocabularySizedBuffers) {
    // A new sampler allocates its buffers (about 20 bytes per token); a restarted one only what
    // the new params need (the repetition window, the count tables, the biases).
    constexpr int32_t kVocab = 32000;
    const std::vector<float> logits = test::random_logits(kVocab, 42);
    SamplingParams p;
    p.seed = 1;
    p.top_p = 0.9f;
    const long before_create = g_bytes.load();
    Result<Sampler> s = Sampler::create(p, kVocab);
    ASSERT_TRUE(s.ok());
    const long created = g_bytes.load() - before_create;
    EXPECT_GT(created, static_cast<long>(kVocab * 3 * sizeof(float)));
    s->accept(s->sample(logits)->token);

    p.seed = 2;
    p.top_p = 0.5f;
    p.logit_bias = {{3, 1.0f}};
    const long before_restart = g_bytes.load();
    ASSERT_TRUE(s->restart(p).is_ok());
    const long restarted = g_bytes.load() - before_restart;
    EXPECT_LT(restarted, static_cast<long>(kVocab * sizeof(float)) / 4) << "created: " << created;
    const long before_sample = g_allocations.load();
    s->accept(s->sample(logits)->token);
    EXPECT_EQ(g_allocations.load(), before_sample);
}

TEST(SamplerAllocations, TheCounterSeesAllocations) {
    const long before = g_allocations.load();
    auto* v = new std::vector<int>(100);
    EXPECT_GT(g_allocations.load(), before);
    delete v;
}

}  // namespace
}  // namespace sinan::sampling
