// Scalar quantizers for the plain and 32-value block types. They reproduce GGML's reference
// quantizers operation for operation (same scale, same rounding, same clamping), so a model
// quantized here is byte-identical to one quantized by llama.cpp without an importance matrix.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/half.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

namespace {

// The value of largest magnitude in x[0..n), with its sign (the first one on ties).
float signed_absmax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, int n, float* min, float* max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

}  // namespace

// y[i] = x[i]
void quantize_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

// y[i] = fp16(x[i]), round to nearest even
void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(src[i]);
}

// y[i] = bf16(x[i]), round to nearest even
void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(src[i]);
}

// d = max / -8 (max: the value of largest magnitude), q = min(15, trunc(x / d + 8.5))
void quantize_q4_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        const float d = signed_absmax(src, kQK) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK / 2; ++j) {
            const int q0 = std::min(15, static_cast<int>(src[j] * id + 8.5f));
            const int q1 = std::min(15, static_cast<int>(src[j + kQK / 2] * id + 8.5f));
            b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

// d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5))
void quantize_q4_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float min, max;
        min_max(src, kQK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        b[i].m = fp32_to_fp16(min);
        for (int j = 0; j < kQK / 2; ++j) {
            const int q0 = std::min(15, static_cast<int>((src[j] - min) * id + 0.5f));
            const int q1 = std::min(15, static_cast<int>((src[j + kQK / 2] - min) * id + 0.5f));
            b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

// d = max / -16, q = min(31, trunc(x / d + 16.5)); low nibbles in qs, fifth bits in qh
void quantize_q5_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ5_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        const float d = signed_absmax(src, kQK) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const int q0 = std::min(31, static_cast<int>(src[j] * id + 16.5f));
            const int q1 = std::min(31, static_cast<int>(src[j + kQK / 2] * id + 16.5f));
            b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK / 2);
        }
        std::memcpy(b[i].qh, &qh, sizeof(qh));
    }
}

// d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5)
void quantize_q5_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ5_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float min, max;
        min_max(src, kQK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        b[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            // No clamp, as in GGML: (max - min) * id + 0.5 stays below 32.
            const int q0 = static_cast<uint8_t>((src[j] - min) * id + 0.5f);
            const int q1 = static_cast<uint8_t>((src[j + kQK / 2] - min) * id + 0.5f);
            b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
            qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + kQK / 2);
        }
        std::memcpy(b[i].qh, &qh, sizeof(qh));
    }
}

// d = max|x| / 127, q = round(x / d) (halves away from zero)
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::round(src[j] * id));
    }
}

// Q8_0 for activations, as GGML's SIMD CPU quantizer (the one its matmul uses) computes it:
// d = amax / 127, q = round(x * (127 / amax)) with ties to even. quantize_q8_0 (GGML's reference,
// used for files) differs only where x / d falls on or next to a half.
void quantize_q8_0_activations(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
        b[i].d = fp32_to_fp16(amax / 127.f);
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyint(src[j] * id));
    }
}

}  // namespace sinan::kernels::ref
