// Q6_K matrix products on the avx-vnni level (dispatch.h, GemmKernel): the AVX2 kernel over the
// AVX2 level's packed panels (avx2/q6_k_panels.h, compiled here with -mavxvnni, so its group sums
// go through vpdpbusd), each result bit-identical to vec_dot_q6_k. The tokens are Q8_K rows as
// they are. Rows in place run the AVX2 level's kernel. Compiled with -mavx2 -mfma -mf16c
// -mavxvnni; includes no header with inline functions (see half.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/q6_k_panels.h"
#include "kernels/simd.h"

namespace sinan::kernels::avx_vnni {

void gemm_q6_k_packed(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                      int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    avx2::q6_k_panels::packed_product<false>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

void gemm_q6_k_packed_read_ahead(const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
                                 int64_t n_tokens, int64_t n_cols, float* y, int64_t y_stride, void* /*scratch*/) {
    avx2::q6_k_panels::packed_product<true>(w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, n_cols, y, y_stride);
}

}  // namespace sinan::kernels::avx_vnni
