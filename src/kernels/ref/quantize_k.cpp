// Scalar quantizers for the K types (256-value super-blocks). Each reproduces GGML's reference
// quantizer without an importance matrix, operation for operation and in the same float order:
// the per-group scale searches are greedy and sensitive to the last bit, and byte-identical
// output is what lets tests compare against files llama.cpp wrote.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/half.h"
#include "kernels/ref/k_scales.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels::ref {

namespace {

// Scales of groups whose largest |x| is below this are treated as zero.
constexpr float kGroupMaxEps = 1e-15f;

// round(f), ties to even, for |f| < 2^22: adding 1.5 * 2^23 leaves the rounded integer in the
// low mantissa bits.
inline int nearest_int(float f) {
    const float v = f + 12582912.f;
    int32_t i;
    std::memcpy(&i, &v, sizeof(i));
    return (i & 0x007fffff) - 0x00400000;
}

// Symmetric quantization of x[0..n) to L[i] in [0, 2*nmax) (stored as l + nmax) with weights
// w = x^2: tries the scales -max/(nmax + 0.1*is), is = -9..9, and keeps the one that maximises
// (sum w*x*l)^2 / sum w*l*l (least-squares fit). Returns the scale: x ~= scale * (L - nmax).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, 0);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Symmetric 3-bit quantization (L in [0, 8), stored as l + nmax) refined by coordinate descent
// on the weighted (w = x^2) least-squares error, up to 5 sweeps. Returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, 0);
        return 0.f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                const int new_l = std::max(-nmax, std::min(nmax - 1, nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = static_cast<int8_t>(new_l);
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (n_changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric quantization x ~= scale * L - the_min, L in [0, nmax], min <= 0: starting from the
// min/max grid, tries nstep+1 grids (nmax + rmin + rdelta*is) / (max - min) and keeps the
// weighted least-squares fit with the smallest weighted error (|diff| if use_mad, else diff^2).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, 0);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
            Laux[i] = static_cast<uint8_t>(l);
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? std::fabs(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                std::copy(Laux, Laux + n, L);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// Packs 6-bit scale `ls` and min `lm` of group j (0..7) into a Q4_K/Q5_K scales array.
void put_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* s) {
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = static_cast<uint8_t>((ls & 0xf) | ((lm & 0xf) << 4));
        s[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        s[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
}

// Finds 8 (scale, min) pairs of a 256-value super-block with make_qkx2_quants (weights
// sqrt(mean x^2) + |x|), stores them as 6-bit multiples of d = max scale / 63 and
// dmin = max min / 63, then requantizes every value against the stored scales:
// x ~= d * sc * L - dmin * m with L in [0, nmax]. Used by Q4_K (nmax 15) and Q5_K (nmax 31).
void quantize_k4_scales(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* scales_out,
                        uint16_t* d_out, uint16_t* dmin_out, uint8_t* L) {
    uint8_t Laux[32];
    float weights[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta,
                                     nstep, false);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::memset(scales_out, 0, 12);
    for (int j = 0; j < 8; ++j) {
        const auto ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
        const auto lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
        put_scale_min_k4(j, std::min<uint8_t>(63, ls), std::min<uint8_t>(63, lm), scales_out);
    }
    *d_out = fp32_to_fp16(max_scale / 63.f);
    *dmin_out = fp32_to_fp16(max_min / 63.f);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales_out, &sc, &m);
        const float d = fp16_to_fp32(*d_out) * sc;
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(*dmin_out) * m;
        for (int ii = 0; ii < 32; ++ii) {
            const int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
        }
    }
}

}  // namespace

// 16 groups of 16: x ~= (d * sc) * L - (dmin * m), sc and m 4-bit, L 2-bit
void quantize_q2_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ2_K*>(dst);
    uint8_t L[kQKK], Laux[16];
    float weights[16], mins[16], scales[16];
    constexpr float kQ4Scale = 15.f;
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        const float* x = src;
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        if (max_scale > 0) {
            const float iscale = kQ4Scale / max_scale;
            for (int j = 0; j < 16; ++j) b[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
            b[i].d = fp32_to_fp16(max_scale / kQ4Scale);
        } else {
            std::memset(b[i].scales, 0, sizeof(b[i].scales));
            b[i].d = fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            const float iscale = kQ4Scale / max_min;
            for (int j = 0; j < 16; ++j) b[i].scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
            b[i].dmin = fp32_to_fp16(max_min / kQ4Scale);
        } else {
            b[i].dmin = fp32_to_fp16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const float d = fp16_to_fp32(b[i].d) * (b[i].scales[j] & 0xf);
            if (d == 0.0f) continue;
            const float dm = fp16_to_fp32(b[i].dmin) * (b[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, nearest_int((x[16 * j + ii] + dm) / d))));
        }
        for (int j = 0; j < kQKK; j += 128)
            for (int l = 0; l < 32; ++l)
                b[i].qs[j / 4 + l] =
                    static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

// 16 groups of 16: x ~= (d * (sc - 32)) * (L - 4), sc 6-bit, L 3-bit (2 in qs, 1 in hmask)
void quantize_q3_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ3_K*>(dst);
    int8_t L[kQKK];
    float scales[16];
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        const float* x = src;
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            const float scale = std::fabs(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        std::memset(b[i].scales, 0, sizeof(b[i].scales));
        if (max_scale != 0.0f) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; ++j) {
                const int l = std::max(-32, std::min(31, static_cast<int>(static_cast<int8_t>(
                                                             nearest_int(iscale * scales[j]))))) +
                              32;
                if (j < 8)
                    b[i].scales[j] = static_cast<uint8_t>(l & 0xf);
                else
                    b[i].scales[j - 8] |= static_cast<uint8_t>((l & 0xf) << 4);
                b[i].scales[j % 4 + 8] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
            }
            b[i].d = fp32_to_fp16(1 / iscale);
        } else {
            b[i].d = fp32_to_fp16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const int low = j < 8 ? (b[i].scales[j] & 0xf) : (b[i].scales[j - 8] >> 4);
            const int sc = (low | (((b[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            const float d = fp16_to_fp32(b[i].d) * sc;
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, nearest_int(x[16 * j + ii] / d))) + 4);
        }
        // High bit of value j goes to bit (j / 32) of hmask[j % 32].
        std::memset(b[i].hmask, 0, sizeof(b[i].hmask));
        for (int j = 0; j < kQKK; ++j) {
            if (L[j] > 3) {
                b[i].hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
                L[j] = static_cast<int8_t>(L[j] - 4);
            }
        }
        for (int j = 0; j < kQKK; j += 128)
            for (int l = 0; l < 32; ++l)
                b[i].qs[j / 4 + l] =
                    static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

// 8 groups of 32: x ~= (d * sc) * L - (dmin * m), sc and m 6-bit, L 4-bit
void quantize_q4_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_K*>(dst);
    uint8_t L[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        quantize_k4_scales(src, 15, -1.f, 0.1f, 20, b[i].scales, &b[i].d, &b[i].dmin, L);
        uint8_t* q = b[i].qs;
        for (int j = 0; j < kQKK; j += 64, q += 32)
            for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

// 8 groups of 32: x ~= (d * sc) * L - (dmin * m), sc and m 6-bit, L 5-bit (4 in qs, 1 in qh)
void quantize_q5_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ5_K*>(dst);
    uint8_t L[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        quantize_k4_scales(src, 31, -0.5f, 0.1f, 15, b[i].scales, &b[i].d, &b[i].dmin, L);
        uint8_t* qh = b[i].qh;
        uint8_t* ql = b[i].qs;
        std::memset(qh, 0, sizeof(b[i].qh));
        uint8_t m1 = 1, m2 = 2;
        for (int j0 = 0; j0 < kQKK; j0 += 64, m1 <<= 2, m2 <<= 2, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[j0 + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                int l2 = L[j0 + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
            }
        }
    }
}

// 16 groups of 16: x ~= (d * sc) * (L - 32), sc int8, L 6-bit (4 in ql, 2 in qh)
void quantize_q6_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ6_K*>(dst);
    int8_t L[kQKK];
    float scales[16];
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        const float* x = src;
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ++ib) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            const float abs_scale = std::fabs(scales[ib]);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < kGroupMaxEps) {
            std::memset(&b[i], 0, sizeof(b[i]));
            continue;
        }
        const float iscale = -128.f / max_scale;
        b[i].d = fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ++ib) b[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
        for (int j = 0; j < 16; ++j) {
            const float d = fp16_to_fp32(b[i].d) * b[i].scales[j];
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, nearest_int(x[16 * j + ii] / d))) + 32);
        }
        uint8_t* ql = b[i].ql;
        uint8_t* qh = b[i].qh;
        for (int j = 0; j < kQKK; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf;
                const int q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
                ql[l] = static_cast<uint8_t>(q1 | (q3 << 4));
                ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
                qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                             ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

// Q8_K, the activation format of the K-quant dot products (GGML's quantize_row_q8_K):
// d = -max / 127 with max the value of largest magnitude (signed, the first on ties),
// q = min(127, round(x / d)) ties to even, bsums = sums of 16 consecutive q. max itself maps to
// -127; its negation, if present, would be +127 -- hence the clamp.
void quantize_q8_k(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_K*>(dst);
    for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
        float max = 0, amax = 0;
        for (int j = 0; j < kQKK; ++j) {
            const float ax = std::fabs(src[j]);
            if (ax > amax) {
                amax = ax;
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(&b[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < kQKK; ++j) b[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * src[j])));
        for (int g = 0; g < kQKK / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += b[i].qs[16 * g + j];
            b[i].bsums[g] = static_cast<int16_t>(sum);
        }
        b[i].d = 1 / iscale;
    }
}

}  // namespace sinan::kernels::ref
