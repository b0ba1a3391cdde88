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

// vpdpbusd on 512-bit vectors: 64 byte products a round per chain.
uint64_t peak_int8_macs(uint64_t n_rounds) {
    __m512i acc[kChains];
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_epi32(k);
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    for (uint64_t i = 0; i < n_rounds; ++i) {
        for (int k = 0; k < kChains; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
        asm volatile("" : "+v"(a));  // keeps the loop from being folded
    }
    int sum = 0;
    for (int k = 0; k < kChains; ++k) sum += _mm512_reduce_add_epi32(acc[k]);
    asm volatile("" : : "r"(sum));
    return n_rounds * kChains * 64;
}

// vfmadd on 512-bit vectors of floats: 16 products a round per chain.
uint64_t peak_f32_macs(uint64_t n_rounds) {
    __m512 acc[kChains];
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (uint64_t i = 0; i < n_rounds; ++i) {
        for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
        asm volatile("" : "+v"(a));
    }
    float sum = 0;
    for (int k = 0; k < kChains; ++k) sum += _mm512_reduce_add_ps(acc[k]);
    asm volatile("" : : "x"(sum));
    return n_rounds * kChains * 16;
}

}  // namespace sinan::kernels::avx512
