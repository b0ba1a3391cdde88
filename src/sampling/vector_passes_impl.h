// The passes of vector_passes.h, written once and compiled once per instruction set: a file
// defines SINAN_PASSES_NS (the namespace of its table) and includes this, which defines
// `const VectorPasses kTable` there. Private to src/sampling. Includes no header with inline
// functions (see fast_exp.h): the AVX-512 copy must not replace anything the baseline code uses.
#include "sampling/fast_exp.h"
#include "sampling/vector_passes.h"

#ifndef SINAN_PASSES_NS
#error "define SINAN_PASSES_NS before including vector_passes_impl.h"
#endif

namespace sinan::sampling::SINAN_PASSES_NS {
namespace {

using detail::Floats;
using detail::Ints;
using detail::kLanes;
using detail::select;
using detail::splat;

constexpr size_t kSumBlock = 1024;  // softmax_sums: float lanes per block, then double
constexpr float kNegInf = -__builtin_inff();

// Lanes i..i+15 of x, `fill` past n.
inline Floats load_at(const float* x, size_t n, size_t i, float fill) {
    return i + kLanes <= n ? detail::load16(x + i) : detail::load_partial(x + i, n - i, fill);
}

// The first min(16, lanes) lanes of v written to p.
inline void store_first(float* p, size_t lanes, Floats v) {
    if (lanes >= kLanes) {
        detail::store16(p, v);
    } else {
        for (size_t j = 0; j < lanes; ++j) p[j] = v[j];
    }
}

inline Ints kept_by(Floats l, Ints ids, Candidate cut) {
    const Ints ranked = (l > splat(cut.logit)) | ((l == splat(cut.logit)) & (ids <= detail::splat_int(cut.token)));
    return ranked & (l > splat(kNegInf));  // a banned token is never kept
}

inline Ints bucket_of(Floats l, float max, float scale) {
    const Floats scaled = (splat(max) - l) * scale;
    return select(scaled < splat(static_cast<float>(kMassBuckets - 1)), detail::to_ints(scaled),
                  detail::splat_int(kMassBuckets - 1));
}

Extremes extremes(const float* x, size_t n) {
    const Floats neg_inf = splat(kNegInf);
    const Floats pos_inf = splat(-kNegInf);
    Floats hi = neg_inf;
    Floats lo = pos_inf;
    for (size_t i = 0; i < n; i += kLanes) {
        const Floats a = load_at(x, n, i, kNegInf);
        hi = select(a > hi, a, hi);
        lo = select((a < lo) & (a > neg_inf), a, lo);  // banned tokens (-inf) are not the minimum
    }
    return {detail::max_lane(hi), -detail::max_lane(Floats{} - lo)};
}

SoftmaxSums softmax_sums(const float* x, size_t n, float max, float* w_out) {
    // With d = x - max and w = exp(d): z = sum w, s = sum w d. One exp per token.
    const Floats vm = splat(max);
    const Floats zero{};
    double z = 0.0;
    double s = 0.0;
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t end = b + kSumBlock < n ? b + kSumBlock : n;
        Floats zs = zero;
        Floats ss = zero;
        for (size_t i = b; i < end; i += kLanes) {
            const Floats d = load_at(x, end, i, kNegInf) - vm;
            const Floats w = detail::fast_exp16(d);
            store_first(w_out + i, end - i, w);
            zs += w;
            ss += select(w == zero, zero, w * d);  // a banned token has d = -inf: 0 * -inf would be NaN
        }
        z += detail::sum16(zs);
        s += detail::sum16(ss);
    }
    return {z, s};
}

size_t find_at_least(const float* x, size_t n, size_t from, float at_least) {
    // Four vectors per test of the lanes: the test is a chain of shuffles, the compares are not.
    const Floats t = splat(at_least);
    size_t i = from;
    for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
        const Ints hit = ((detail::load16(x + i) >= t) | (detail::load16(x + i + kLanes) >= t)) |
                         ((detail::load16(x + i + 2 * kLanes) >= t) | (detail::load16(x + i + 3 * kLanes) >= t));
        if (detail::any_lane(hit)) break;
    }
    for (; i < n; ++i) {
        if (x[i] >= at_least) return i;
    }
    return n;
}

// The draw's weights of lanes i..i+15 (0 past end).
inline Floats cut_weight16(const float* x, size_t end, size_t i, Candidate cut, Floats vm, Floats vt) {
    const Floats l = load_at(x, end, i, kNegInf);
    const Floats e = detail::fast_exp16((l - vm) * vt);
    return select(kept_by(l, detail::iota16(static_cast<int32_t>(i)), cut), e, Floats{});
}

void cut_weights(const float* x, size_t begin, size_t end, Candidate cut, float max, float inv_t, float* w) {
    const Floats vm = splat(max);
    const Floats vt = splat(inv_t);
    for (size_t i = begin; i < end; i += kLanes) {
        store_first(w + (i - begin), end - i, cut_weight16(x, end, i, cut, vm, vt));
    }
}

void cut_weight_sums(const float* x, size_t n, Candidate cut, float max, float inv_t, size_t block, float* sums) {
    const Floats vm = splat(max);
    const Floats vt = splat(inv_t);
    for (size_t b = 0, k = 0; b < n; b += block, ++k) {  // the adds of block_sums
        const size_t end = b + block < n ? b + block : n;
        Floats acc{};
        for (size_t i = b; i < end; i += kLanes) acc += cut_weight16(x, end, i, cut, vm, vt);
        sums[k] = detail::sum16(acc);
    }
}

void mass_histogram(const float* x, const float* w, size_t n, Candidate cut, float max, float scale, double* mass,
                    double* scratch) {
    // Lane j of every vector adds into its own histogram (scratch[bucket * 16 + j]): sixteen
    // independent chains of memory adds, where one histogram would wait on the previous add
    // whenever neighbouring tokens share a bucket (on a flat distribution, nearly always); and a
    // vector's 16 slots are distinct, as add_to_slots' gathers and scatters need.
    // The vector part fills a chunk of weights and slots first, then add_to_slots adds them up:
    // reading a lane right after its vector was stored would stall on store forwarding. A chunk
    // whose tokens all lie in the last bucket (most of a language model's vocabulary) is added in
    // vector lanes instead, then to double.
    for (size_t k = 0; k < kLanes * kMassBuckets; ++k) scratch[k] = 0.0;
    constexpr size_t kChunk = 512;
    const Ints last = detail::splat_int(kMassBuckets - 1);
    float wl[kChunk];
    int32_t slot[kChunk];  // bucket * 16 + lane
    double far = 0.0;
    for (size_t c = 0; c < n; c += kChunk) {
        const size_t end = c + kChunk < n ? c + kChunk : n;
        Floats far_lanes{};
        Ints near{};
        for (size_t i = c; i < end; i += kLanes) {
            const Floats l = load_at(x, n, i, kNegInf);
            const Floats wk =
                select(kept_by(l, detail::iota16(static_cast<int32_t>(i)), cut), load_at(w, n, i, 0.0f), Floats{});
            const Ints b = bucket_of(l, max, scale);
            far_lanes += wk;
            near = near | select(b == last, detail::splat_int(0), detail::splat_int(-1));
            detail::store16(wl + (i - c), wk);
            detail::store16(slot + (i - c), (b << 4) + detail::iota16(0));
        }
        if (!detail::any_lane(near)) {  // every token of the chunk in the last bucket
            far += detail::sum16(far_lanes);
            continue;
        }
        const size_t lanes = (end - c + kLanes - 1) / kLanes * kLanes;  // a partial vector's last lanes add 0
        detail::add_to_slots(scratch, slot, wl, lanes);
    }
    for (int32_t b = 0; b < kMassBuckets; ++b) {  // the lanes added as a tree, as sum16 does
        double t[kLanes];
        for (size_t j = 0; j < kLanes; ++j) t[j] = scratch[static_cast<size_t>(b) * kLanes + j];
        for (size_t width = kLanes / 2; width > 0; width /= 2) {
            for (size_t j = 0; j < width; ++j) t[j] += t[j + width];
        }
        mass[b] = t[0];
    }
    mass[kMassBuckets - 1] += far;
}

size_t collect(const float* x, size_t n, Candidate cut, float max, float scale, int32_t bucket, Candidate* out) {
    // Selections are computed as vectors; a vector with a selected lane is packed into out
    // (compress_pairs). It may write 16 candidates past the m so far: out has room for n and
    // m <= i, so a whole vector fits; the last, partial one is packed into a buffer first.
    static_assert(sizeof(Candidate) == 8 && offsetof(Candidate, token) == 4, "compress_pairs' layout");
    size_t m = 0;
    for (size_t i = 0; i < n; i += kLanes) {
        const Floats l = load_at(x, n, i, kNegInf);
        const Ints ids = detail::iota16(static_cast<int32_t>(i));
        Ints sel = kept_by(l, ids, cut);  // never a lane past n: its logit is -inf
        if (bucket >= 0) sel &= bucket_of(l, max, scale) == detail::splat_int(bucket);
        if (!detail::any_lane(sel)) continue;
        if (i + kLanes <= n) {
            m += detail::compress_pairs(sel, l, ids, out + m);
        } else {
            Candidate last[kLanes];
            const size_t k = detail::compress_pairs(sel, l, ids, last);
            for (size_t j = 0; j < k; ++j) out[m + j] = last[j];
            m += k;
        }
    }
    return m;
}

void block_sums(const float* w, size_t n, size_t block, float* sums) {
    for (size_t b = 0, k = 0; b < n; b += block, ++k) {
        const size_t end = b + block < n ? b + block : n;
        Floats acc{};
        for (size_t i = b; i < end; i += kLanes) acc += load_at(w, end, i, 0.0f);
        sums[k] = detail::sum16(acc);
    }
}

}  // namespace

extern const VectorPasses kTable;
const VectorPasses kTable = {
    .name = SINAN_PASSES_NAME,
    .extremes = extremes,
    .softmax_sums = softmax_sums,
    .find_at_least = find_at_least,
    .cut_weights = cut_weights,
    .cut_weight_sums = cut_weight_sums,
    .mass_histogram = mass_histogram,
    .collect = collect,
    .block_sums = block_sums,
};

}  // namespace sinan::sampling::SINAN_PASSES_NS
