// The read-bandwidth probe's loop (dispatch.h, SumWordsFn): s = sum_i p[i] over K independent
// accumulators, which the compiler vectorises at the width of the flags the including source is
// compiled with (ref/: 16-byte loads, avx2/: 32, avx512/: 64), so each level's probe reads as its
// kernels can. Plain C++; static (internal linkage), so no level's copy serves another (see half.h).
#pragma once

#include <cstdint>

namespace sinan::kernels {

template <int K>
static uint64_t sum_words_with(const uint64_t* p, uint64_t n) {
    uint64_t a[K] = {};
    uint64_t i = 0;
    for (; i + K <= n; i += K)
        for (int k = 0; k < K; ++k) a[k] += p[i + k];
    uint64_t s = 0;
    for (; i < n; ++i) s += p[i];
    for (uint64_t v : a) s += v;
    return s;
}

}  // namespace sinan::kernels
