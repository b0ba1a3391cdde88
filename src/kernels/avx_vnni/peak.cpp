// The avx-vnni level's arithmetic probe (dispatch.h, PeakFn): vpdpbusd on 256-bit vectors, twelve
// independent chains, as avx512/peak.cpp does it at 512 bits (one asm statement a round, so that
// GCC neither copies the accumulators nor keeps them on the stack). `{vex}` (written `%{vex%}` in asm templates) asks
// the assembler for the AVX-VNNI encoding, which CPUs without AVX-512 decode. Compiled with -mavx2 -mavxvnni.
#include <immintrin.h>

#include "kernels/simd.h"

namespace sinan::kernels::avx_vnni {

namespace {
constexpr int kChains = 12;
}

// 32 byte products a round per chain.
uint64_t peak_int8_macs(uint64_t n_rounds) {
    __m256i c0 = _mm256_set1_epi32(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
            c10 = c0, c11 = c0;
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5);
#define SINAN_VEX_DPBUSD(c) "%{vex%} vpdpbusd %[b], %[a], %[" #c "]\n\t"
    for (uint64_t i = 0; i < n_rounds; ++i)
        asm(SINAN_VEX_DPBUSD(c0) SINAN_VEX_DPBUSD(c1) SINAN_VEX_DPBUSD(c2) SINAN_VEX_DPBUSD(c3) SINAN_VEX_DPBUSD(c4)
                SINAN_VEX_DPBUSD(c5) SINAN_VEX_DPBUSD(c6) SINAN_VEX_DPBUSD(c7) SINAN_VEX_DPBUSD(c8) SINAN_VEX_DPBUSD(c9)
                    SINAN_VEX_DPBUSD(c10) SINAN_VEX_DPBUSD(c11)
            : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5), [c6] "+x"(c6),
              [c7] "+x"(c7), [c8] "+x"(c8), [c9] "+x"(c9), [c10] "+x"(c10), [c11] "+x"(c11)
            : [a] "x"(a), [b] "x"(b));
#undef SINAN_VEX_DPBUSD
    // The sums are kept, not added up: they wrap (a round adds -60 to every lane), and int
    // addition that wraps is undefined behaviour.
    const __m256i all[kChains] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (const __m256i& c : all) asm volatile("" : : "x"(c));
    return n_rounds * kChains * 32;
}

}  // namespace sinan::kernels::avx_vnni
