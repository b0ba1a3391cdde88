// Kernel throughput per SIMD level: dequantize (GB/s of quantized bytes read) and dot_f32 (GB/s of
// floats read), with the rows streamed from memory as a matrix-vector product streams its weights;
// and matmul on a 1536x8960 weight matrix (Qwen2-1.5B's FFN) in Q8_0, Q4_K, Q6_K, F16 and F32, for
// decode (1 token: weight GB/s, memory-bound) and prefill (128 tokens: GFLOP/s, arithmetic-bound),
// on one thread, activation quantization included; decode and 8 tokens also on 2 threads. Limit
// printed beside them: ReadBandwidthLimit, a multi-accumulator read loop over a buffer of the same
// size (plain x86-64, with 64-byte loads, and on 2 threads, there also on 2 MiB pages), measured in
// the same run. Q8_0, Q4_K and Q6_K also with the weights repacked for the active level's kernel,
// as models load them (there also the FFN down matrix, 8960x1536, and the output head, 1536x151936,
// decoding one and 8 tokens on 2 threads; in Q8_0 also the tiny synthetic model's output head,
// 256x151936, about half of a served step of it); and every type but F32 from cache (one small matrix, in
// place and packed: the kernel's own speed; packed also against 128 tokens prepared once, the
// prompt kernel's own speed). Levels this CPU cannot run are skipped. And decoding's
// attention over an F16 and a Q8_0 cache, the kernels against the same steps one call at a time
// (AttentionSmallBatch). And what bounds a vpdpbusd loop on this core (VnniLoop: its loads). And a
// whole decoding step's matrix products of the 1.5B shape in the model's order (DecodeStep1.5B).
// `bench_kernels --benchmark_counters_tabular=true`. Rates use CPU time, which keeps them
// meaningful on a shared machine, except the 2-thread ones (wall time: the second thread's CPU time
// is not the caller's); wall time is printed too.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/cpu.h"
#include "base/huge_pages.h"
#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace {

using sinan::cpu::Level;
using sinan::gguf::TensorType;
namespace kernels = sinan::kernels;

constexpr int64_t kRow = 4096;                 // values per row: a typical hidden size
constexpr uint64_t kMatrixBytes = 1ull << 30;  // well above the last-level cache (260 MiB on big Xeons)

// kMatrixBytes of rows of `type` (one quantized random row, repeated: the values do not change
// the work, the bytes still come from memory). One matrix is kept at a time; benchmarks are
// registered grouped by type so each is built once.
const std::vector<uint8_t>& matrix(TensorType type) {
    static TensorType cached_type = TensorType::F32;
    static std::vector<uint8_t> cached;
    if (!cached.empty() && cached_type == type) return cached;
    cached = {};
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> row(kRow);
    for (float& x : row) x = dist(rng);
    const uint64_t row_bytes = sinan::gguf::row_bytes(type, kRow);
    std::vector<uint8_t> m(kMatrixBytes / row_bytes * row_bytes);
    kernels::quantize_row(type, row.data(), m.data(), kRow);
    for (uint64_t off = row_bytes; off < m.size(); off += row_bytes) std::memcpy(&m[off], m.data(), row_bytes);
    cached = std::move(m);
    cached_type = type;
    return cached;
}

// Dequantizes every row of the matrix into one cache-resident row buffer.
void BM_Dequantize(benchmark::State& state, TensorType type, Level level) {
    if (!sinan::cpu::runnable(level)) {
        state.SkipWithError("this CPU cannot run this level");
        return;
    }
    const kernels::DequantizeFn fn = kernels::kernel_table(level).dequantize[static_cast<int>(type)];
    const std::vector<uint8_t>& m = matrix(type);
    const uint64_t row_bytes = sinan::gguf::row_bytes(type, kRow);
    std::vector<float> out(kRow);
    for (auto _ : state) {
        for (uint64_t off = 0; off < m.size(); off += row_bytes) {
            fn(m.data() + off, out.data(), kRow);
            benchmark::DoNotOptimize(out.data());
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}

// dot_f32 of every row of an F32 matrix with one cache-resident vector (a matrix-vector product).
void BM_DotF32(benchmark::State& state, Level level) {
    if (!sinan::cpu::runnable(level)) {
        state.SkipWithError("this CPU cannot run this level");
        return;
    }
    const kernels::DotF32Fn fn = kernels::kernel_table(level).dot_f32;
    const std::vector<uint8_t>& m = matrix(TensorType::F32);
    const std::vector<float> x(kRow, 0.5f);
    const uint64_t row_bytes = kRow * sizeof(float);
    for (auto _ : state) {
        float s = 0;
        for (uint64_t off = 0; off < m.size(); off += row_bytes)
            s += fn(reinterpret_cast<const float*>(m.data() + off), x.data(), kRow);
        benchmark::DoNotOptimize(s);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}

// A weight matrix's shape: cols values per row (the input), rows of them (the output).
struct Shape {
    int64_t cols, rows;
    std::string name() const { return "Matmul" + std::to_string(cols) + "x" + std::to_string(rows); }
    int64_t values() const { return cols * rows; }
};
constexpr Shape kFfnUp{1536, 8960};        // Qwen2-1.5B's FFN gate and up matrices
constexpr Shape kFfnDown{8960, 1536};      // its FFN down matrix (Q6_K in half the layers of a Q4_K_M file)
constexpr Shape kOutput{1536, 151936};     // its output head (Q6_K in a Q4_K_M file)
constexpr Shape kTinyOutput{256, 151936};  // the output head of `sinan model synth --shape tiny` (serving benchmarks)

// Copies of a matrix of `type` and `shape` filling kMatrixBytes, so that cycling through them
// reads the weights from memory, as decoding a real model does (one copy would stay in a large
// cache). One matrix is kept at a time; benchmarks are registered grouped so each is built once.
struct MatmulWeights {
    TensorType type;
    Shape shape;
    uint64_t bytes_per_copy;
    std::vector<uint8_t> data;
};

bool operator==(const Shape& a, const Shape& b) { return a.cols == b.cols && a.rows == b.rows; }

const MatmulWeights& matmul_weights(TensorType type, Shape shape) {
    static MatmulWeights cached{TensorType::F32, {0, 0}, 0, {}};
    if (!cached.data.empty() && cached.type == type && cached.shape == shape) return cached;
    cached.data = {};
    std::mt19937 rng(2);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> values(shape.values());
    for (float& x : values) x = dist(rng);
    const uint64_t per_copy = sinan::gguf::row_bytes(type, values.size());
    std::vector<uint8_t> m(std::max<uint64_t>(1, kMatrixBytes / per_copy) * per_copy);
    kernels::quantize_row(type, values.data(), m.data(), static_cast<int64_t>(values.size()));
    for (uint64_t off = per_copy; off < m.size(); off += per_copy) std::memcpy(&m[off], m.data(), per_copy);
    cached = {type, shape, per_copy, std::move(m)};
    return cached;
}

// The same copies repacked for the active level's matrix kernel (kernels::pack_matrix), on 2 MiB
// pages, as a model loads them (Model::pack_matrices); empty where the type has no packed layout
// (or the memory could not be mapped).
const sinan::HugePageBuffer& packed_weights(TensorType type, Shape shape) {
    static TensorType cached_type = TensorType::F32;
    static Shape cached_shape{0, 0};
    static sinan::HugePageBuffer cached;
    if (cached.size() != 0 && cached_type == type && cached_shape == shape) return cached;
    const MatmulWeights& w = matmul_weights(type, shape);
    const kernels::Matrix one{type, w.data.data(), shape.cols, shape.rows};
    const uint64_t per_copy = kernels::packed_bytes(one);
    cached = {};
    cached_type = type;
    cached_shape = shape;
    if (per_copy == 0 || per_copy != w.bytes_per_copy) return cached;  // packed copies keep the copies' offsets
    sinan::Result<sinan::HugePageBuffer> b = sinan::HugePageBuffer::allocate(w.data.size());
    if (!b.ok()) return cached;
    cached = std::move(b).value();
    sinan::ThreadPool pool(1);
    for (uint64_t off = 0; off < w.data.size(); off += per_copy) {
        const kernels::Matrix m{type, w.data.data() + off, shape.cols, shape.rows};
        kernels::pack_matrix(m, static_cast<uint8_t*>(cached.data()) + off, pool);
    }
    return cached;
}

// y[t, r] = W[r, :] . x[t, :] for n_tokens tokens on n_threads threads (the caller included, as
// the model runs); one copy of W per iteration, in turn. packed: W repacked as a model loads it
// (only the active level has a packed layout).
void BM_Matmul(benchmark::State& state, TensorType type, Shape shape, Level level, int64_t n_tokens, int n_threads,
               bool packed) {
    if (!sinan::cpu::runnable(level)) {
        state.SkipWithError("this CPU cannot run this level");
        return;
    }
    if (packed && (std::string(kernels::active_path()) != sinan::cpu::level_name(level) ||
                   packed_weights(type, shape).size() == 0)) {
        state.SkipWithError("no packed layout for this type on the active level (or no memory for it)");
        return;
    }
    const MatmulWeights& w = matmul_weights(type, shape);
    const uint8_t* panels = packed ? static_cast<const uint8_t*>(packed_weights(type, shape).data()) : nullptr;
    const kernels::KernelTable& table = kernels::kernel_table(level);
    sinan::ThreadPool pool(n_threads);
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n_tokens * shape.cols);
    for (float& v : x) v = dist(rng);
    std::vector<float> y(n_tokens * shape.rows);
    uint64_t off = 0;
    for (auto _ : state) {
        const kernels::Matrix m{type, w.data.data() + off, shape.cols, shape.rows, panels ? panels + off : nullptr};
        kernels::matmul(table, m, x.data(), n_tokens, y.data(), pool);
        benchmark::DoNotOptimize(y.data());
        off += w.bytes_per_copy;
        if (off >= w.data.size()) off = 0;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.bytes_per_copy));
    const double flops = 2.0 * static_cast<double>(shape.values()) * static_cast<double>(n_tokens);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// A buffer of at least `bytes` in `buffer`, 64-byte aligned (the kernels' panels and operands).
uint8_t* aligned64(std::vector<uint8_t>& buffer, size_t bytes) {
    buffer.resize(bytes + 64);
    return buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) % 64;
}

// The in-cache benchmarks' matrix: 1536x256 random values quantized to `type` (Q8_0 418 KB, Q4_K
// 221 KB, Q6_K 323 KB, F16 786 KB: within a core's L2), and, where the active level has a layout
// for the type, repacked as a model loads it (packed: null where there is none).
struct InCacheMatrix {
    static constexpr int64_t kCols = 1536, kRows = 256;
    explicit InCacheMatrix(TensorType type) {
        std::mt19937 rng(4);
        std::normal_distribution<float> dist(0.0f, 0.02f);
        std::vector<float> values(kCols * kRows);
        for (float& v : values) v = dist(rng);
        rows.resize(sinan::gguf::row_bytes(type, values.size()));
        kernels::quantize_row(type, values.data(), rows.data(), static_cast<int64_t>(values.size()));
        raw = kernels::Matrix{type, rows.data(), kCols, kRows};
        const size_t packed_size = kernels::packed_bytes(raw);
        if (packed_size == 0) return;
        packed = aligned64(panel_buffer, packed_size);
        sinan::ThreadPool pool(1);
        kernels::pack_matrix(raw, packed, pool);
    }
    std::vector<uint8_t> rows, panel_buffer;
    kernels::Matrix raw{};
    uint8_t* packed = nullptr;
};

// The kernel's own speed, weights in cache (InCacheMatrix), its rows in place or repacked, on one
// thread, against n_tokens tokens. What the kernel does per weight byte when memory is not in the
// way (the decode benchmarks above read from memory).
void BM_MatmulInCache(benchmark::State& state, TensorType type, int64_t n_tokens, bool packed) {
    const InCacheMatrix w(type);
    const kernels::Matrix m{type, w.rows.data(), w.kCols, w.kRows, packed ? w.packed : nullptr};
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> x(n_tokens * w.kCols);
    for (float& v : x) v = dist(rng);
    std::vector<float> y(n_tokens * w.kRows);
    const kernels::KernelTable& table = kernels::kernel_table(sinan::cpu::best_level());
    sinan::ThreadPool pool(1);
    for (auto _ : state) {
        kernels::matmul(table, m, x.data(), n_tokens, y.data(), pool);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.rows.size()));
}

// The prompt kernel's own rate: InCacheMatrix repacked, on one thread, against 128 tokens quantized
// (and, where the kernel has its own form of them, prepared) once outside the timed loop, so that
// neither memory nor the activations' quantization is in the way: what `sinan bench`'s pp figures
// and the 2-thread prefill128 benchmarks lose to those, set against VnniLoop's probes of the
// arithmetic.
void BM_PromptInCache(benchmark::State& state, TensorType type) {
    constexpr int64_t kTokens = 128;
    const InCacheMatrix w(type);
    const int64_t n_cols = w.kCols, n_rows = w.kRows;
    const kernels::KernelTable& table = kernels::kernel_table(sinan::cpu::best_level());
    const kernels::GemmKernel& gemm = table.gemm[static_cast<int>(type)];
    if (w.packed == nullptr || gemm.run_packed == nullptr) {
        state.SkipWithError("no packed layout for this type on the active level");
        return;
    }
    const size_t row_bytes = sinan::gguf::row_bytes(type, n_cols);
    const TensorType dot_type = kernels::vec_dot_type(type);
    const size_t x_row_bytes = sinan::gguf::row_bytes(dot_type, n_cols);
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> x(kTokens * n_cols);
    for (float& v : x) v = dist(rng);
    std::vector<uint8_t> xq(x_row_bytes * kTokens), x_buffer, scratch_buffer;
    table.quantize_activations[static_cast<int>(dot_type)](x.data(), xq.data(), kTokens * n_cols);
    const void* operand = xq.data();
    if (gemm.prepare != nullptr) {
        uint8_t* prepared = aligned64(x_buffer, gemm.prepared_bytes(kTokens, n_cols));
        gemm.prepare(xq.data(), x_row_bytes, kTokens, n_cols, 0, kTokens, prepared);
        operand = prepared;
    }
    void* scratch =
        aligned64(scratch_buffer, gemm.packed_scratch_bytes ? gemm.packed_scratch_bytes(kTokens, n_cols) : 0);
    std::vector<float> y(kTokens * n_rows);
    for (auto _ : state) {
        gemm.run_packed(w.packed, row_bytes, n_rows, operand, x_row_bytes, kTokens, n_cols, y.data(), n_rows, scratch);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.rows.size()));
    state.counters["GFLOP/s"] = benchmark::Counter(
        2.0 * n_cols * n_rows * kTokens * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// The limit: summing the same number of bytes with eight independent accumulators, i.e. what one
// core can read from memory. Two builds of the same loop: plain x86-64 (16-byte loads), and with
// AVX-512 enabled for this function only (64-byte loads) where the CPU has it, since wide loads
// can keep more of the stream in flight.
template <typename Sum>
void read_bandwidth(benchmark::State& state, Sum sum) {
    const std::vector<uint8_t>& m = matrix(TensorType::F32);
    for (auto _ : state) benchmark::DoNotOptimize(sum(reinterpret_cast<const uint64_t*>(m.data()), m.size() / 8));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}

void BM_ReadBandwidthLimit(benchmark::State& state) {
    read_bandwidth(state, sinan::kernels::kernel_table(Level::kScalar).sum_words);
}

// The same read loop (64-byte loads where the CPU has them) on 2 threads, each over its half of
// the buffer: the limit of the 2-thread decode benchmarks. The buffer on 4 KiB pages (the
// matrices' memory here), or on 2 MiB pages (HugePageBuffer: where models keep repacked weights
// and `sinan bench` reads its limit).
void BM_ReadBandwidthLimit2Threads(benchmark::State& state, bool huge_pages) {
    const Level level = sinan::cpu::runnable(Level::kAvx512) ? Level::kAvx512 : Level::kScalar;
    const kernels::SumWordsFn sum = kernels::kernel_table(level).sum_words;
    const std::vector<uint8_t>& m = matrix(TensorType::F32);
    const uint64_t half_words = m.size() / 16;
    const auto* words = reinterpret_cast<const uint64_t*>(m.data());
    sinan::HugePageBuffer huge;
    if (huge_pages) {
        sinan::Result<sinan::HugePageBuffer> b = sinan::HugePageBuffer::allocate(m.size());
        if (!b.ok()) {
            state.SkipWithError(b.message().c_str());
            return;
        }
        huge = std::move(b).value();
        std::memcpy(huge.data(), m.data(), m.size());
        words = static_cast<const uint64_t*>(huge.data());
    }
    sinan::ThreadPool pool(2);
    for (auto _ : state) {
        pool.parallel_for(2, [&](int64_t i0, int64_t i1, int) {
            for (int64_t i = i0; i < i1; ++i) benchmark::DoNotOptimize(sum(words + i * half_words, half_words));
        });
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 2 * half_words * 8));
}

void BM_ReadBandwidthLimitAvx512(benchmark::State& state) {
    if (!sinan::cpu::runnable(Level::kAvx512)) {
        state.SkipWithError("this CPU has no AVX-512");
        return;
    }
    read_bandwidth(state, sinan::kernels::kernel_table(Level::kAvx512).sum_words);
}

// One decoding step's matrix products of the r1-distill-qwen-1.5b shape in the model's order (28
// layers of Q, K and V as one product sharing its input, O, gate and up sharing theirs, down; then
// the output head), the weights of `type` repacked on 2 MiB pages as a model loads them, one token
// on 2 threads through kernels::matmul_shared_input and kernels::matmul as the model calls them
// (the pool, the activations' quantization): against ReadBandwidthLimit/2threads/huge_pages, what
// the kernels read in a step without the rest of the model (attention, norms, sampling; `sinan
// bench` measures the whole). Each matrix repeats one packed panel of quantized random rows (the
// values do not change the work).
void BM_DecodeStep(benchmark::State& state, TensorType type) {
    struct Product {
        std::vector<kernels::Matrix> w;
        std::vector<std::vector<float>> y;
        std::vector<const kernels::Matrix*> w_ptrs;  // into w and y, set once both are complete
        std::vector<float*> y_ptrs;
    };
    constexpr int64_t kEmbd = kFfnUp.cols, kKv = 256, kLayers = 28;
    const std::vector<std::vector<Shape>> step_shapes = [] {
        std::vector<std::vector<Shape>> v;
        for (int64_t l = 0; l < kLayers; ++l) {
            v.push_back({{kEmbd, kEmbd}, {kEmbd, kKv}, {kEmbd, kKv}});
            v.push_back({{kEmbd, kEmbd}});
            v.push_back({kFfnUp, kFfnUp});
            v.push_back({kFfnDown});
        }
        v.push_back({kOutput});
        return v;
    }();
    constexpr int64_t kRows = 16;  // one panel
    uint64_t total = 0;
    for (const auto& product : step_shapes)
        for (Shape m : product) total += sinan::gguf::row_bytes(type, static_cast<uint64_t>(m.values()));
    if (kernels::packed_bytes({type, nullptr, kEmbd, kRows}) == 0) {
        state.SkipWithError("no packed layout for this type on the active level");
        return;
    }
    sinan::Result<sinan::HugePageBuffer> buffer = sinan::HugePageBuffer::allocate(total);
    if (!buffer.ok()) {
        state.SkipWithError(buffer.message().c_str());
        return;
    }
    sinan::ThreadPool pool(2);
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    auto* out = static_cast<uint8_t*>(buffer.value().data());
    std::vector<Product> products;
    for (const auto& shapes : step_shapes) {
        Product p;
        for (Shape m : shapes) {
            std::vector<float> values(static_cast<size_t>(m.cols * kRows));
            for (float& x : values) x = dist(rng);
            std::vector<uint8_t> rows(sinan::gguf::row_bytes(type, values.size()));
            kernels::quantize_row(type, values.data(), rows.data(), static_cast<int64_t>(values.size()));
            const uint64_t panel_bytes = rows.size();
            kernels::pack_matrix({type, rows.data(), m.cols, kRows}, out, pool);
            for (int64_t r = kRows; r < m.rows; r += kRows)
                std::memcpy(out + r / kRows * panel_bytes, out, panel_bytes);
            p.w.push_back({type, out, m.cols, m.rows, out});
            p.y.emplace_back(static_cast<size_t>(m.rows));
            out += static_cast<uint64_t>(m.rows / kRows) * panel_bytes;
        }
        for (size_t i = 0; i < p.w.size(); ++i) {
            p.w_ptrs.push_back(&p.w[i]);
            p.y_ptrs.push_back(p.y[i].data());
        }
        products.push_back(std::move(p));  // moves the vectors' buffers: the pointers stay valid
    }
    std::vector<float> x(kFfnDown.cols);
    for (float& v : x) v = dist(rng);
    for (auto _ : state) {
        for (const Product& p : products) {
            if (p.w.size() == 1)
                kernels::matmul(p.w[0], x.data(), 1, p.y_ptrs[0], pool);
            else
                kernels::matmul_shared_input(p.w_ptrs, x.data(), 1, p.y_ptrs, pool);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
    state.counters["steps/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// What bounds the int8 kernels' vpdpbusd on this core (bench/NOTES.md, 2026-12-02): 16
// independent chains (zmm16-31), each vpdpbusd taking 4 activation bytes as a {1to16} broadcast
// operand from memory, the weights (mode kRegisters) in a register, (kLoaded) loaded from memory
// once per 4 vpdpbusd, (kMisaligned) the same 32 bytes off a line, or (kSharedBroadcast) loaded for
// two panels at once with each token's broadcast in a register that both use; (kLatency) one
// chain; (kScaleMuls) as kRegisters with the prompt kernel's float work per 16 vpdpbusd: 4 vmulps,
// 2 vcvtdq2ps and 2 vaddps (its two multiplies per block and token keep the reference's rounding;
// where vmulps shares vpdpbusd's pipes they bound the kernel); (kGroupScales) as kRegisters with 4
// vpmulld per 16 vpdpbusd (the K-quant kernels' group scales: Q6_K's ratio); (kUnpack) as
// kRegisters with 16 integer operations per 16 (4 each of vpsrld, vpandd, vpternlogd, vpaddd: about
// the Q6_K kernel's unpacking and sums); (kShuffles) as kRegisters with a vpshufd per vpdpbusd
// (weights spread for each vpdpbusd, as Q8_0's 2 to 8 tokens do: whether they take vpdpbusd's
// slots, 2026-12-07 16:20); (kRegisterSources) 16 vpdpbusd with both sources in registers, and the
// same with 8 loads beside them (kBroadcast16: vbroadcasti32x4, kBroadcast8: vpbroadcastq): whether
// a load takes a slot of vpdpbusd's pipes (the 16-byte broadcast does now and then, 2026-12-07
// 17:52); (kStraightLine) as kRegisters but 2,048 vpdpbusd written
// out per iteration, the broadcasts from 2,240 bytes (19 KB of code, more than a fully unrolled
// K-quant block pass: whether the front end feeds such a body as fast as a short loop).
// Items: vpdpbusd.
enum class VnniLoop {
    kRegisters,
    kLoaded,
    kMisaligned,
    kSharedBroadcast,
    kLatency,
    kScaleMuls,
    kGroupScales,
    kUnpack,
    kShuffles,
    kRegisterSources,
    kBroadcast16,
    kBroadcast8,
    kStraightLine
};
constexpr int64_t kStraightLineRounds = 128;  // kStraightLine: rounds of 16 vpdpbusd per iteration

#define SINAN_DP(off, w, acc) "vpdpbusd " #off "(%[x])%{1to16%}, %%zmm" #w ", %%zmm" #acc "\n\t"
#define SINAN_DP4(o, w, a, b, c, d) \
    SINAN_DP(o, w, a) SINAN_DP(o + 64, w, b) SINAN_DP(o + 128, w, c) SINAN_DP(o + 192, w, d)
#define SINAN_LOAD(off, w) "vmovdqu64 " #off "(%[w]), %%zmm" #w "\n\t"
#define SINAN_MUL(a) "vmulps %%zmm1, %%zmm2, %%zmm" #a "\n\t"
#define SINAN_CVT(a) "vcvtdq2ps %%zmm1, %%zmm" #a "\n\t"
#define SINAN_ADD(a) "vaddps %%zmm1, %%zmm2, %%zmm" #a "\n\t"
#define SINAN_MULLD(a) "vpmulld %%zmm1, %%zmm2, %%zmm" #a "\n\t"
#define SINAN_INT4(a)                                                   \
    "vpsrld $4, %%zmm1, %%zmm" #a "\n\tvpandd %%zmm1, %%zmm2, %%zmm" #a \
    "\n\tvpternlogd $0xea, %%zmm1, %%zmm2, "                            \
    "%%zmm" #a "\n\tvpaddd %%zmm1, %%zmm2, %%zmm" #a "\n\t"
#define SINAN_SHUF4(a)                                                      \
    "vpshufd $0x00, %%zmm1, %%zmm" #a "\n\tvpshufd $0x55, %%zmm1, %%zmm" #a \
    "\n\tvpshufd $0xaa, "                                                   \
    "%%zmm1, %%zmm" #a "\n\tvpshufd $0xff, %%zmm1, %%zmm" #a "\n\t"
#define SINAN_DPR4(a, b, c, d)                                                  \
    "vpdpbusd %%zmm2, %%zmm0, %%zmm" #a "\n\tvpdpbusd %%zmm2, %%zmm0, %%zmm" #b \
    "\n\tvpdpbusd %%zmm2, "                                                     \
    "%%zmm0, %%zmm" #c "\n\tvpdpbusd %%zmm2, %%zmm0, %%zmm" #d "\n\t"
#define SINAN_LOADS4(op, o, a, b, c, d)                                                  \
    op " " #o "(%[x]), %%zmm" #a "\n\t" op " " #o "+16(%[x]), %%zmm" #b "\n\t" op " " #o \
       "+32(%[x]), "                                                                     \
       "%%zmm" #c "\n\t" op " " #o "+48(%[x]), %%zmm" #d "\n\t"
#define SINAN_PAIR(o, a, b)             \
    "vpbroadcastd " #o                  \
    "(%[x]), %%zmm2\n\t"                \
    "vpdpbusd %%zmm2, %%zmm0, %%zmm" #a \
    "\n\t"                              \
    "vpdpbusd %%zmm2, %%zmm1, %%zmm" #b "\n\t"
// One round of a loop: its instructions, with the operands and clobbers every round shares.
#define SINAN_VNNI_ROUND(code)                                                                                        \
    asm volatile(code                                                                                                 \
                 :                                                                                                    \
                 : [x] "r"(x), [w] "r"(w)                                                                             \
                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm16", "xmm17", "xmm18", "xmm19",        \
                   "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", \
                   "xmm31", "memory")

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_loop(VnniLoop loop, int64_t n, const char* w,
                                                                      const int32_t* x) {
    for (int64_t i = 0; i < n; ++i) {  // 16 vpdpbusd an iteration (kStraightLine: 16 x kStraightLineRounds)
        switch (loop) {
            case VnniLoop::kRegisters:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_DP4(4, 0, 20, 21, 22, 23)
                                     SINAN_DP4(8, 0, 24, 25, 26, 27) SINAN_DP4(12, 0, 28, 29, 30, 31));
                break;
            case VnniLoop::kLoaded:
            case VnniLoop::kMisaligned:
                SINAN_VNNI_ROUND(SINAN_LOAD(0, 0) SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_LOAD(64, 0)
                                     SINAN_DP4(4, 0, 20, 21, 22, 23) SINAN_LOAD(128, 0) SINAN_DP4(8, 0, 24, 25, 26, 27)
                                         SINAN_LOAD(192, 0) SINAN_DP4(12, 0, 28, 29, 30, 31));
                break;
            case VnniLoop::kSharedBroadcast:
                SINAN_VNNI_ROUND(SINAN_LOAD(0, 0) SINAN_LOAD(64, 1) SINAN_PAIR(0, 16, 17) SINAN_PAIR(64, 18, 19)
                                     SINAN_PAIR(128, 20, 21) SINAN_PAIR(192, 22, 23) SINAN_LOAD(128, 0)
                                         SINAN_LOAD(192, 1) SINAN_PAIR(4, 24, 25) SINAN_PAIR(68, 26, 27)
                                             SINAN_PAIR(132, 28, 29) SINAN_PAIR(196, 30, 31));
                break;
            case VnniLoop::kScaleMuls:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_MUL(3) SINAN_CVT(4) SINAN_DP4(
                    4, 0, 20, 21, 22, 23) SINAN_MUL(5) SINAN_ADD(6) SINAN_DP4(8, 0, 24, 25, 26, 27) SINAN_MUL(3)
                                     SINAN_CVT(4) SINAN_DP4(12, 0, 28, 29, 30, 31) SINAN_MUL(5) SINAN_ADD(6));
                break;
            case VnniLoop::kGroupScales:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_MULLD(3) SINAN_DP4(4, 0, 20, 21, 22, 23)
                                     SINAN_MULLD(4) SINAN_DP4(8, 0, 24, 25, 26, 27) SINAN_MULLD(5)
                                         SINAN_DP4(12, 0, 28, 29, 30, 31) SINAN_MULLD(6));
                break;
            case VnniLoop::kUnpack:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_INT4(3) SINAN_DP4(4, 0, 20, 21, 22, 23)
                                     SINAN_INT4(4) SINAN_DP4(8, 0, 24, 25, 26, 27) SINAN_INT4(5)
                                         SINAN_DP4(12, 0, 28, 29, 30, 31) SINAN_INT4(6));
                break;
            case VnniLoop::kShuffles:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 17, 18, 19) SINAN_SHUF4(3) SINAN_DP4(4, 0, 20, 21, 22, 23)
                                     SINAN_SHUF4(4) SINAN_DP4(8, 0, 24, 25, 26, 27) SINAN_SHUF4(5)
                                         SINAN_DP4(12, 0, 28, 29, 30, 31) SINAN_SHUF4(6));
                break;
            case VnniLoop::kRegisterSources:
                SINAN_VNNI_ROUND(SINAN_DPR4(16, 17, 18, 19) SINAN_DPR4(20, 21, 22, 23) SINAN_DPR4(24, 25, 26, 27)
                                     SINAN_DPR4(28, 29, 30, 31));
                break;
            case VnniLoop::kBroadcast16:
                SINAN_VNNI_ROUND(SINAN_DPR4(16, 17, 18, 19) SINAN_LOADS4("vbroadcasti32x4", 0, 3, 4, 5, 6)
                                     SINAN_DPR4(20, 21, 22, 23) SINAN_DPR4(24, 25, 26, 27)
                                         SINAN_LOADS4("vbroadcasti32x4", 64, 3, 4, 5, 6) SINAN_DPR4(28, 29, 30, 31));
                break;
            case VnniLoop::kBroadcast8:
                SINAN_VNNI_ROUND(SINAN_DPR4(16, 17, 18, 19) SINAN_LOADS4("vpbroadcastq", 0, 3, 4, 5, 6)
                                     SINAN_DPR4(20, 21, 22, 23) SINAN_DPR4(24, 25, 26, 27)
                                         SINAN_LOADS4("vpbroadcastq", 64, 3, 4, 5, 6) SINAN_DPR4(28, 29, 30, 31));
                break;
            case VnniLoop::kStraightLine:  // the assembler writes the rounds out, 16 bytes apart
                static_assert(kStraightLineRounds == 128);
                SINAN_VNNI_ROUND(
                    ".set sinan_o, 0\n\t.rept 128\n\t" SINAN_DP4(sinan_o, 0, 16, 17, 18, 19)
                        SINAN_DP4(sinan_o + 4, 0, 20, 21, 22, 23) SINAN_DP4(sinan_o + 8, 0, 24, 25, 26, 27)
                            SINAN_DP4(sinan_o + 12, 0, 28, 29, 30, 31) ".set sinan_o, sinan_o + 16\n\t.endr\n\t");
                break;
            case VnniLoop::kLatency:
                SINAN_VNNI_ROUND(SINAN_DP4(0, 0, 16, 16, 16, 16) SINAN_DP4(4, 0, 16, 16, 16, 16)
                                     SINAN_DP4(8, 0, 16, 16, 16, 16) SINAN_DP4(12, 0, 16, 16, 16, 16));
                break;
        }
    }
}

#undef SINAN_DP
#undef SINAN_DP4
#undef SINAN_LOAD
#undef SINAN_MUL
#undef SINAN_CVT
#undef SINAN_ADD
#undef SINAN_MULLD
#undef SINAN_INT4
#undef SINAN_SHUF4
#undef SINAN_DPR4
#undef SINAN_LOADS4
#undef SINAN_PAIR
#undef SINAN_VNNI_ROUND

void BM_VnniLoop(benchmark::State& state, VnniLoop loop) {
    if (!sinan::cpu::runnable(Level::kAvx512) || !sinan::cpu::features().avx512vnni) {
        state.SkipWithError("this CPU has no AVX-512 VNNI");
        return;
    }
    alignas(64) static char w[512] = {};
    alignas(64) static int32_t x[4 * kStraightLineRounds + 64] = {};  // kStraightLine's reach
    constexpr int64_t kIterations = 1 << 16;
    const int64_t n = loop == VnniLoop::kStraightLine ? kIterations / kStraightLineRounds : kIterations;
    for (auto _ : state) vnni_loop(loop, n, loop == VnniLoop::kMisaligned ? w + 32 : w, x);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kIterations * 16);
}

// Decoding's attention (the small-batch numerics): one KV head and the 6 query heads that share
// it (the 1.5B shape), head size 128, over `cells` cached tokens in an F16 or a Q8_0 cache; the
// kernel (kernels::attend_f16_rounded, attend_q8_0) against the same steps one kernel call at a
// time (attend_f16_rounded_composite, attend_q8_0_composite), on the active level. Items: cells x
// queries.
void BM_AttentionSmallBatch(benchmark::State& state, bool kernel, TensorType type) {
    constexpr int64_t kHead = 128, kQueries = 6;
    const auto cells = static_cast<int64_t>(state.range(0));
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> f(static_cast<size_t>(2 * cells * kHead)), q(kQueries * kHead), out(kQueries * kHead);
    for (float& x : f) x = dist(rng);
    for (float& x : q) x = dist(rng);
    const size_t head_bytes = sinan::gguf::row_bytes(type, kHead);
    std::vector<uint8_t> kv(f.size() / kHead * head_bytes);
    kernels::quantize_row(type, f.data(), kv.data(), static_cast<int64_t>(f.size()));
    std::vector<const uint16_t*> keys16(static_cast<size_t>(cells)), values16(static_cast<size_t>(cells));
    std::vector<const void*> keys(static_cast<size_t>(cells)), values(static_cast<size_t>(cells));
    for (int64_t c = 0; c < cells; ++c) {
        keys[c] = kv.data() + 2 * c * head_bytes;
        values[c] = kv.data() + (2 * c + 1) * head_bytes;  // as a cache row holds them: near each other
        keys16[c] = static_cast<const uint16_t*>(keys[c]);
        values16[c] = static_cast<const uint16_t*>(values[c]);
    }
    const float scale = 0.088f;
    const kernels::KernelTable& table = kernels::active_table();
    for (auto _ : state) {
        if (type == TensorType::F16 && kernel)
            kernels::attend_f16_rounded(q.data(), kHead, kQueries, keys16.data(), values16.data(), cells, kHead, kHead,
                                        scale, out.data(), kHead);
        else if (type == TensorType::F16)
            kernels::attend_f16_rounded_composite(table, q.data(), kHead, kQueries, keys16.data(), values16.data(),
                                                  cells, kHead, kHead, scale, out.data(), kHead);
        else if (kernel)
            kernels::attend_q8_0(q.data(), kHead, kQueries, keys.data(), values.data(), cells, kHead, kHead, scale,
                                 out.data(), kHead);
        else
            kernels::attend_q8_0_composite(table, q.data(), kHead, kQueries, keys.data(), values.data(), cells, kHead,
                                           kHead, scale, out.data(), kHead);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * cells * kQueries);
}

void register_all() {
    benchmark::RegisterBenchmark("ReadBandwidthLimit/x86-64", BM_ReadBandwidthLimit)->Unit(benchmark::kMillisecond);
    for (TensorType type : {TensorType::F16, TensorType::Q8_0})
        for (bool kernel : {true, false})
            benchmark::RegisterBenchmark((std::string("AttentionSmallBatch/") +
                                          (type == TensorType::F16 ? "" : "q8_0/") + (kernel ? "kernel" : "steps"))
                                             .c_str(),
                                         BM_AttentionSmallBatch, kernel, type)
                ->Arg(256)
                ->Arg(2048);
    benchmark::RegisterBenchmark("ReadBandwidthLimit/avx512", BM_ReadBandwidthLimitAvx512)
        ->Unit(benchmark::kMillisecond);
    for (auto [name, loop] : {std::pair{"registers", VnniLoop::kRegisters},
                              {"loaded", VnniLoop::kLoaded},
                              {"misaligned", VnniLoop::kMisaligned},
                              {"shared_broadcast", VnniLoop::kSharedBroadcast},
                              {"latency", VnniLoop::kLatency},
                              {"scale_muls", VnniLoop::kScaleMuls},
                              {"group_scales", VnniLoop::kGroupScales},
                              {"unpack", VnniLoop::kUnpack},
                              {"shuffles", VnniLoop::kShuffles},
                              {"register_sources", VnniLoop::kRegisterSources},
                              {"broadcast16", VnniLoop::kBroadcast16},
                              {"broadcast8", VnniLoop::kBroadcast8},
                              {"straight_line", VnniLoop::kStraightLine}})
        benchmark::RegisterBenchmark((std::string("VnniLoop/") + name).c_str(), BM_VnniLoop, loop);
    benchmark::RegisterBenchmark("ReadBandwidthLimit/2threads", BM_ReadBandwidthLimit2Threads, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("ReadBandwidthLimit/2threads/huge_pages", BM_ReadBandwidthLimit2Threads, true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K})
        benchmark::RegisterBenchmark(
            (std::string("DecodeStep1.5B/") + sinan::gguf::type_name(type) + "/2threads").c_str(), BM_DecodeStep, type)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    const Level levels[] = {Level::kScalar, Level::kAvx2, Level::kAvxVnni, Level::kAvx512};
    for (Level level : levels) {
        if (level == Level::kAvxVnni) continue;  // AVX2's
        const std::string name = std::string("DotF32/") + sinan::cpu::level_name(level);
        benchmark::RegisterBenchmark(name.c_str(), BM_DotF32, level)->Unit(benchmark::kMillisecond);
    }
    const TensorType types[] = {TensorType::F16,  TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
                                TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q2_K,
                                TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
    for (TensorType type : types) {
        for (Level level : levels) {
            // Levels without their own kernel for a type run the lower level's: list those once.
            const kernels::KernelTable& t = kernels::kernel_table(level);
            if (level != Level::kScalar) {
                const Level lower = level == Level::kAvx2 ? Level::kScalar : Level::kAvx2;
                if (t.dequantize[static_cast<int>(type)] ==
                    kernels::kernel_table(lower).dequantize[static_cast<int>(type)])
                    continue;
            }
            const std::string name =
                std::string("Dequantize/") + sinan::gguf::type_name(type) + "/" + sinan::cpu::level_name(level);
            benchmark::RegisterBenchmark(name.c_str(), BM_Dequantize, type, level)->Unit(benchmark::kMillisecond);
        }
    }
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16, TensorType::F32}) {
        for (Level level : levels) {
            for (int64_t n_tokens : {1, 128}) {
                const std::string name = kFfnUp.name() + "/" + sinan::gguf::type_name(type) + "/" +
                                         sinan::cpu::level_name(level) + (n_tokens == 1 ? "/decode" : "/prefill128");
                benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, type, kFfnUp, level, n_tokens, 1, false)
                    ->Unit(benchmark::kMillisecond);
            }
            // Decoding on 2 threads, against ReadBandwidthLimit/2threads: the kernel's share of what
            // the cores can read (wall time: the pool's second thread is not in the caller's CPU time).
            // Decoding 8 sequences together (the serving engine's batch), weights from memory likewise.
            for (int64_t n_tokens : {1, 8}) {
                const std::string name = kFfnUp.name() + "/" + sinan::gguf::type_name(type) + "/" +
                                         sinan::cpu::level_name(level) +
                                         (n_tokens == 1 ? "/decode/2threads" : "/batch8/2threads");
                benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, type, kFfnUp, level, n_tokens, 2, false)
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
            }
        }
    }
    // Q8_0, Q4_K and Q6_K repacked as a model loads them (pack_matrix), on the active level: the
    // same three sizes; and decoding one and 8 tokens on 2 threads in the other shapes a Q4_K_M model
    // reads (its FFN down matrix and output head, Q6_K there): long rows' activations outgrow L1;
    // and a prompt's 128 tokens against the FFN down matrix, whose activations outgrow L2.
    const Level active = sinan::cpu::best_level();
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K}) {
        for (auto [n_tokens, n_threads] : {std::pair<int64_t, int>{1, 2}, {8, 2}, {128, 1}, {128, 2}}) {
            const std::string name = kFfnUp.name() + "/" + sinan::gguf::type_name(type) + "/" +
                                     sinan::cpu::level_name(active) + "/packed" +
                                     (n_tokens == 1    ? "/decode/2threads"
                                      : n_tokens == 8  ? "/batch8/2threads"
                                      : n_threads == 1 ? "/prefill128"
                                                       : "/prefill128/2threads");
            auto* b =
                benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, type, kFfnUp, active, n_tokens, n_threads, true)
                    ->Unit(benchmark::kMillisecond);
            if (n_threads > 1) b->UseRealTime();
        }
        std::vector<Shape> shapes = {kFfnDown, kOutput};
        if (type == TensorType::Q8_0) shapes.push_back(kTinyOutput);  // the tiny model is Q8_0
        for (Shape shape : shapes) {
            for (int64_t n_tokens : {1, 8, 128}) {
                if (n_tokens == 128 && shape.cols != kFfnDown.cols) continue;  // prompts: long rows only
                const std::string name = shape.name() + "/" + sinan::gguf::type_name(type) + "/" +
                                         sinan::cpu::level_name(active) + "/packed" +
                                         (n_tokens == 1   ? "/decode/2threads"
                                          : n_tokens == 8 ? "/batch8/2threads"
                                                          : "/prefill128/2threads");
                benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, type, shape, active, n_tokens, 2, true)
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
            }
        }
    }
    // In cache, one thread: the rows in place (.../in_cache/...) and, where the type has a packed
    // layout, repacked (.../packed/in_cache/...); one token and batches of 2 to 8 (decoding that
    // many sequences: Q8_0's kernel pairs tokens, so odd counts compute a slot they drop).
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16}) {
        for (bool packed : {false, true}) {
            if (packed && kernels::packed_bytes({type, nullptr, 1536, 256}) == 0) continue;
            for (int64_t n_tokens : {1, 2, 3, 4, 6, 8}) {
                const std::string name = std::string("Matmul1536x256/") + sinan::gguf::type_name(type) + "/" +
                                         sinan::cpu::level_name(active) + (packed ? "/packed/in_cache" : "/in_cache") +
                                         (n_tokens == 1 ? "/decode" : "/batch" + std::to_string(n_tokens));
                benchmark::RegisterBenchmark(name.c_str(), BM_MatmulInCache, type, n_tokens, packed);
            }
            if (packed)
                benchmark::RegisterBenchmark((std::string("Matmul1536x256/") + sinan::gguf::type_name(type) + "/" +
                                              sinan::cpu::level_name(active) + "/packed/in_cache/prefill128")
                                                 .c_str(),
                                             BM_PromptInCache, type);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    register_all();
    benchmark::AddCustomContext("kernels_active_path", kernels::active_path());
    benchmark::AddCustomContext("cpu", sinan::cpu::describe() + " on " + sinan::cpu::describe_processor());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
