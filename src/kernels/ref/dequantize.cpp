// Scalar dequantizers. Each computes exactly the float operations, in the order, that GGML's
// reference dequantizers do, so files decode to the same floats as in llama.cpp; the SIMD
// versions repeat the same operations lane by lane.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/half.h"
#include "kernels/ref/k_scales.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

// y[i] = x[i]
void dequantize_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

// y[i] = fp16(x[i])
void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(x[i]);
}

// y[i] = bf16(x[i])
void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(x[i]);
}

// y[j] = (q[j] - 8) * d
void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
            dst[j] = static_cast<float>((b[i].qs[j] & 0xf) - 8) * d;
            dst[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

// y[j] = q[j] * d + m
void dequantize_q4_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_1*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const float d = fp16_to_fp32(b[i].d);
        const float m = fp16_to_fp32(b[i].m);
        for (int j = 0; j < kQK / 2; ++j) {
            dst[j] = static_cast<float>(b[i].qs[j] & 0xf) * d + m;
            dst[j + kQK / 2] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
        }
    }
}

// y[j] = (q[j] | h[j] << 4) - 16) * d
void dequantize_q5_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const float d = fp16_to_fp32(b[i].d);
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, sizeof(qh));
        for (int j = 0; j < kQK / 2; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            dst[j] = static_cast<float>(((b[i].qs[j] & 0xf) | h0) - 16) * d;
            dst[j + kQK / 2] = static_cast<float>(((b[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

// y[j] = (q[j] | h[j] << 4) * d + m
void dequantize_q5_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_1*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const float d = fp16_to_fp32(b[i].d);
        const float m = fp16_to_fp32(b[i].m);
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, sizeof(qh));
        for (int j = 0; j < kQK / 2; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            dst[j] = static_cast<float>((b[i].qs[j] & 0xf) | h0) * d + m;
            dst[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

// y[j] = q[j] * d
void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
    }
}

// y = (d * scale[g]) * q - dmin * min[g], g the 16-value group
void dequantize_q2_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ2_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const float dmin = fp16_to_fp32(b[i].dmin);
        const uint8_t* q = b[i].qs;
        int g = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part, ++g) {
                    const float dl = d * static_cast<float>(b[i].scales[g] & 0xf);
                    const float ml = dmin * static_cast<float>(b[i].scales[g] >> 4);
                    for (int l = 0; l < 16; ++l)
                        *dst++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

// y = (d * (scale[g] - 32)) * (q - (high bit ? 0 : 4)), g the 16-value group
void dequantize_q3_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ3_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const uint8_t* s = b[i].scales;
        int8_t scales[16];
        for (int g = 0; g < 16; ++g) {
            const int low = g < 8 ? (s[g] & 0xf) : (s[g - 8] >> 4);
            const int high = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
            scales[g] = static_cast<int8_t>((low | (high << 4)) - 32);
        }
        const uint8_t* q = b[i].qs;
        const uint8_t* hm = b[i].hmask;
        uint8_t m = 1;
        int g = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int part = 0; part < 2; ++part, ++g) {
                    const float dl = d * static_cast<float>(scales[g]);
                    for (int l = 0; l < 16; ++l) {
                        const int k = 16 * part + l;
                        const int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                        *dst++ = dl * static_cast<float>(v);
                    }
                }
            }
        }
    }
}

// y = (d * scale[g]) * q - dmin * min[g], g the 32-value group
void dequantize_q4_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const float dmin = fp16_to_fp32(b[i].dmin);
        const uint8_t* q = b[i].qs;
        for (int g = 0; g < 8; g += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(g, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(g + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// y = (d * scale[g]) * (q | h << 4) - dmin * min[g], g the 32-value group
void dequantize_q5_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const float dmin = fp16_to_fp32(b[i].dmin);
        const uint8_t* ql = b[i].qs;
        const uint8_t* qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int g = 0; g < 8; g += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(g, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(g + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; ++l)
                *dst++ = d1 * static_cast<float>((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *dst++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

// y = (d * scale[g]) * ((ql | qh << 4) - 32), g the 16-value group
void dequantize_q6_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ6_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const uint8_t* ql = b[i].ql;
        const uint8_t* qh = b[i].qh;
        const int8_t* sc = b[i].scales;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
            for (int l = 0; l < 32; ++l) {
                const int g = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * static_cast<float>(sc[g]) * static_cast<float>(q1);
                dst[l + 32] = d * static_cast<float>(sc[g + 2]) * static_cast<float>(q2);
                dst[l + 64] = d * static_cast<float>(sc[g + 4]) * static_cast<float>(q3);
                dst[l + 96] = d * static_cast<float>(sc[g + 6]) * static_cast<float>(q4);
            }
        }
    }
}

// y[j] = q[j] * d
void dequantize_q8_k(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
        for (int j = 0; j < kQKK; ++j) dst[j] = b[i].d * static_cast<float>(b[i].qs[j]);
    }
}

}  // namespace sinan::kernels::ref
