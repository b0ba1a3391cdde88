// One token against short and long rows, alternated in one process: the 1.5B shape's FFN up matrix
// (1536 values a row, 8960 rows) and its FFN down matrix (8960 values a row, 1536 rows), both of
// one type, packed as a model loads them where this CPU's kernels have a layout for the type (else
// its rows as they are), each read from memory (copies over 512 MiB, cycled) on 2 threads through
// kernels::matmul. Each round times 24 products of the short rows, 24 of the long ones, 24 of the
// short again, and prints the GB/s of weights and long / short; the summary gives the medians over
// all rounds and over the fastest and slowest thirds by the short rows' rate. The host's memory
// has fast and slow spells a few seconds long (bench/NOTES.md): one round is ~20 ms, so both
// shapes of a round see the same spell, where separate runs of bench_kernels do not. Made to find
// why the long rows read less in fast spells (2026-12-06): a kernel change shows as a ratio closer
// to 1.
//
//   bench_row_lengths [--type q4_k|q6_k|q8_0|f16] [--rounds N] [--threads T]
// (defaults: q4_k, 300 rounds, 2 threads; --benchmark_* arguments, from scripts/run-bench.sh, ignored)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/huge_pages.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace {

using sinan::gguf::TensorType;
namespace kernels = sinan::kernels;

constexpr uint64_t kBytes = 512ull << 20;  // of copies per shape: well past any cache
constexpr int kProductsPerTiming = 24;

// Copies of one random matrix, packed where the type has a packed layout (else its rows).
struct Weights {
    int64_t cols = 0, rows = 0;
    uint64_t bytes_per_copy = 0;
    int64_t n_copies = 0;
    bool packed = false;
    std::vector<uint8_t> raw;  // one copy in the rows' layout (matmul wants it beside the panels)
    sinan::HugePageBuffer copies;

    kernels::Matrix copy(TensorType type, int64_t c) const {
        const uint8_t* at = static_cast<const uint8_t*>(copies.data()) + c * bytes_per_copy;
        return packed ? kernels::Matrix{type, raw.data(), cols, rows, at} : kernels::Matrix{type, at, cols, rows};
    }
};

Weights make_weights(TensorType type, int64_t cols, int64_t rows) {
    Weights w;
    w.cols = cols;
    w.rows = rows;
    std::mt19937 rng(2);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> values(cols * rows);
    for (float& v : values) v = dist(rng);
    w.bytes_per_copy = sinan::gguf::row_bytes(type, values.size());
    w.raw.resize(w.bytes_per_copy);
    kernels::quantize_row(type, values.data(), w.raw.data(), static_cast<int64_t>(values.size()));
    w.n_copies = static_cast<int64_t>(kBytes / w.bytes_per_copy);
    sinan::Result<sinan::HugePageBuffer> buffer = sinan::HugePageBuffer::allocate(w.bytes_per_copy * w.n_copies);
    if (!buffer.ok()) {
        std::fprintf(stderr, "bench_row_lengths: %s\n", buffer.message().c_str());
        std::exit(1);
    }
    w.copies = std::move(buffer).value();
    sinan::ThreadPool pool(1);
    const kernels::Matrix m{type, w.raw.data(), cols, rows};
    w.packed = kernels::packed_bytes(m) > 0;
    for (int64_t c = 0; c < w.n_copies; ++c) {
        auto* out = static_cast<uint8_t*>(w.copies.data()) + c * w.bytes_per_copy;
        if (w.packed)
            kernels::pack_matrix(m, out, pool);
        else
            std::memcpy(out, w.raw.data(), w.bytes_per_copy);
    }
    return w;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string type_name = "q4_k";
    int rounds = 300, threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--benchmark_", 0) == 0) continue;  // scripts/run-bench.sh's, for Google Benchmark
        if (a == "--type" && i + 1 < argc)
            type_name = argv[++i];
        else if (a == "--rounds" && i + 1 < argc)
            rounds = std::max(3, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc)
            threads = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: bench_row_lengths [--type q4_k|q6_k|q8_0|f16] [--rounds N] [--threads T]\n");
            return 2;
        }
    }
    const TensorType type = type_name == "q6_k"   ? TensorType::Q6_K
                            : type_name == "q8_0" ? TensorType::Q8_0
                            : type_name == "f16"  ? TensorType::F16
                                                  : TensorType::Q4_K;
    if (type == TensorType::Q4_K && type_name != "q4_k") {
        std::fprintf(stderr, "bench_row_lengths: --type is q4_k, q6_k, q8_0 or f16, not %s\n", type_name.c_str());
        return 2;
    }
    Weights short_rows = make_weights(type, 1536, 8960), long_rows = make_weights(type, 8960, 1536);
    sinan::ThreadPool pool(threads);
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(8960), y(8960);
    for (float& v : x) v = dist(rng);
    // GB/s of weights over kProductsPerTiming products of w, the copies taken in turn from *next.
    auto time = [&](const Weights& w, int64_t* next) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kProductsPerTiming; ++i) {
            kernels::matmul(w.copy(type, *next), x.data(), 1, y.data(), pool);
            *next = (*next + 1) % w.n_copies;
        }
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        return static_cast<double>(kProductsPerTiming * w.bytes_per_copy) / took.count() / 1e9;
    };
    std::printf("%s, one token, %d threads: GB/s of weights; rows of 1536 values (short), 8960 (long)\n",
                type_name.c_str(), threads);
    std::printf("%6s %8s %8s %8s %11s\n", "round", "short", "long", "short", "long/short");
    struct Round {
        double short_rate, long_rate;
    };
    std::vector<Round> all;
    int64_t next_short = 0, next_long = 0;
    for (int r = 0; r < rounds; ++r) {
        const double s1 = time(short_rows, &next_short), l = time(long_rows, &next_long),
                     s2 = time(short_rows, &next_short);
        all.push_back({(s1 + s2) / 2, l});
        std::printf("%6d %8.1f %8.1f %8.1f %11.3f\n", r, s1, l, s2, l / ((s1 + s2) / 2));
    }
    std::sort(all.begin(), all.end(), [](const Round& a, const Round& b) { return a.short_rate < b.short_rate; });
    auto summary = [&](const char* name, size_t first, size_t end) {
        std::vector<double> s, l, ratio;
        for (size_t i = first; i < end; ++i) {
            s.push_back(all[i].short_rate);
            l.push_back(all[i].long_rate);
            ratio.push_back(all[i].long_rate / all[i].short_rate);
        }
        std::printf("%-16s rounds %4zu  short %6.1f  long %6.1f  long/short %.3f (medians)\n", name, end - first,
                    median(s), median(l), median(ratio));
    };
    summary("all", 0, all.size());
    summary("slowest third", 0, all.size() / 3);
    summary("fastest third", all.size() - all.size() / 3, all.size());
}
