// dot_f32's order of operations, for the AVX-512 kernels that must give its results bit for bit
// with the second operand read from another format (attention.cpp: binary16 keys converted on
// the fly). Included only by sources compiled with the AVX-512 flags; static, so no copy leaves
// its translation unit (see half.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sinan::kernels::avx512 {

// s = sum_i a[i] * b[i]: four independent FMA chains over 64 values a step, then 16 a step into the
// first, the tail (masked) into the second, the four added in pairs and reduced. load_b(i, m)
// returns b[i .. i + 16) under mask m (all ones but for the tail).
template <typename LoadB>
static inline float dot_f32_in_order(const float* a, LoadB load_b, int64_t n) {
    const __mmask16 all = 0xffff;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_b(i, all), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), load_b(i + 16, all), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), load_b(i + 32, all), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), load_b(i + 48, all), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_b(i, all), acc0);
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), load_b(i, m), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

}  // namespace sinan::kernels::avx512
