// Where a packed panel's scales should lie (src/kernels/panel_runs.h): a Q8_0 one-token product
// loop (the kernel's operations: 8 vpdpbusd a block, then its 16 scales converted and applied) over
// the 1.5B's decoding matrices from memory, 16-row panels, each matrix split in two halves on two
// threads with a spin barrier between matrices, for four placements of the blocks' scales, and a
// plain read of the same bytes (the limit). The variants are alternated a pass at a time in one
// process, so the host's slow and fast memory spells fall on all of them alike.
//   0  all the quants of a panel, then all its scales (the layout before panel_runs.h)
//   1  runs of 8 blocks: their quants, then their scales
//   2  runs of 8 blocks: their scales, then their quants
//   3  runs of 2 blocks: their scales, then their quants (panel_runs.h)
//   4  a plain read, 4 accumulators
// The values are synthetic (the work and the bytes are what count); prints GB/s per pass and the
// means. Needs AVX-512 VNNI.
//
//   bench_panel_layouts [--shape step|short|down] [--rounds N]   (other arguments are ignored)
//   step: every matrix of a decoding step (1.64 GB); short: the 1,536-value rows only; down: the
//   8,960-value rows only.
// GCC 12 warns of its own intrinsics' undefined operands (_mm512_undefined_*) when they are
// inlined into functions with a target attribute; the attributes keep main() free of AVX-512 code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Matrix {
    int64_t rows, cols;
    size_t offset;  // of its first panel in the buffer
};
constexpr size_t kQBytes = 512, kDBytes = 32, kBlockBytes = kQBytes + kDBytes;
constexpr int kVariants = 5;

std::vector<Matrix> matrices;
size_t total_bytes = 0;
uint8_t* weights = nullptr;
alignas(64) int8_t x_quants[8960];
alignas(64) float x_scales[280];
alignas(64) int32_t x_sums[280];
float results[2][16 * 12000];
std::atomic<int> arrived{0}, generation{0};
float sink;

void barrier() {
    const int g = generation.load();
    if (arrived.fetch_add(1) == 1) {
        arrived = 0;
        generation.fetch_add(1);
    } else {
        while (generation.load() == g) _mm_pause();
    }
}

// Block b's quants (q) and scales (d) in a panel of n blocks from p, in variant L.
template <int L>
inline void block_at(const uint8_t* p, int64_t n, int64_t b, const uint8_t*& q, const uint8_t*& d) {
    if constexpr (L == 0) {
        q = p + b * kQBytes;
        d = p + n * kQBytes + b * kDBytes;
    } else {
        constexpr int64_t kRun = L == 3 ? 2 : 8;
        const int64_t first = b / kRun * kRun, k = b - first, in_run = std::min(kRun, n - first);
        const uint8_t* run = p + first * kBlockBytes;
        if constexpr (L == 1) {
            q = run + k * kQBytes;
            d = run + in_run * kQBytes + k * kDBytes;
        } else {
            d = run + k * kDBytes;
            q = run + in_run * kDBytes + k * kQBytes;
        }
    }
}

template <int L>
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vl,f16c"))) void panel_times_token(const uint8_t* p, int64_t n,
                                                                                            float* y) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n; ++b) {
        const uint8_t *q, *d;
        block_at<L>(p, n, b, q, d);
        __m512i isum = _mm512_set1_epi32(x_sums[b]);
        for (int g = 0; g < 8; ++g) {
            int32_t x4;
            std::memcpy(&x4, x_quants + 32 * b + 4 * g, 4);
            isum = _mm512_dpbusd_epi32(isum, _mm512_loadu_si512(q + 64 * g), _mm512_set1_epi32(x4));
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)));
        acc =
            _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(x_scales[b]))));
    }
    _mm512_storeu_ps(y, acc);
}

__attribute__((target("avx512f"))) float read_bytes(const uint8_t* p, size_t n) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= n; i += 256) {
        a0 = _mm512_add_epi32(a0, _mm512_loadu_si512(p + i));
        a1 = _mm512_add_epi32(a1, _mm512_loadu_si512(p + i + 64));
        a2 = _mm512_add_epi32(a2, _mm512_loadu_si512(p + i + 128));
        a3 = _mm512_add_epi32(a3, _mm512_loadu_si512(p + i + 192));
    }
    return static_cast<float>(
        _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3))));
}

// Thread t's half of every matrix's panels, in variant V.
template <int V>
void pass(int t) {
    for (const Matrix& m : matrices) {
        const int64_t panels = (m.rows + 15) / 16, half = (panels + 1) / 2;
        const int64_t p0 = t == 0 ? 0 : half, p1 = t == 0 ? half : panels, n = m.cols / 32;
        const size_t panel_bytes = static_cast<size_t>(n) * kBlockBytes;
        if constexpr (V == 4)
            sink += read_bytes(weights + m.offset + p0 * panel_bytes, (p1 - p0) * panel_bytes);
        else
            for (int64_t p = p0; p < p1; ++p)
                panel_times_token<V>(weights + m.offset + p * panel_bytes, n, results[t] + (p % 12000) * 16);
        barrier();
    }
}

void run_pass(int v, int t) {
    switch (v) {
        case 0:
            return pass<0>(t);
        case 1:
            return pass<1>(t);
        case 2:
            return pass<2>(t);
        case 3:
            return pass<3>(t);
        default:
            return pass<4>(t);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string shape = "step";
    int rounds = 10;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--shape") == 0)
            shape = argv[++i];
        else if (std::strcmp(argv[i], "--rounds") == 0)
            rounds = std::max(1, std::atoi(argv[++i]));
    }
    if (shape != "step" && shape != "short" && shape != "down") {
        std::fprintf(stderr, "bench_panel_layouts: --shape is step, short or down, not '%s'\n", shape.c_str());
        return 2;
    }
    if (!__builtin_cpu_supports("avx512vnni")) {
        std::printf("bench_panel_layouts: skipped, this CPU has no AVX-512 VNNI\n");
        return 0;
    }
    auto add = [](int64_t rows, int64_t cols) {
        matrices.push_back({rows, cols, total_bytes});
        total_bytes += static_cast<size_t>((rows + 15) / 16 * (cols / 32)) * kBlockBytes;
    };
    for (int layer = 0; layer < 28; ++layer) {
        if (shape != "down") add(2048, 1536), add(1536, 1536), add(17920, 1536);  // q, k, v; o; gate, up
        if (shape != "short") add(1536, 8960);                                    // down
    }
    if (shape == "step") add(151936, 1536);  // the output head
    void* mem = mmap(nullptr, total_bytes + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        std::fprintf(stderr, "bench_panel_layouts: cannot map %zu bytes\n", total_bytes);
        return 1;
    }
    weights = static_cast<uint8_t*>(mem);
    madvise(weights, total_bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < total_bytes; i += 2) weights[i] = static_cast<uint8_t>(i * 7), weights[i + 1] = 0x3c;
    for (int i = 0; i < 8960; ++i) x_quants[i] = static_cast<int8_t>(i * 13);
    for (int i = 0; i < 280; ++i) x_scales[i] = 0.01f, x_sums[i] = -5;
    std::printf(
        "%s: %.2f GB a pass, GB/s: 0 scales at the panel's end, 1 runs of 8 scales after, "
        "2 runs of 8 scales first, 3 runs of 2 scales first, 4 plain read\n",
        shape.c_str(), static_cast<double>(total_bytes) / 1e9);
    double sum[kVariants] = {};
    for (int r = 0; r < rounds; ++r) {
        for (int v = 0; v < kVariants; ++v) {
            const auto t0 = std::chrono::steady_clock::now();
            std::thread other(run_pass, v, 1);
            run_pass(v, 0);
            other.join();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double gbs = static_cast<double>(total_bytes) / s / 1e9;
            sum[v] += gbs;
            std::printf("%6.1f", gbs);
        }
        std::printf("\n");
    }
    std::printf("mean ");
    for (double s : sum) std::printf("%6.1f", s / rounds);
    std::printf("\n");
    munmap(mem, total_bytes + 4096);
    return 0;
}
