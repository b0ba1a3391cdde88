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

// The constant i of unrolled and with_count: a type per value (a template argument as it is,
// decltype(k)::value) that turns into an int with no function left behind. At -O0 GCC emits
// std::integral_constant's conversion as a weak function, and a weak copy compiled with AVX-512
// flags may be the one the linker keeps for every caller (half.h; the test
// kernels_simd_objects_define_no_weak_symbols, which the debug build failed).
template <int N>
struct Const {
    static constexpr int value = N;
    [[gnu::always_inline]] constexpr operator int() const { return N; }
};

// f(Const<i>{}) for i = 0 .. N - 1, in order, always inlined (with more instantiations in a file GCC
// stopped inlining the sequence's lambda: gemm_float.cpp's one-token F16 loop 32 -> 24 GB/s in
// cache, bench/NOTES.md, 2026-12-06 20:20).
template <int N, typename F>
[[gnu::always_inline]] static inline void unrolled(F&& f) {
    [&]<int... I>(std::integer_sequence<int, I...>) __attribute__((always_inline)) { (f(Const<I>{}), ...); }
    (std::make_integer_sequence<int, N>{});
}

// f(Const<n>{}) for the run-time count n in 1..N: a count (of tokens, of
// queries) turned into the template argument of a kernel compiled for each.
template <int N, typename F>
static void with_count(int n, F&& f) {
    [&]<int... I>(std::integer_sequence<int, I...>) { ((n == I + 1 ? f(Const<I + 1>{}) : void()), ...); }
    (std::make_integer_sequence<int, N>{});
}

}  // namespace sinan::kernels::avx512
