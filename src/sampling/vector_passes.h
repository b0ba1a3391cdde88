// The sampler's passes over a whole vocabulary of logits (151,936 for Qwen2), one table per
// instruction set: the same code built for the x86-64 baseline (vector_passes_baseline.cpp), for
// AVX2 (vector_passes_avx2.cpp) and for AVX-512 (vector_passes_avx512.cpp), chosen once at run
// time. The tables give the same bits for the same input (fast_exp.h says why;
// tests/sampling/vector_passes_test.cpp checks it), so a seed draws the same token on every CPU.
// Private to src/sampling and its tests. Includes no header with inline functions: the AVX2 and
// AVX-512 files include it.
//
// Conventions: x[0, n) are logits, finite or -inf (a banned token). "Kept by cut" means the token
// is not banned and ranks at or before `cut` in the sampler's order (logit descending, ties to the
// lower id): x[i] > cut.logit or (x[i] == cut.logit and i <= cut.token).
// kKeepAll ({-inf, -1}) keeps every token that is not banned. `max` is the largest logit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinan::sampling {

struct Candidate {
    float logit;
    int32_t token;
};

inline constexpr Candidate kKeepAll{-__builtin_inff(), -1};

// keep_top_p's buckets: with `scale` buckets per nat (a power of two), bucket b < kMassBuckets - 1
// holds the tokens with (max - logit) * scale in [b, b + 1); the last one everything further. The
// bucket of a token is floor((max - logit) * scale), a float subtraction and an exact
// multiplication, so a finer power-of-two scale (keep_top_p's second level) splits each bucket
// exactly, and "bucket >= B" is (max - logit) * scale >= B for B <= kMassBuckets - 1.
inline constexpr int32_t kMassBuckets = 129;
inline constexpr size_t kMassLimits = 8;  // masses_beyond: limits per pass
// The draw's blocks (CandidateList::draw): weights are summed per block of this many tokens, the
// blocks then scanned. softmax_sums leaves its weights' sums per block; block_sums takes it as `block`.
inline constexpr size_t kDrawBlock = 256;

struct Extremes {
    float max;  // -inf when every token is banned
    float min;  // the smallest logit that is not -inf; +inf when every token is banned
};

struct SoftmaxSums {
    double z;  // sum_i exp(x_i - max)
    double s;  // sum_i exp(x_i - max) * (x_i - max), 0 for banned tokens
};

struct VectorPasses {
    const char* name;  // "baseline", "avx512"
    Extremes (*extremes)(const float* x, size_t n);
    // Summed per block of 1024 in float lanes, the blocks in double; w[i] = exp(x[i] - max) and
    // sums[k] = block_sums(w, n, kDrawBlock)'s sums[k] (the same bits, in the same pass), each
    // left out where its pointer is null (the same z and s); sums only with w.
    SoftmaxSums (*softmax_sums)(const float* x, size_t n, float max, float* w, float* sums);
    // The first i in [from, n) with x[i] >= at_least; n when none.
    size_t (*find_at_least)(const float* x, size_t n, size_t from, float at_least);
    // The draw's weights of tokens [begin, end): w[i - begin] = exp((x[i] - max) * inv_t) for the
    // tokens kept by cut, 0 for the others. begin % 16 == 0.
    void (*cut_weights)(const float* x, size_t begin, size_t end, Candidate cut, float max, float inv_t, float* w);
    // sums[k] = block_sums of cut_weights' weights over [0, n), the same bits, without storing
    // the weights: the draw recomputes only those of the block where it lands. block % 16 == 0.
    void (*cut_weight_sums)(const float* x, size_t n, Candidate cut, float max, float inv_t, size_t block, float* sums);
    // mass[j] = sum of w[i] over the tokens kept by cut with (max - x[i]) * scale >= limits[j], for
    // j < n_limits (1 to kMassLimits; a pass of 2 costs about half one of 8); w: softmax_sums'
    // weights (0 for a banned token). Each sum in float lanes per block of 1024, the blocks in
    // double: its bits depend neither on the other limits nor on n_limits, and a larger limit
    // never gives a larger sum (nested sets, the same adds in the same order).
    void (*masses_beyond)(const float* x, const float* w, size_t n, Candidate cut, float max, float scale,
                          const float* limits, size_t n_limits, double* mass);
    // Writes the tokens kept by cut that lie in `bucket` (or in any bucket when bucket < 0), in id
    // order, to out (room for n); returns how many.
    size_t (*collect)(const float* x, size_t n, Candidate cut, float max, float scale, int32_t bucket, Candidate* out);
    // sums[k] = w[k * block, min(n, (k + 1) * block)) added in 16 float lanes; block % 16 == 0.
    void (*block_sums)(const float* w, size_t n, size_t block, float* sums);
};

// The table for this CPU: AVX-512, else AVX2, where the CPU and SINAN_CPU (base/cpu.h) allow it.
const VectorPasses& vector_passes();
// Each table, for tests that compare them: the AVX2 and AVX-512 ones are null when the CPU lacks
// them.
const VectorPasses& baseline_vector_passes();
const VectorPasses* avx2_vector_passes();
const VectorPasses* avx512_vector_passes();

}  // namespace sinan::sampling
