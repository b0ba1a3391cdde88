// Unpacking of the K-quant 6-bit scales, shared by the scalar reference kernels (never included by
// SIMD translation units: it holds an inline function, see half.h). Private to src/kernels/ref/.
#pragma once

#include <cstdint>

namespace sinan::kernels::ref {

// Scale j (0..7) and min j of a Q4_K/Q5_K block: 6 bits each, packed in 12 bytes
// (docs/formats/quant-types.md, "K-quant 6-bit scales").
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

}  // namespace sinan::kernels::ref
