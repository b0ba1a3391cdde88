// Scalar dot products of one weight row with one activation row in the weight type's dot format
// (vec_dot_type in dispatch.h): the definition the SIMD versions are tested against. Integer
// products are summed exactly inside a block and scaled once per block in float, as GGML's
// vec_dot kernels do; for affine types the min term uses the activation block's sum.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/ref/k_scales.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

namespace {

// The 32 values of a Q5_0/Q5_1 block, unsigned (0..31): low nibbles, then high nibbles, with
// bit j of qh as the fifth bit of value j.
void unpack_q5(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, sizeof(qh));
    for (int j = 0; j < kQK / 2; ++j) {
        q[j] = (qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
        q[j + kQK / 2] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    }
}

int sum_q8(const int8_t* q, int n) {
    int s = 0;
    for (int j = 0; j < n; ++j) s += q[j];
    return s;
}

// Reference path for the types without an integer kernel: both blocks to floats, then a double
// sum per block.
template <DequantizeFn W, DequantizeFn X, int kBlock>
float dot_dequantized(const void* w, size_t w_block_bytes, const void* x, size_t x_block_bytes, int64_t n) {
    float wf[kBlock], xf[kBlock];
    float sum = 0;
    for (int64_t i = 0; i < n / kBlock; ++i) {
        W(static_cast<const uint8_t*>(w) + i * w_block_bytes, wf, kBlock);
        X(static_cast<const uint8_t*>(x) + i * x_block_bytes, xf, kBlock);
        double s = 0;
        for (int j = 0; j < kBlock; ++j) s += static_cast<double>(wf[j]) * xf[j];
        sum += static_cast<float>(s);
    }
    return sum;
}

}  // namespace

// s = sum_i w[i] * x[i], products exact in double
float vec_dot_f16(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const uint16_t*>(w);
    const auto* b = static_cast<const uint16_t*>(x);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_fp32(a[i])) * fp16_to_fp32(b[i]);
    return static_cast<float>(s);
}

// s = sum_i w[i] * x[i], products exact in double
float vec_dot_bf16(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const uint16_t*>(w);
    const auto* b = static_cast<const uint16_t*>(x);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_fp32(a[i])) * bf16_to_fp32(b[i]);
    return static_cast<float>(s);
}

// s = sum_b d_w d_x sum_j (q_w[j] - 8) q_x[j]
float vec_dot_q4_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        int isum = 0;
        for (int j = 0; j < kQK / 2; ++j)
            isum += ((a[i].qs[j] & 0xf) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + kQK / 2];
        sum += static_cast<float>(isum) * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

// s = sum_b d_w d_x sum_j q_w[j] q_x[j] + m_w d_x sum_j q_x[j]
float vec_dot_q4_1(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_1*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        int isum = 0;
        for (int j = 0; j < kQK / 2; ++j)
            isum += (a[i].qs[j] & 0xf) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + kQK / 2];
        const float dx = fp16_to_fp32(b[i].d);
        sum += static_cast<float>(isum) * (fp16_to_fp32(a[i].d) * dx) +
               fp16_to_fp32(a[i].m) * dx * static_cast<float>(sum_q8(b[i].qs, kQK));
    }
    return sum;
}

// s = sum_b d_w d_x sum_j (q_w[j] - 16) q_x[j]
float vec_dot_q5_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ5_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        unpack_q5(a[i].qs, a[i].qh, q);
        int isum = 0;
        for (int j = 0; j < kQK; ++j) isum += (q[j] - 16) * b[i].qs[j];
        sum += static_cast<float>(isum) * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

// s = sum_b d_w d_x sum_j q_w[j] q_x[j] + m_w d_x sum_j q_x[j]
float vec_dot_q5_1(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ5_1*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        unpack_q5(a[i].qs, a[i].qh, q);
        int isum = 0;
        for (int j = 0; j < kQK; ++j) isum += q[j] * b[i].qs[j];
        const float dx = fp16_to_fp32(b[i].d);
        sum += static_cast<float>(isum) * (fp16_to_fp32(a[i].d) * dx) +
               fp16_to_fp32(a[i].m) * dx * static_cast<float>(sum_q8(b[i].qs, kQK));
    }
    return sum;
}

// s = sum_b d_w d_x sum_j q_w[j] q_x[j]
float vec_dot_q8_0(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ8_0*>(w);
    const auto* b = static_cast<const BlockQ8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        int isum = 0;
        for (int j = 0; j < kQK; ++j) isum += a[i].qs[j] * b[i].qs[j];
        sum += static_cast<float>(isum) * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

// Q2_K and Q3_K: the reference path (no integer kernel yet).
float vec_dot_q2_k(const void* w, const void* x, int64_t n) {
    return dot_dequantized<dequantize_q2_k, dequantize_q8_k, kQKK>(w, sizeof(BlockQ2_K), x, sizeof(BlockQ8_K), n);
}

float vec_dot_q3_k(const void* w, const void* x, int64_t n) {
    return dot_dequantized<dequantize_q3_k, dequantize_q8_k, kQKK>(w, sizeof(BlockQ3_K), x, sizeof(BlockQ8_K), n);
}

// s = sum_b d_x (d_w sum_g sc[g] sum_j q_w q_x - dmin_w sum_g m[g] sum_j q_x), g the 32-value group
float vec_dot_q4_k(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ4_K*>(w);
    const auto* b = static_cast<const BlockQ8_K*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQKK; ++i) {
        int isum = 0, msum = 0;
        for (int g = 0; g < 8; ++g) {
            uint8_t sc, m;
            get_scale_min_k4(g, a[i].scales, &sc, &m);
            const uint8_t* q = a[i].qs + 32 * (g / 2);
            const int8_t* y = b[i].qs + 32 * g;
            int gsum = 0;
            for (int j = 0; j < 32; ++j) gsum += (g % 2 == 0 ? q[j] & 0xf : q[j] >> 4) * y[j];
            isum += sc * gsum;
            msum += m * (b[i].bsums[2 * g] + b[i].bsums[2 * g + 1]);
        }
        sum += b[i].d * fp16_to_fp32(a[i].d) * static_cast<float>(isum) -
               b[i].d * fp16_to_fp32(a[i].dmin) * static_cast<float>(msum);
    }
    return sum;
}

// As Q4_K with 5-bit quants (the fifth bit from qh, bit g of qh[j] for value j of group g).
float vec_dot_q5_k(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ5_K*>(w);
    const auto* b = static_cast<const BlockQ8_K*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / kQKK; ++i) {
        int isum = 0, msum = 0;
        for (int g = 0; g < 8; ++g) {
            uint8_t sc, m;
            get_scale_min_k4(g, a[i].scales, &sc, &m);
            const uint8_t* q = a[i].qs + 32 * (g / 2);
            const int8_t* y = b[i].qs + 32 * g;
            int gsum = 0;
            for (int j = 0; j < 32; ++j) {
                const int lo = g % 2 == 0 ? q[j] & 0xf : q[j] >> 4;
                gsum += (lo | (((a[i].qh[j] >> g) & 1) << 4)) * y[j];
            }
            isum += sc * gsum;
            msum += m * (b[i].bsums[2 * g] + b[i].bsums[2 * g + 1]);
        }
        sum += b[i].d * fp16_to_fp32(a[i].d) * static_cast<float>(isum) -
               b[i].d * fp16_to_fp32(a[i].dmin) * static_cast<float>(msum);
    }
    return sum;
}

// s = sum_b d_w d_x sum_g sc[g] sum_j (q_w[j] - 32) q_x[j], g the 16-value group
float vec_dot_q6_k(const void* w, const void* x, int64_t n) {
    const auto* a = static_cast<const BlockQ6_K*>(w);
    const auto* b = static_cast<const BlockQ8_K*>(x);
    float sum = 0;
    int q[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const uint8_t* ql = a[i].ql;
        const uint8_t* qh = a[i].qh;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
            int* v = q + 128 * half;
            for (int l = 0; l < 32; ++l) {
                v[l] = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
                v[l + 32] = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                v[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                v[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            }
        }
        int isum = 0;
        for (int g = 0; g < kQKK / 16; ++g) {
            int gsum = 0;
            for (int j = 16 * g; j < 16 * g + 16; ++j) gsum += q[j] * b[i].qs[j];
            isum += a[i].scales[g] * gsum;
        }
        sum += fp16_to_fp32(a[i].d) * b[i].d * static_cast<float>(isum);
    }
    return sum;
}

}  // namespace sinan::kernels::ref
