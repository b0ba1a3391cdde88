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

inline bool is_keep_all(Candidate cut) { return cut.token == kKeepAll.token && cut.logit == kKeepAll.logit; }

[[gnu::flatten]] Extremes extremes(const float* x, size_t n) {
    // Four pairs of running extremes: each vector's max and min wait only on the pair of four
    // vectors before (one pair would chain every compare to the last). Max and min are the same
    // whatever the order (a tie's sign of zero aside, which no later step can tell apart).
    const Floats neg_inf = splat(kNegInf);
    const Floats pos_inf = splat(-kNegInf);
    Floats hi[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
    Floats lo[4] = {pos_inf, pos_inf, pos_inf, pos_inf};
    auto add = [&](Floats& h, Floats& l, Floats a) {
        h = select(a > h, a, h);
        const Floats finite = select(a > neg_inf, a, pos_inf);  // banned tokens (-inf) are not the minimum
        l = select(finite < l, finite, l);
    };
    size_t i = 0;
    for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
        add(hi[0], lo[0], detail::load16(x + i));
        add(hi[1], lo[1], detail::load16(x + i + kLanes));
        add(hi[2], lo[2], detail::load16(x + i + 2 * kLanes));
        add(hi[3], lo[3], detail::load16(x + i + 3 * kLanes));
    }
    for (; i < n; i += kLanes) add(hi[0], lo[0], load_at(x, n, i, kNegInf));
    for (int k = 1; k < 4; ++k) {
        hi[0] = select(hi[k] > hi[0], hi[k], hi[0]);
        lo[0] = select(lo[k] < lo[0], lo[k], lo[0]);
    }
    return {detail::max_lane(hi[0]), -detail::max_lane(Floats{} - lo[0])};
}

// softmax_sums' loop; kStore: the weights are written, kSums: their block sums too. Not inlined:
// three forms inlined into one function left GCC's loop spilling its constants (20% slower).
template <bool kStore, bool kSums>
[[gnu::noinline, gnu::flatten]] SoftmaxSums softmax_pass(const float* x, size_t n, float max, float* w_out,
                                                         float* sums_out) {
    // With d = x - max and w = exp(d): z = sum w, s = sum w d. One exp per token. The draw's block
    // sums add the same w in block_sums' order (16 lanes a block of kDrawBlock, then sum16).
    static_assert(kSumBlock % kDrawBlock == 0 && kDrawBlock % kLanes == 0);
    const Floats vm = splat(max);
    const Floats zero{};
    double z = 0.0;
    double s = 0.0;
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t end = b + kSumBlock < n ? b + kSumBlock : n;
        Floats zs = zero;
        Floats ss = zero;
        for (size_t db = b; db < end; db += kDrawBlock) {
            const size_t db_end = db + kDrawBlock < end ? db + kDrawBlock : end;
            Floats block = zero;
            // 8 vectors at a time (their exps side by side: fast_exp16_n), then one at a time.
            size_t i = db;
            constexpr size_t kN = 8;
            for (; i + kN * kLanes <= db_end; i += kN * kLanes) {
                Floats d[kN], w[kN];
#pragma GCC unroll 8
                for (size_t k = 0; k < kN; ++k) d[k] = detail::load16(x + i + k * kLanes) - vm;
                detail::fast_exp16_n<kN>(d, w);
#pragma GCC unroll 8
                for (size_t k = 0; k < kN; ++k) {
                    if constexpr (kStore) detail::store16(w_out + i + k * kLanes, w[k]);
                    if constexpr (kSums) block += w[k];
                    zs += w[k];
                    ss += select(w[k] == zero, zero, w[k] * d[k]);
                }
            }
            for (; i < db_end; i += kLanes) {
                const Floats d = load_at(x, end, i, kNegInf) - vm;
                const Floats w = detail::fast_exp16(d);  // 0 past end (d = -inf there)
                if constexpr (kStore) store_first(w_out + i, end - i, w);
                if constexpr (kSums) block += w;
                zs += w;
                ss += select(w == zero, zero, w * d);  // a banned token has d = -inf: 0 * -inf would be NaN
            }
            if constexpr (kSums) sums_out[db / kDrawBlock] = detail::sum16(block);
        }
        z += detail::sum16(zs);
        s += detail::sum16(ss);
    }
    return {z, s};
}

SoftmaxSums softmax_sums(const float* x, size_t n, float max, float* w_out, float* sums_out) {
    if (w_out == nullptr) return softmax_pass<false, false>(x, n, max, nullptr, nullptr);
    return sums_out != nullptr ? softmax_pass<true, true>(x, n, max, w_out, sums_out)
                               : softmax_pass<true, false>(x, n, max, w_out, nullptr);
}

[[gnu::flatten]] size_t find_at_least(const float* x, size_t n, size_t from, float at_least) {
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

[[gnu::flatten]] void cut_weights(const float* x, size_t begin, size_t end, Candidate cut, float max, float inv_t,
                                  float* w) {
    const Floats vm = splat(max);
    const Floats vt = splat(inv_t);
    for (size_t i = begin; i < end; i += kLanes) {
        store_first(w + (i - begin), end - i, cut_weight16(x, end, i, cut, vm, vt));
    }
}

[[gnu::flatten]] void cut_weight_sums(const float* x, size_t n, Candidate cut, float max, float inv_t, size_t block,
                                      float* sums) {
    const Floats vm = splat(max);
    const Floats vt = splat(inv_t);
    for (size_t b = 0, k = 0; b < n; b += block, ++k) {  // the adds of block_sums
        const size_t end = b + block < n ? b + block : n;
        Floats acc{};
        for (size_t i = b; i < end; i += kLanes) acc += cut_weight16(x, end, i, cut, vm, vt);
        sums[k] = detail::sum16(acc);
    }
}

// masses_beyond's sums over [b, end) for L limits added into acc; kAll: cut keeps every token that
// is not banned, whose weight is 0 already (exp(-inf)), so no lane needs the cut's test.
template <size_t L, bool kAll>
inline void add_masses(const float* x, const float* w, size_t b, size_t end, Candidate cut, Floats vm, float scale,
                       const Floats* lim, Floats* acc) {
    for (size_t i = b; i < end; i += kLanes) {
        const Floats l = load_at(x, end, i, kNegInf);
        Floats wk = load_at(w, end, i, 0.0f);
        if constexpr (!kAll) wk = select(kept_by(l, detail::iota16(static_cast<int32_t>(i)), cut), wk, Floats{});
        const Floats scaled = (vm - l) * scale;
        for (size_t j = 0; j < L; ++j) acc[j] = detail::add_where_at_least(acc[j], scaled, lim[j], wk);
    }
}

// masses_beyond for L limits (limits[0, n_limits), the rest of the L lanes repeat limits[0]).
template <size_t L>
[[gnu::flatten]] void masses_beyond_of(const float* x, const float* w, size_t n, Candidate cut, float max, float scale,
                                       const float* limits, size_t n_limits, double* mass) {
    // L masked sums of the same weights, in float lanes per block of kSumBlock (as softmax_sums),
    // the blocks in double: each sum the same bits whatever the other limits are.
    const Floats vm = splat(max);
    Floats lim[L];
    double total[L] = {};
    for (size_t j = 0; j < L; ++j) lim[j] = splat(limits[j < n_limits ? j : 0]);
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t end = b + kSumBlock < n ? b + kSumBlock : n;
        Floats acc[L] = {};
        if (is_keep_all(cut))
            add_masses<L, true>(x, w, b, end, cut, vm, scale, lim, acc);
        else
            add_masses<L, false>(x, w, b, end, cut, vm, scale, lim, acc);
        for (size_t j = 0; j < L; ++j) total[j] += detail::sum16(acc[j]);
    }
    for (size_t j = 0; j < n_limits; ++j) mass[j] = total[j];
}

void masses_beyond(const float* x, const float* w, size_t n, Candidate cut, float max, float scale, const float* limits,
                   size_t n_limits, double* mass) {
    if (n_limits <= 2)
        masses_beyond_of<2>(x, w, n, cut, max, scale, limits, n_limits, mass);
    else
        masses_beyond_of<kMassLimits>(x, w, n, cut, max, scale, limits, n_limits, mass);
}

// collect's loop; kAll: cut keeps every token that is not banned.
template <bool kAll>
[[gnu::flatten]] size_t collect_kept(const float* x, size_t n, Candidate cut, float max, float scale, int32_t bucket,
                                     Candidate* out) {
    const Floats vm = splat(max);
    const Floats from = splat(static_cast<float>(bucket));
    const Floats to = splat(static_cast<float>(bucket + 1));
    const bool last_bucket = bucket == kMassBuckets - 1;
    size_t m = 0;
    for (size_t i = 0; i < n; i += kLanes) {
        const Floats l = load_at(x, n, i, kNegInf);
        const Ints ids = detail::iota16(static_cast<int32_t>(i));
        Ints sel = kAll ? l > splat(kNegInf) : kept_by(l, ids, cut);  // never a lane past n: its logit is -inf
        if (bucket >= 0) {  // bucket b: b <= scaled < b + 1 (the last one: no upper bound)
            const Floats scaled = (vm - l) * scale;
            sel &= last_bucket ? scaled >= from : (scaled >= from) & (scaled < to);
        }
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

size_t collect(const float* x, size_t n, Candidate cut, float max, float scale, int32_t bucket, Candidate* out) {
    // Selections are computed as vectors; a vector with a selected lane is packed into out
    // (compress_pairs). It may write 16 candidates past the m so far: out has room for n and
    // m <= i, so a whole vector fits; the last, partial one is packed into a buffer first.
    static_assert(sizeof(Candidate) == 8 && offsetof(Candidate, token) == 4, "compress_pairs' layout");
    return is_keep_all(cut) ? collect_kept<true>(x, n, cut, max, scale, bucket, out)
                            : collect_kept<false>(x, n, cut, max, scale, bucket, out);
}

[[gnu::flatten]] void block_sums(const float* w, size_t n, size_t block, float* sums) {
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
    .masses_beyond = masses_beyond,
    .collect = collect,
    .block_sums = block_sums,
};

}  // namespace sinan::sampling::SINAN_PASSES_NS
