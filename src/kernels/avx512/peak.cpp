// Arithmetic probes (dispatch.h, PeakFn): how many multiply-adds a core retires when it does
// nothing else, at the widths the matrix kernels use: the arithmetic limit that prompt
// processing is measured against. Twelve independent accumulators hide the instructions'
// latency. Compiled with the AVX-512 flags of src/kernels/CMakeLists.txt.
#include <immintrin.h>

#include "kernels/simd.h"

namespace sinan::kernels::avx512 {

namespace {
constexpr int kChains = 12;
}

// The twelve chains of one round as a single asm statement: written with intrinsics, GCC copies
// each accumulator to another register every round (vpdpbusd overwrites its first operand), and
// the copies took a third of the issue slots: the probe read ~60% of what the core retires. The
// accumulators are twelve variables, not an array, which GCC stored to the stack every round.
#define SINAN_PEAK_ROUND(op)                                                                                       \
    asm(op " %[b], %[a], %[c0]\n\t" op " %[b], %[a], %[c1]\n\t" op " %[b], %[a], %[c2]\n\t" op                     \
           " %[b], %[a], %[c3]\n\t" op " %[b], %[a], %[c4]\n\t" op " %[b], %[a], %[c5]\n\t" op                     \
           " %[b], %[a], %[c6]\n\t" op " %[b], %[a], %[c7]\n\t" op " %[b], %[a], %[c8]\n\t" op                     \
           " %[b], %[a], %[c9]\n\t" op " %[b], %[a], %[c10]\n\t" op " %[b], %[a], %[c11]"                          \
        : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5), [c6] "+v"(c6), \
          [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)                            \
        : [a] "v"(a), [b] "v"(b))

// vpdpbusd on 512-bit vectors: 64 byte products a round per chain.
uint64_t peak_int8_macs(uint64_t n_rounds) {
    __m512i c0 = _mm512_set1_epi32(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
            c10 = c0, c11 = c0;
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    for (uint64_t i = 0; i < n_rounds; ++i) SINAN_PEAK_ROUND("vpdpbusd");
    // The sums are kept, not added up: they wrap (a round adds -60 to every lane), and int
    // addition that wraps is undefined behaviour.
    const __m512i all[kChains] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (const __m512i& c : all) asm volatile("" : : "v"(c));
    return n_rounds * kChains * 64;
}

// vfmadd on 512-bit vectors of floats: 16 products a round per chain.
uint64_t peak_f32_macs(uint64_t n_rounds) {
    __m512 c0 = _mm512_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
           c10 = c0, c11 = c0;
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (uint64_t i = 0; i < n_rounds; ++i) SINAN_PEAK_ROUND("vfmadd231ps");
    const __m512 all[kChains] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    float sum = 0;
    for (const __m512& c : all) sum += _mm512_reduce_add_ps(c);
    asm volatile("" : : "x"(sum));
    return n_rounds * kChains * 16;
}

#undef SINAN_PEAK_ROUND

}  // namespace sinan::kernels::avx512
