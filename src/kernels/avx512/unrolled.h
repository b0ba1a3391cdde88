// unrolled<N>(f): a loop over the constants 0 .. N - 1, written out, and with_count<N>(n, f): a
// run-time count as a constant, for the AVX-512 kernels.
// GCC keeps an array of vectors in registers only when every index into it is a constant at the
// time it splits arrays into scalars, which is before it unrolls loops, even `#pragma GCC unroll`
// ones: an accumulator array indexed by a loop variable stayed on the stack, stored at every step
// of the loop around it (bench/NOTES.md, 2026-12-01 14:00). Static, so no copy leaves its
// translation unit (see half.h).
#pragma once

#include <utility>

namespace sinan::kernels::avx512 {

// f(std::integral_constant<int, i>{}) for i = 0 .. N - 1, in order.
template <int N, typename F>
[[gnu::always_inline]] static inline void unrolled(F&& f) {
    [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }
    (std::make_integer_sequence<int, N>{});
}

// f(std::integral_constant<int, n>{}) for the run-time count n in 1..N: a count (of tokens, of
// queries) turned into the template argument of a kernel compiled for each.
template <int N, typename F>
static void with_count(int n, F&& f) {
    [&]<int... I>(std::integer_sequence<int, I...>) {
        ((n == I + 1 ? f(std::integral_constant<int, I + 1>{}) : void()), ...);
    }
    (std::make_integer_sequence<int, N>{});
}

}  // namespace sinan::kernels::avx512
