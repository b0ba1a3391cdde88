// Sampler::sample() time per token at n_vocab = 151936 (Qwen2 / DeepSeek-R1-Distill-Qwen) with
// the settings requests commonly carry. Limit printed beside it: BM_ReadLogitsOnce, a plain
// multi-accumulator read of the same logits, i.e. the least any sampler that looks at every logit
// can cost. The logits rotate over kRows rows (311 MB, above the last-level cache) so each token
// reads its row from memory, as the next step of a large batch would.
// `bench_sampling --benchmark_counters_tabular=true`.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "sampling/sampler.h"

namespace {

using sinan::sampling::Sampler;
using sinan::sampling::SamplingParams;

constexpr int32_t kVocab = 151936;
constexpr size_t kRows = 512;

std::vector<float> rows_of(const std::vector<float>& row) {
    std::vector<float> all(kRows * kVocab);
    for (size_t r = 0; r < kRows; ++r) std::copy(row.begin(), row.end(), all.begin() + r * kVocab);
    return all;
}

// kRows copies of one row of normal logits (mean 0, `stddev`), with `favourites` tokens lifted
// to 14, 15, ... above the body.
std::vector<float> normal_rows(uint32_t seed, float stddev, int favourites) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> body(0.0f, stddev);
    std::vector<float> row(kVocab);
    for (float& v : row) v = body(gen);
    for (int i = 0; i < favourites; ++i) row[gen() % kVocab] = 14.0f + static_cast<float>(i);
    return rows_of(row);
}

// Logits shaped like a language model's: a broad normal body and a few clear favourites.
const std::vector<float>& logits() {
    static const std::vector<float> rows = normal_rows(1, 2.5f, 8);
    return rows;
}

// Logits of a model with random weights (the synthetic models of the benchmarks and tests): a
// narrow normal and no favourite, so top-p keeps most of the vocabulary.
const std::vector<float>& flat_logits() {
    static const std::vector<float> rows = normal_rows(2, 0.5f, 0);
    return rows;
}

// The server's case at 8 streams: 8 sequences' logits (4.9 MB) sampled in turn, in cache.
constexpr size_t kCachedRows = 8;
std::span<const float> flat_row_cached(size_t r) {
    return {flat_logits().data() + (r % kCachedRows) * kVocab, static_cast<size_t>(kVocab)};
}

std::span<const float> row(size_t r) { return {logits().data() + (r % kRows) * kVocab, static_cast<size_t>(kVocab)}; }
std::span<const float> flat_row(size_t r) {
    return {flat_logits().data() + (r % kRows) * kVocab, static_cast<size_t>(kVocab)};
}

void report(benchmark::State& state) {
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * kVocab * static_cast<int64_t>(sizeof(float)));
}

void BM_ReadLogitsOnce(benchmark::State& state) {
    row(0);  // builds the rows before the clock runs (first touch of 311 MB is slow on some VMs)
    size_t r = 0;
    for (auto _ : state) {
        const std::span<const float> x = row(r++);
        float acc[8] = {};
        for (size_t i = 0; i + 8 <= x.size(); i += 8) {
            for (size_t j = 0; j < 8; ++j) acc[j] += x[i + j];
        }
        benchmark::DoNotOptimize(acc);
    }
    report(state);
}
BENCHMARK(BM_ReadLogitsOnce);

void run_sampler(benchmark::State& state, const SamplingParams& params, std::span<const float> (*next)(size_t) = row) {
    sinan::Result<Sampler> sampler = Sampler::create(params, kVocab);
    if (!sampler.ok()) {
        state.SkipWithError(sampler.message().c_str());
        return;
    }
    next(0);  // builds the rows before the clock runs, as BM_ReadLogitsOnce does
    size_t r = 0;
    for (auto _ : state) {
        const sinan::sampling::TokenChoice c = sampler->sample(next(r++)).value();
        sampler->accept(c.token);
        benchmark::DoNotOptimize(c.token);
    }
    report(state);
}

void BM_SampleGreedy(benchmark::State& state) {
    SamplingParams p;
    p.temperature = 0.0f;
    run_sampler(state, p);
}
BENCHMARK(BM_SampleGreedy);

void BM_SampleOpenAIDefault(benchmark::State& state) {  // temperature 1, no truncation
    SamplingParams p;
    p.seed = 1;
    run_sampler(state, p);
}
BENCHMARK(BM_SampleOpenAIDefault);

// DeepSeek-R1's recommended sampling: T 0.6, top_p 0.95.
SamplingParams r1_params() {
    SamplingParams p;
    p.seed = 1;
    p.temperature = 0.6f;
    p.top_p = 0.95f;
    return p;
}

void BM_SampleTopP(benchmark::State& state) {
    run_sampler(state, r1_params());
}
BENCHMARK(BM_SampleTopP);

void BM_SampleTopPFlat(benchmark::State& state) {  // the same on a random-weight model's logits
    run_sampler(state, r1_params(), flat_row);
}
BENCHMARK(BM_SampleTopPFlat);

void BM_SampleTopPFlatCached(benchmark::State& state) {  // the same with the logits of 8 sequences in cache
    run_sampler(state, r1_params(), flat_row_cached);
}
BENCHMARK(BM_SampleTopPFlatCached);

void BM_SampleLlamaCppDefault(benchmark::State& state) {  // top_k 40, top_p 0.95, min_p 0.05, T 0.8
    SamplingParams p;
    p.seed = 1;
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    run_sampler(state, p);
}
BENCHMARK(BM_SampleLlamaCppDefault);

void BM_SamplePenaltiesAndLogprobs(benchmark::State& state) {
    SamplingParams p;
    p.seed = 1;
    p.temperature = 0.7f;
    p.top_p = 0.9f;
    p.repetition_penalty = 1.1f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.3f;
    p.n_logprobs = 5;
    run_sampler(state, p);
}
BENCHMARK(BM_SamplePenaltiesAndLogprobs);

// A new request's sampler (the engine's admission): a new one, or an ended request's restarted
// (its buffers kept), then its first token from the 8 cached rows.
void BM_NewRequestCreate(benchmark::State& state) {
    flat_row_cached(0);
    size_t r = 0;
    for (auto _ : state) {
        sinan::Result<Sampler> sampler = Sampler::create(r1_params(), kVocab);
        benchmark::DoNotOptimize(sampler->sample(flat_row_cached(r++))->token);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewRequestCreate);

void BM_NewRequestRestart(benchmark::State& state) {
    flat_row_cached(0);
    sinan::Result<Sampler> sampler = Sampler::create(r1_params(), kVocab);
    size_t r = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(sampler->restart(r1_params()).is_ok());
        benchmark::DoNotOptimize(sampler->sample(flat_row_cached(r++))->token);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewRequestRestart);

}  // namespace

BENCHMARK_MAIN();
