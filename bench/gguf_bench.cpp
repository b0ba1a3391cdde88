// GGUF open time: mmap + parse of the header (metadata with the whole vocabulary, tensor infos)
// of a real-shape model. The model comes from SINAN_BENCH_MODEL (scripts/run-bench.sh writes an
// r1-distill-qwen-1.5b-shaped Q8_0 file with the real DeepSeek-R1-Distill-Qwen vocabulary).
// Limit printed beside it: the time to read the header's bytes once at the memory bandwidth a
// plain memcpy of the same bytes reaches in the same run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "gguf/gguf.h"

namespace {

const char* model_path() {
    const char* p = std::getenv("SINAN_BENCH_MODEL");
    return p != nullptr ? p : "";
}

void BM_GgufOpen(benchmark::State& state) {
    const std::string path = model_path();
    if (path.empty()) {
        state.SkipWithError("set SINAN_BENCH_MODEL to a .gguf file (scripts/run-bench.sh does)");
        return;
    }
    uint64_t header = 0;
    size_t n_tensors = 0, n_kv = 0;
    for (auto _ : state) {
        sinan::Result<sinan::gguf::File> f = sinan::gguf::File::open(path);
        if (!f.ok()) {
            state.SkipWithError(f.message().c_str());
            return;
        }
        header = f->data_offset();
        n_tensors = f->tensors().size();
        n_kv = f->metadata().size();
        benchmark::DoNotOptimize(f->tensors().data());
    }
    state.counters["header_MB"] = static_cast<double>(header) / 1e6;
    state.counters["tensors"] = static_cast<double>(n_tensors);
    state.counters["keys"] = static_cast<double>(n_kv);
}
BENCHMARK(BM_GgufOpen)->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);

// The limit: copying the header's bytes once.
void BM_HeaderMemcpyLimit(benchmark::State& state) {
    const std::string path = model_path();
    sinan::Result<sinan::gguf::File> f = sinan::gguf::File::open(path);
    if (path.empty() || !f.ok()) {
        state.SkipWithError("set SINAN_BENCH_MODEL");
        return;
    }
    std::vector<uint8_t> src(f->data_offset(), 1), dst(f->data_offset());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
}
BENCHMARK(BM_HeaderMemcpyLimit)->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
